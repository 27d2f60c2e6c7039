//! Scale benchmark on the in-memory AWS with AWS's token buckets enforced, on virtual time.
//!
//! `cargo run --release --example scale -- 100 1000 [--json]`
//!
//! For each N: N tagged services (as many ALBs as the 100-target-group quota needs), cold
//! start to convergence (virtual seconds, against the floor of ELBv2 mutating calls), one
//! steady pass (reads by operation, writes), and publishing one more service (writes).

use std::collections::BTreeMap;

use ecs_ingress::fake::Estate;
use ecs_ingress::fake::estate::listener_name;

/// Services per ALB: 100 target groups per ALB, one taken by the listener's default group.
const PER_ALB: usize = 98;

struct Result {
    services: usize,
    cold_start_s: f64,
    cold_start_floor_s: f64,
    cold_start_passes: usize,
    throttled: usize,
    steady_reads: usize,
    steady_reads_by_op: BTreeMap<&'static str, usize>,
    steady_writes: usize,
    publish_one_writes: usize,
    publish_one_s: f64,
}

fn add(estate: &Estate, i: usize) {
    let host = format!("s{i}.in.example.com");
    let listener = listener_name(i / PER_ALB);
    estate.add_service(
        &format!("s{i}"),
        &[
            ("alb.host", host.as_str()),
            ("alb.listener", listener.as_str()),
        ],
        &[],
    );
}

async fn run(n: usize) -> Result {
    let estate = Estate::new(n.div_ceil(PER_ALB) + 1);
    estate.fake.enforce_rate_limits();
    for i in 0..n {
        add(&estate, i);
    }
    let controller = estate.controller();
    let started = tokio::time::Instant::now();
    let mut passes = 0;
    let mut converged_at = started;
    loop {
        let before = estate.fake.writes();
        controller.pass(true).await;
        passes += 1;
        if estate.fake.writes() == before || passes > 20 {
            break;
        }
        converged_at = tokio::time::Instant::now();
    }
    // Floor: 2 ELBv2 mutating calls per service (target group, rule) through a 20-token
    // bucket refilled at 3/s; UpdateService and Route 53 use other buckets.
    let mutating = 2.0 * n as f64;
    let floor = ((mutating - 20.0) / 3.0).max(0.0);
    let throttled = estate.fake.throttled();
    estate.fake.reset_calls();
    controller.pass(true).await;
    let steady_reads_by_op = estate.fake.call_counts();
    let steady_writes = estate.fake.writes();
    let steady_reads = estate.fake.calls().len() - steady_writes;
    estate.fake.reset_calls();
    add(&estate, n);
    let t = tokio::time::Instant::now();
    controller.pass(true).await;
    let publish_one_s = t.elapsed().as_secs_f64();
    let publish_one_writes = estate.fake.writes();
    Result {
        services: n,
        cold_start_s: converged_at.duration_since(started).as_secs_f64(),
        cold_start_floor_s: floor,
        cold_start_passes: passes,
        throttled,
        steady_reads,
        steady_reads_by_op,
        steady_writes,
        publish_one_writes,
        publish_one_s,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![100, 1000]
    } else {
        sizes
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    if !json {
        println!(
            "{:>6} {:>12} {:>9} {:>7} {:>9} {:>13} {:>13} {:>12} {:>11}",
            "N",
            "cold start s",
            "floor s",
            "passes",
            "throttled",
            "steady reads",
            "steady writes",
            "publish one",
            "publish s"
        );
    }
    for n in sizes {
        let wall = std::time::Instant::now();
        let r = runtime.block_on(run(n));
        if json {
            let ops: serde_json::Map<String, serde_json::Value> = r
                .steady_reads_by_op
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).into()))
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "services": r.services,
                    "cold_start_s": r.cold_start_s,
                    "cold_start_floor_s": r.cold_start_floor_s,
                    "cold_start_passes": r.cold_start_passes,
                    "throttled": r.throttled,
                    "steady_reads": r.steady_reads,
                    "steady_reads_by_op": ops,
                    "steady_writes": r.steady_writes,
                    "publish_one_writes": r.publish_one_writes,
                    "publish_one_s": r.publish_one_s,
                    "wall_s": wall.elapsed().as_secs_f64(),
                })
            );
        } else {
            println!(
                "{:>6} {:>12.1} {:>9.1} {:>7} {:>9} {:>13} {:>13} {:>12} {:>11.1}",
                r.services,
                r.cold_start_s,
                r.cold_start_floor_s,
                r.cold_start_passes,
                r.throttled,
                r.steady_reads,
                r.steady_writes,
                r.publish_one_writes,
                r.publish_one_s
            );
            println!(
                "       steady reads by operation: {:?}",
                r.steady_reads_by_op
            );
        }
    }
}
