//! The benchmark's output: one JSON row per size (the field names `docs/performance.md`
//! explains), and the same figures as a table.

use serde_json::{Value, json};

use super::{CYCLE, DrainResult, POLL_INTERVAL_S, PlanMeasure, PoolResult, Result};

/// The run with backend rules and certificates on (`features_*`).
pub fn backend_sg_fields(b: &super::backend_sg::BackendSgResult) -> serde_json::Map<String, Value> {
    let fields = json!({
        "features_steady_extra_reads": b.steady_extra_reads,
        "features_steady_extra_reads_budget": b.steady_extra_reads_budget,
        "features_steady_extra_reads_by_op": b.steady_extra_reads_by_op,
        "features_sg_rules_listed": b.rules,
        "features_sg_rules_created": b.rules_created,
        "features_https_listeners": b.https_listeners,
        "features_certificates_attached": b.certificates_attached,
        "features_steady_writes": b.steady_writes,
        "features_cycle_extra_reads_by_op": b.cycle_extra_reads_by_op,
        "features_cycle_extra_reads": b.cycle_extra_reads_by_op.values().sum::<usize>(),
        "features_cycle_writes": b.cycle_writes,
        "features_cold_start_alb_s": b.cold_start_alb_s,
    });
    match fields {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// One size's row (without the planning figures, measured once per run).
pub fn row(
    r: &Result,
    pool: Option<&PoolResult>,
    drain: Option<&DrainResult>,
    wall_s: f64,
) -> Value {
    let ops: serde_json::Map<String, Value> = r
        .steady_reads_by_op
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    let mut row = json!({
        "services": r.services,
        "cold_start_s": r.cold_start_s,
        "cold_start_alb_s": r.cold_start_alb_s,
        "cold_start_floor_s": r.cold_start_floor_s,
        "cold_start_passes": r.cold_start_passes,
        "throttled": r.throttled,
        "steady_reads": r.steady_reads,
        "steady_reads_floor": r.steady_reads_floor,
        "steady_reads_by_op": ops,
        "steady_writes": r.steady_writes,
        "cpu_ms_per_pass": r.cpu_ms_per_pass,
        "publish_one_writes": r.publish_one_writes,
        "publish_one_s": r.publish_one_s,
        "publish_one_served_s": r.publish_one_served_s,
        "peak_rss_mib": r.peak_rss_mib,
        "estate_rss_mib": r.estate_rss_mib,
        "pool_albs": pool.map(|p| p.albs),
        "pool_cold_start_s": pool.map(|p| p.cold_start_s),
        "pool_cold_start_floor_s": pool.map(|p| p.cold_start_floor_s),
        "pool_steady_reads": pool.map(|p| p.steady_reads),
        "pool_steady_reads_floor": pool.map(|p| p.steady_reads_floor),
        "pool_steady_writes": pool.map(|p| p.steady_writes),
        "drain_moved_services": drain.map(|d| d.moved),
        "drain_writes_per_service": drain.map(|d| d.writes_per_service),
        "drain_s": drain.map(|d| d.seconds),
        "wall_s": wall_s,
        "event_publish_s": r.event_publish_s,
        "event_publish_calls": r.event_publish_calls,
        "reads_per_hour_polling": r.reads_per_hour_polling,
        "reads_per_hour_events": r.reads_per_hour_events,
        "reads_per_hour_polling_nominal": r.cycle_reads as f64 * 3600.0 / (CYCLE as f64 * POLL_INTERVAL_S),
        "cycle_reads": r.cycle_reads,
        "events_cycle_passes": r.events_cycle_passes,
        "cycle_passes_s": r.cycle_passes_s,
        "bucket_share_polling": r.bucket_share_polling,
        "bucket_share_events": r.bucket_share_events,
    });
    // The process's own cost ("Lean at 10,000 services").
    let lean = json!({
        "controller_rss_mib": r.peak_rss_mib - r.estate_rss_mib,
        // Less what the fake holds by the end beyond the estate it started with: mostly the
        // groups, rules and records the controller created, which live in AWS, not in the
        // controller (besides the two services added after the estate was measured). An
        // estimate: the fake's growth is counted by its heap, as RSS cannot be split by
        // owner.
        "controller_rss_own_mib": r.peak_rss_mib
            - r.estate_rss_mib
            - (r.heap_fake_mib - r.heap_estate_mib).max(0.0),
        // The other bound: less the in-memory AWS's whole RSS at the end, measured alone
        // (the controller dropped, free pages returned), fragmentation included. It
        // assumes the fake held by the peak what it holds at the end (it only grows in a
        // run), and it counts a page that held both the fake's and the controller's
        // allocations as the fake's: a lower estimate where `controller_rss_own_mib` is a
        // higher one.
        "fake_rss_mib": r.fake_rss_mib,
        "controller_rss_above_fake_mib": r.peak_rss_mib - r.fake_rss_mib,
        "heap_peak_mib": r.heap_peak_mib,
        "heap_estate_mib": r.heap_estate_mib,
        "heap_fake_mib": r.heap_fake_mib,
        "heap_controller_held_mib": r.heap_controller_held_mib,
        "heap_controller_steady_peak_mib": r.heap_controller_steady_peak_mib,
        "heap_controller_cold_peak_mib": r.heap_controller_cold_peak_mib,
        "controller_cpu_ms_per_pass": r.controller_cpu_ms_per_pass,
        "cpu_us_per_service": r.controller_cpu_ms_per_pass * 1000.0 / r.services as f64,
        "bucket_share_events_max": r
            .bucket_share_events
            .values()
            .copied()
            .fold(0.0_f64, f64::max),
    });
    if let (Some(row), Some(lean)) = (row.as_object_mut(), lean.as_object()) {
        row.extend(lean.clone());
    }
    row
}

/// The planning figures, added to every row.
pub fn plan_fields(cold: &PlanMeasure, converged: &PlanMeasure) -> Value {
    json!({
        "plan_10k_ms": cold.ms.max(converged.ms),
        "plan_10k_cold_ms": cold.ms,
        "plan_10k_converged_ms": converged.ms,
        "plan_10k_heap_bytes_per_service": {
            "cold": cold.heap,
            "converged": converged.heap,
        },
        "plan_10k_allocations_per_service": {
            "cold": cold.allocations,
            "converged": converged.allocations,
        },
    })
}

fn f(row: &Value, key: &str) -> f64 {
    row[key].as_f64().unwrap_or(f64::NAN)
}

/// A field as text (a JSON value's own formatting ignores widths).
fn t(row: &Value, key: &str) -> String {
    row[key].to_string()
}

/// `--steady-only`: one line per size.
pub fn print_steady(row: &Value) {
    println!(
        "N = {}: CPU per steady pass {:.1} ms (median), the controller's own {:.1} ms, {:.1} µs per service; controller heap: held {:.1} MiB, peak {:.1} MiB steady, {:.1} MiB cold; wall {:.0} s",
        t(row, "services"),
        f(row, "cpu_ms_per_pass"),
        f(row, "controller_cpu_ms_per_pass"),
        f(row, "cpu_us_per_service"),
        f(row, "heap_controller_held_mib"),
        f(row, "heap_controller_steady_peak_mib"),
        f(row, "heap_controller_cold_peak_mib"),
        f(row, "wall_s"),
    );
}

/// The rows as a table, a few lines per size.
pub fn print_table(rows: &[Value], plan: &Value, plan_wall_s: f64) {
    println!(
        "{:>6} {:>10} {:>10} {:>8} {:>6} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9}",
        "N",
        "cold s",
        "ALB side s",
        "floor s",
        "passes",
        "throttled",
        "reads",
        "floor",
        "writes",
        "cpu ms",
        "publish",
        "publish s",
        "served s",
        "peak MiB"
    );
    for r in rows {
        println!(
            "{:>6} {:>10.1} {:>10.1} {:>8.1} {:>6} {:>9} {:>7} {:>7} {:>7} {:>7.1} {:>8} {:>9.1} {:>9.1} {:>9.1}",
            t(r, "services"),
            f(r, "cold_start_s"),
            f(r, "cold_start_alb_s"),
            f(r, "cold_start_floor_s"),
            t(r, "cold_start_passes"),
            t(r, "throttled"),
            t(r, "steady_reads"),
            t(r, "steady_reads_floor"),
            t(r, "steady_writes"),
            f(r, "cpu_ms_per_pass"),
            t(r, "publish_one_writes"),
            f(r, "publish_one_s"),
            f(r, "publish_one_served_s"),
            f(r, "peak_rss_mib"),
        );
        println!(
            "       estate alone {:.1} MiB; wall {:.0} s; steady reads by operation: {}",
            f(r, "estate_rss_mib"),
            f(r, "wall_s"),
            r["steady_reads_by_op"]
        );
        println!(
            "       controller: CPU {:.1} ms per steady pass ({:.1} µs per service); RSS {:.1} MiB beyond the estate, {:.1} MiB without the fake's growth, {:.1} MiB above the fake's own RSS; heap held {:.1} MiB, peak {:.1} MiB steady, {:.1} MiB cold",
            f(r, "controller_cpu_ms_per_pass"),
            f(r, "cpu_us_per_service"),
            f(r, "controller_rss_mib"),
            f(r, "controller_rss_own_mib"),
            f(r, "controller_rss_above_fake_mib"),
            f(r, "heap_controller_held_mib"),
            f(r, "heap_controller_steady_peak_mib"),
            f(r, "heap_controller_cold_peak_mib"),
        );
        println!(
            "       event publish {:.2} s / {} calls; reads per hour {:.0} polling, {:.0} with events; bucket shares polling {}, with events {}",
            f(r, "event_publish_s"),
            t(r, "event_publish_calls"),
            f(r, "reads_per_hour_polling"),
            f(r, "reads_per_hour_events"),
            r["bucket_share_polling"],
            r["bucket_share_events"],
        );
        println!(
            "       pool from one ALB: {} ALBs, ALB side {:.1} s (floor {:.1} s), steady reads {} (floor {}), writes {}",
            t(r, "pool_albs"),
            f(r, "pool_cold_start_s"),
            f(r, "pool_cold_start_floor_s"),
            t(r, "pool_steady_reads"),
            t(r, "pool_steady_reads_floor"),
            t(r, "pool_steady_writes"),
        );
        if !r["drain_s"].is_null() {
            println!(
                "       drain of one ALB of ten: {} services moved, {:.1} writes each, {:.0} s",
                t(r, "drain_moved_services"),
                f(r, "drain_writes_per_service"),
                f(r, "drain_s"),
            );
        }
    }
    println!(
        "planning 10,000 services: {:.0} ms cold, {:.0} ms converged ({plan_wall_s:.0} s in all); heap per service (bytes) {}; allocations per service {}",
        f(plan, "plan_10k_cold_ms"),
        f(plan, "plan_10k_converged_ms"),
        plan["plan_10k_heap_bytes_per_service"],
        plan["plan_10k_allocations_per_service"],
    );
}
