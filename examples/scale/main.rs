//! Scale benchmark on the in-memory AWS with AWS's token buckets enforced, on virtual time.
//!
//! `cargo run --release --features fake --example scale -- 100 1000 5000 [--json]`
//! `... -- 5000 --steady-only --steady-passes 20`: only each size's cold start and steady
//! passes (20 more than the cycle), for a profiler. `... -- --plan 10000 --repeat 20`: only
//! the planning figures, the converged estate planned 20 more times (median on stderr).
//! `--trace-memory` (with sizes, `--steady-only` or not): the process's RSS and heap after
//! each pass of each size's main run (not the extra `--steady-passes`), on stderr, to see
//! which pass sets the peaks.
//!
//! For each N: N tagged services (as many ALBs as the 100-target-group quota needs), cold
//! start to convergence (virtual seconds, against the floor of ELBv2 mutating calls: the ALB
//! side after the first pass, and everything, DNS names included, which wait for the
//! targets ECS registers to pass their health checks), one steady pass (reads by operation
//! against the floor of reads, writes; CPU time is the median over the cycle's passes below), publishing one more service (writes, the
//! ALB side's latency and the latency until its name is served), publishing one more from
//! an event (one targeted pass: latency and calls), the reads of a whole cycle of ten full
//! passes (the attribute refresh included) as reads per hour when polling every 30 s and
//! with events (a full resync every 10 minutes), the share of each read bucket that uses,
//! and the process's peak RSS. Once per run: the time to plan 10,000 services (cold and
//! converged), without rate limits.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ecs_ingress::events::{EventTarget, ServiceArn};
use ecs_ingress::fake::floor;
use ecs_ingress::observe::{self, Cache};
use ecs_ingress::plan;
use ecs_ingress::runtime;
use ecs_ingress::testing::Estate;
use ecs_ingress::testing::listener_name;

mod backend_sg;
mod report;

/// The allocator the binary ships with (`src/main.rs`), counting the bytes held and their
/// peak: RSS hides fragmentation and what the allocator keeps, the heap does not.
///
/// The counters are updated with plain loads and stores, not read-modify-write
/// instructions: the benchmark allocates on one thread (a current-thread runtime, no
/// threads of its own), where they are exact. A locked instruction per allocation and per
/// free was about a tenth of a measured steady pass, counted as the controller's CPU.
struct CountingAllocator;

/// The binary's allocator.
const SHIPPED: ecs_ingress::allocator::Shipped = ecs_ingress::allocator::SHIPPED;

static HEAP_NOW: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocations and reallocations so far: a count that, unlike CPU time, does not vary
/// from run to run.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// `--trace-memory`: print the process's memory after each pass of the main run.
static TRACE_MEMORY: AtomicBool = AtomicBool::new(false);

fn count_allocated(bytes: usize) {
    ALLOCATIONS.store(
        ALLOCATIONS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
    let now = HEAP_NOW.load(Ordering::Relaxed).wrapping_add(bytes);
    HEAP_NOW.store(now, Ordering::Relaxed);
    if now > HEAP_PEAK.load(Ordering::Relaxed) {
        HEAP_PEAK.store(now, Ordering::Relaxed);
    }
}

fn count_freed(bytes: usize) {
    let now = HEAP_NOW.load(Ordering::Relaxed).wrapping_sub(bytes);
    HEAP_NOW.store(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to the shipped allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the shipped allocator's.
        let p = unsafe { SHIPPED.alloc(layout) };
        if !p.is_null() {
            count_allocated(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above. Passed on, not left to the default (an allocation, then zeroes
        // written), so that the shipped allocator's own zeroed allocation is measured.
        let p = unsafe { SHIPPED.alloc_zeroed(layout) };
        if !p.is_null() {
            count_allocated(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { SHIPPED.dealloc(ptr, layout) };
        count_freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { SHIPPED.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count_freed(layout.size());
            count_allocated(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Services per ALB: 100 target groups per ALB, one taken by the listener's default group.
const PER_ALB: usize = 98;

struct Result {
    services: usize,
    cold_start_s: f64,
    cold_start_alb_s: f64,
    cold_start_floor_s: f64,
    cold_start_passes: usize,
    throttled: usize,
    steady_reads: usize,
    steady_reads_floor: usize,
    steady_reads_by_op: BTreeMap<&'static str, usize>,
    steady_writes: usize,
    /// Medians over steady passes: the process's CPU, and the controller's own.
    cpu_ms_per_pass: f64,
    controller_cpu_ms_per_pass: f64,
    publish_one_writes: usize,
    publish_one_s: f64,
    publish_one_served_s: f64,
    peak_rss_mib: f64,
    /// The process's RSS once the controller is dropped and the allocator has returned
    /// every free page: the in-memory AWS alone, its own fragmentation included.
    fake_rss_mib: f64,
    estate_rss_mib: f64,
    /// The heap's peak over the whole run of this size, and what the estate alone holds.
    heap_peak_mib: f64,
    heap_estate_mib: f64,
    /// The fake's heap at the end (the estate and what the controller created in it); the
    /// controller's above it: held between passes, and its peaks in steady passes and in
    /// the cold start (the peaks' fake part taken as its size at the end, an upper bound).
    heap_fake_mib: f64,
    heap_controller_held_mib: f64,
    heap_controller_steady_peak_mib: f64,
    heap_controller_cold_peak_mib: f64,
    event_publish_s: f64,
    event_publish_calls: usize,
    /// Reads per hour over whole cycles of ten full passes (one refreshes attributes).
    reads_per_hour_polling: f64,
    reads_per_hour_events: f64,
    /// Full resyncs per attribute refresh with events.
    events_cycle_passes: usize,
    /// The reads of one cycle, and the virtual seconds of its ten passes.
    cycle_reads: usize,
    cycle_passes_s: f64,
    /// Share of each AWS read bucket's refill the controller uses at steady state.
    bucket_share_polling: BTreeMap<&'static str, f64>,
    bucket_share_events: BTreeMap<&'static str, f64>,
}

/// Full passes in one attribute-refresh cycle (`observe::ATTRIBUTE_REFRESH_PASSES`).
const CYCLE: usize = observe::ATTRIBUTE_REFRESH_PASSES as usize;
/// Today's polling interval, and the full resync with events (the defaults).
const POLL_INTERVAL_S: f64 = 30.0;
const RESYNC_INTERVAL_S: f64 = 600.0;

/// AWS's read buckets (refill per second, `aws-limits`) and the operations that draw on
/// them. The tagging API is not in AWS's published table and is left out.
const READ_BUCKETS: &[(&str, f64, &[&str])] = &[
    (
        "ecs-service-read",
        20.0,
        &["ListServices", "DescribeServices"],
    ),
    (
        "ecs-task-definition-read",
        20.0,
        &["DescribeTaskDefinition"],
    ),
    (
        "ecs-cluster-resource-read",
        20.0,
        &["ListTasks", "DescribeTasks"],
    ),
    (
        "elbv2-describe",
        10.0,
        &[
            "DescribeListeners",
            "DescribeLoadBalancers",
            "DescribeRules",
            "DescribeTargetGroups",
            "DescribeTags",
            "DescribeTargetGroupAttributes",
            "DescribeTargetHealth",
            "DescribeAccountLimits",
        ],
    ),
    (
        "route53",
        10.0,
        &["GetHostedZone", "ListResourceRecordSets"],
    ),
];

/// Reads per operation over a cycle, as a share of each bucket's refill when a cycle
/// takes `cycle_s` seconds.
fn bucket_shares(
    reads: &BTreeMap<&'static str, usize>,
    cycle_s: f64,
) -> BTreeMap<&'static str, f64> {
    READ_BUCKETS
        .iter()
        .map(|(bucket, refill, operations)| {
            let n: usize = operations.iter().filter_map(|op| reads.get(op)).sum();
            (*bucket, n as f64 / cycle_s / refill)
        })
        .collect()
}

/// The reads of full passes by operation: the pass that refreshes every owned target group's
/// attributes, and one ordinary pass (the mean of the others).
struct CycleReads {
    refresh: BTreeMap<&'static str, f64>,
    ordinary: BTreeMap<&'static str, f64>,
}

impl CycleReads {
    /// The reads of a cycle of `passes` full passes with one refresh among them.
    fn of_cycle(&self, passes: usize) -> BTreeMap<&'static str, usize> {
        let mut reads = self.refresh.clone();
        for (op, n) in &self.ordinary {
            *reads.entry(op).or_default() += n * (passes as f64 - 1.0);
        }
        reads
            .into_iter()
            .map(|(op, n)| (op, n.round() as usize))
            .collect()
    }
}

/// The reads of a whole cycle of full passes as the benchmark's controller (polling) runs
/// them — one of them refreshes every owned target group's attributes — by operation, and
/// the virtual seconds the passes took.
async fn cycle_reads(
    estate: &Estate,
    controller: &runtime::Controller,
    extra_passes: usize,
) -> (CycleReads, f64, PassCpu) {
    let started = tokio::time::Instant::now();
    let mut per_pass = Vec::new();
    let mut cpu_ms = Vec::new();
    let mut own_ms = Vec::new();
    let mut measured_pass = async || {
        let (cpu, fake) = (thread_cpu(), estate.fake.server_time());
        controller.pass(true).await;
        let total = thread_cpu() - cpu;
        let own = total.saturating_sub(estate.fake.server_time() - fake);
        cpu_ms.push(total.as_secs_f64() * 1000.0);
        own_ms.push(own.as_secs_f64() * 1000.0);
    };
    for _ in 0..CYCLE {
        estate.fake.reset_calls();
        measured_pass().await;
        trace_memory(format_args!("a steady pass"));
        let mut reads = estate.fake.call_counts();
        reads.retain(|op, _| !op.starts_with("Create") && !op.starts_with("Modify"));
        per_pass.push(reads);
    }
    let took = started.elapsed().as_secs_f64();
    let (refresh, ordinary): (Vec<_>, Vec<_>) = per_pass
        .into_iter()
        .partition(|r| r.contains_key("DescribeTargetGroupAttributes"));
    assert_eq!(refresh.len(), 1, "one attribute refresh in a cycle");
    let mean = |passes: &[BTreeMap<&'static str, usize>]| {
        let mut sum: BTreeMap<&'static str, f64> = BTreeMap::new();
        for pass in passes {
            for (op, n) in pass {
                *sum.entry(op).or_default() += *n as f64 / passes.len() as f64;
            }
        }
        sum
    };
    let reads = CycleReads {
        refresh: mean(&refresh),
        ordinary: mean(&ordinary),
    };
    // More steady passes, for a profiler to sample (`--steady-passes`).
    for _ in 0..extra_passes {
        measured_pass().await;
    }
    (
        reads,
        took,
        PassCpu {
            total_ms: median(&mut cpu_ms),
            controller_ms: median(&mut own_ms),
        },
    )
}

/// CPU of a steady pass (medians): the whole process's, and the controller's own (without
/// the fake AWS's side of the calls, which is AWS's work in production).
struct PassCpu {
    total_ms: f64,
    controller_ms: f64,
}

/// The median of the values (the lower middle one for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Publishes one more service from an event naming it: one targeted pass on top of the
/// last full pass. Returns its virtual seconds and its calls.
async fn event_publish(
    estate: &Estate,
    controller: &runtime::Controller,
    i: usize,
) -> (f64, usize) {
    let arn = {
        add(estate, i);
        let world = estate.fake.world();
        world
            .services
            .values()
            .find(|s| s.service.name == format!("s{i}"))
            .map(|s| s.service.arn.clone())
            .unwrap_or_default()
    };
    let Some(service) = ServiceArn::parse(&arn) else {
        panic!("{arn} is not a service ARN");
    };
    let targets = [EventTarget::Service(service)].into_iter().collect();
    let runtime::ScopeDecision::Targeted(scope) = controller.scope_of(&targets) else {
        panic!("the event does not resolve to a targeted pass");
    };
    estate.fake.reset_calls();
    let t = tokio::time::Instant::now();
    let report = controller
        .targeted_pass(&scope)
        .await
        .unwrap_or_else(|| panic!("the targeted pass handed over to a full pass"));
    assert!(report.succeeded(), "{:?}", report.observed_failures);
    let rules = report.applied.as_ref().map_or(0, |a| a.succeeded());
    assert!(
        rules >= 3,
        "the targeted pass published the service ({rules} changes)"
    );
    (t.elapsed().as_secs_f64(), estate.fake.calls().len())
}

/// CPU time of this thread (the runtime is single-threaded: controller and fake AWS).
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// With `--trace-memory`, one line on stderr: the whole process's RSS and heap (the
/// in-memory AWS's included) now and at their peaks since the run started. Takes the
/// words unformatted, so that a run without the flag allocates nothing for them.
fn trace_memory(after: std::fmt::Arguments<'_>) {
    if TRACE_MEMORY.load(Ordering::Relaxed) {
        eprintln!(
            "memory after {after}: RSS {:.1} MiB (peak {:.1}), heap {:.1} MiB (peak {:.1})",
            memory_mib("VmRSS:"),
            memory_mib("VmHWM:"),
            mib(HEAP_NOW.load(Ordering::Relaxed)),
            mib(HEAP_PEAK.load(Ordering::Relaxed)),
        );
    }
}

/// A field of /proc/self/status in MiB (`VmHWM` peak, `VmRSS` current).
fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The heap counters are exact only while one thread allocates (see `CountingAllocator`):
/// a run that finds another thread in the process stops rather than report figures that
/// may have lost updates. Linux only, like the RSS figures.
fn assert_one_thread() {
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:")?.trim().parse::<usize>().ok())
        });
    if let Some(n) = threads {
        assert_eq!(
            n, 1,
            "the heap counters need one thread; the process has {n}"
        );
    }
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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

async fn run(n: usize, extra_passes: usize) -> Result {
    reset_peak_rss();
    HEAP_PEAK.store(HEAP_NOW.load(Ordering::Relaxed), Ordering::Relaxed);
    let heap_before = HEAP_NOW.load(Ordering::Relaxed);
    let albs = n.div_ceil(PER_ALB) + 1;
    let estate = Estate::new(albs);
    estate.fake.enforce_rate_limits();
    estate.fake.measure_server_time(thread_cpu);
    for i in 0..n {
        add(&estate, i);
    }
    let estate_rss_mib = memory_mib("VmRSS:");
    trace_memory(format_args!("the estate was made"));
    let heap_estate = HEAP_NOW.load(Ordering::Relaxed).saturating_sub(heap_before);
    // As the binary runs it: free pages go back after a pass that wrote.
    let controller = estate
        .controller()
        .releasing_memory_with(ecs_ingress::allocator::return_free_pages);
    let started = tokio::time::Instant::now();
    let (passes, converged_at, alb_done_at) = converge(&estate, &controller).await;
    let floor = floor::cold_start_seconds(n);
    let throttled = estate.fake.throttled();
    estate.fake.reset_calls();
    controller.pass(true).await;
    trace_memory(format_args!("the steady pass counted against the floor"));
    let steady_reads_by_op = estate.fake.call_counts();
    let steady_writes = estate.fake.writes();
    let steady_reads = estate.fake.calls().len() - steady_writes;
    estate.fake.reset_calls();
    add(&estate, n);
    let t = tokio::time::Instant::now();
    let (_, served_at, alb_at) = converge(&estate, &controller).await;
    let publish_one_s = alb_at.duration_since(t).as_secs_f64();
    let publish_one_served_s = served_at.duration_since(t).as_secs_f64();
    let publish_one_writes = estate.fake.writes();
    let (event_publish_s, event_publish_calls) = event_publish(&estate, &controller, n + 1).await;
    trace_memory(format_args!("the event's targeted pass"));
    // Converged again (the name of the event-published service follows its health), then
    // a whole cycle of full passes at steady state.
    converge(&estate, &controller).await;
    let heap_before_cycle = HEAP_NOW.load(Ordering::Relaxed);
    let cold_peak = HEAP_PEAK.swap(heap_before_cycle, Ordering::Relaxed);
    let (cycle, passes_s, cpu) = cycle_reads(&estate, &controller, extra_passes).await;
    let heap_steady_peak = HEAP_PEAK.fetch_max(cold_peak, Ordering::Relaxed);
    // What the controller holds between passes: the heap its drop frees. What remains is
    // the fake's (the estate and everything the controller created in it).
    let with_controller = HEAP_NOW.load(Ordering::Relaxed);
    drop(controller);
    let fake_only = HEAP_NOW.load(Ordering::Relaxed);
    let peak_rss_mib = memory_mib("VmHWM:");
    ecs_ingress::allocator::return_free_pages();
    let fake_rss_mib = memory_mib("VmRSS:");
    let reads = cycle.of_cycle(CYCLE);
    let cycle_reads_total: usize = reads.values().sum();
    let pass_s = passes_s / CYCLE as f64;
    // The loop waits the interval after each pass: a cycle is ten passes and ten waits.
    let polling_cycle_s = CYCLE as f64 * (POLL_INTERVAL_S + pass_s);
    // With events, the full resyncs between two attribute refreshes: as many as keep the
    // refresh within its budget (`observe::attribute_refresh_passes`).
    // The groups whose attributes the controller caches: those it owns.
    let groups = estate
        .fake
        .world()
        .target_groups
        .values()
        .filter(|g| g.tags.contains_key(ecs_ingress::ownership::OWNER_TAG))
        .count();
    let events_passes =
        observe::attribute_refresh_passes(groups, Some(Duration::from_secs_f64(RESYNC_INTERVAL_S)))
            as usize;
    let events_reads = cycle.of_cycle(events_passes);
    let events_cycle_s = events_passes as f64 * (RESYNC_INTERVAL_S + pass_s);
    assert_one_thread();
    // The row's memory figures end here; the pool and drain runs that follow are not theirs.
    TRACE_MEMORY.store(false, Ordering::Relaxed);
    Result {
        services: n,
        cold_start_s: converged_at.duration_since(started).as_secs_f64(),
        cold_start_alb_s: alb_done_at.duration_since(started).as_secs_f64(),
        cold_start_floor_s: floor,
        cold_start_passes: passes,
        throttled,
        steady_reads,
        steady_reads_floor: floor::steady_reads(n, albs),
        steady_reads_by_op,
        steady_writes,
        cpu_ms_per_pass: cpu.total_ms,
        controller_cpu_ms_per_pass: cpu.controller_ms,
        publish_one_writes,
        publish_one_s,
        publish_one_served_s,
        peak_rss_mib,
        fake_rss_mib,
        estate_rss_mib,
        heap_peak_mib: mib(HEAP_PEAK
            .load(Ordering::Relaxed)
            .saturating_sub(heap_before)),
        heap_estate_mib: mib(heap_estate),
        heap_fake_mib: mib(fake_only.saturating_sub(heap_before)),
        heap_controller_held_mib: mib(with_controller.saturating_sub(fake_only)),
        heap_controller_steady_peak_mib: mib(heap_steady_peak.saturating_sub(fake_only)),
        heap_controller_cold_peak_mib: mib(cold_peak.saturating_sub(fake_only)),
        event_publish_s,
        event_publish_calls,
        reads_per_hour_polling: cycle_reads_total as f64 * 3600.0 / polling_cycle_s,
        reads_per_hour_events: events_reads.values().sum::<usize>() as f64 * 3600.0
            / events_cycle_s,
        events_cycle_passes: events_passes,
        cycle_reads: cycle_reads_total,
        cycle_passes_s: passes_s,
        bucket_share_polling: bucket_shares(&reads, polling_cycle_s),
        bucket_share_events: bucket_shares(&events_reads, events_cycle_s),
    }
}

/// Passes as the daemon runs them (the next one an interval after a pass that only
/// waited) until one writes nothing and nothing waits. Returns the passes, when the last
/// write happened, and when the first pass (the ALB side) ended.
async fn converge(
    estate: &Estate,
    controller: &runtime::Controller,
) -> (usize, tokio::time::Instant, tokio::time::Instant) {
    let mut passes = 0;
    let mut last_write = tokio::time::Instant::now();
    let mut first_done = None;
    loop {
        let before = estate.fake.writes();
        let report = controller.pass(true).await;
        passes += 1;
        trace_memory(format_args!("pass {passes} towards convergence"));
        first_done.get_or_insert_with(tokio::time::Instant::now);
        let waiting = report.plan.services.iter().any(|s| !s.waiting.is_empty());
        if estate.fake.writes() != before {
            last_write = tokio::time::Instant::now();
        } else if !waiting || passes > 40 {
            break;
        } else {
            tokio::time::sleep(controller.config.interval).await;
        }
    }
    (passes, last_write, first_done.unwrap_or(last_write))
}

/// A pool that starts from one ALB and may grow: how many ALBs it ends with, the ALB side of
/// the cold start against its floor, and a steady pass.
struct PoolResult {
    albs: usize,
    cold_start_s: f64,
    cold_start_floor_s: f64,
    steady_reads: usize,
    steady_reads_floor: usize,
    steady_writes: usize,
}

/// N untagged-listener services on pool `default`, one ALB given, room to grow.
fn pool_estate(n: usize, given: usize) -> (Estate, ecs_ingress::config::Config) {
    let estate = Estate::new(given);
    // An account whose ALB quota was raised for the size: 10,000 services need ~100 ALBs.
    estate.fake.world().load_balancers_quota = Some(n / 50 + 50);
    estate.fake.enforce_rate_limits();
    for i in 0..n {
        let host = format!("s{i}.in.example.com");
        estate.add_service(&format!("s{i}"), &[("alb.host", host.as_str())], &[]);
    }
    let mut config = estate.pool_config();
    config
        .pools
        .max_albs
        .insert("default".into(), given + n / 90 + 2);
    (estate, config)
}

/// Owned rules per ALB, and whether every ALB is within its quotas.
fn albs_within_quota(estate: &Estate) -> (usize, bool) {
    let world = estate.fake.world();
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for g in world.target_groups.values() {
        for lb in &g.load_balancer_arns {
            *groups.entry(lb.as_str()).or_default() += 1;
        }
    }
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for r in world.rules.values().filter(|r| !r.is_default()) {
        if let Some(l) = world.listeners.get(r.listener_arn.as_str()) {
            *rules.entry(l.load_balancer_arn.as_str()).or_default() += 1;
        }
    }
    let ok = groups.values().all(|&g| g <= 100) && rules.values().all(|&r| r <= 100);
    (world.load_balancers.len(), ok)
}

async fn pool_run(n: usize) -> PoolResult {
    let (estate, config) = pool_estate(n, 1);
    let controller = estate.controller_with(config);
    let started = tokio::time::Instant::now();
    let alb_side = until_every_rule(&estate, &controller, n).await;
    let (albs, within) = albs_within_quota(&estate);
    assert!(within, "an ALB over its quota");
    converge(&estate, &controller).await;
    estate.fake.reset_calls();
    controller.pass(true).await;
    let steady_writes = estate.fake.writes();
    PoolResult {
        albs,
        cold_start_s: alb_side.duration_since(started).as_secs_f64(),
        cold_start_floor_s: floor::pool_cold_start_seconds(n, albs - 1),
        steady_reads: estate.fake.calls().len() - steady_writes,
        // One GetResources more than a fixed estate: the pool's created ALBs, by tag.
        steady_reads_floor: floor::steady_reads(n, albs) + 1,
        steady_writes,
    }
}

/// Passes until every service has its rule; when the pass that made the last one ended.
async fn until_every_rule(
    estate: &Estate,
    controller: &runtime::Controller,
    n: usize,
) -> tokio::time::Instant {
    for _ in 0..40 {
        let before = estate.fake.writes();
        controller.pass(true).await;
        if estate.owned_rules().len() >= n {
            break;
        }
        if estate.fake.writes() == before {
            tokio::time::sleep(controller.config.interval).await;
        }
    }
    tokio::time::Instant::now()
}

/// Draining one ALB of ten at N services: services moved, writes per moved service, and the
/// move's virtual duration (new groups healthy, names switched, cached answers expired).
struct DrainResult {
    moved: usize,
    writes_per_service: f64,
    seconds: f64,
}

async fn drain_run(n: usize) -> DrainResult {
    let (estate, mut config) = pool_estate(n, 10);
    converge(&estate, &estate.controller_with(config.clone())).await;
    let drained = estate.listeners[&listener_name(3)].clone();
    let on_drained = |estate: &Estate| {
        estate
            .owned_rules()
            .iter()
            .filter(|r| r.listener_arn == drained)
            .filter_map(|r| r.tags.get("ecs-ingress/service").map(str::to_string))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let leaving = on_drained(&estate);
    config.pools.draining.insert(drained.clone());
    let controller = estate.controller_with(config);
    estate.fake.reset_calls();
    let started = tokio::time::Instant::now();
    let (_, done, _) = converge(&estate, &controller).await;
    assert!(
        on_drained(&estate).is_empty(),
        "the drained ALB still routes"
    );
    DrainResult {
        moved: leaving.len(),
        writes_per_service: estate.fake.writes() as f64 / leaving.len().max(1) as f64,
        seconds: done.duration_since(started).as_secs_f64(),
    }
}

/// Planning `n` services once, without rate limits: milliseconds, changes, and the heap
/// each stage's output holds per service (counted by the allocator, so exact).
struct PlanMeasure {
    ms: f64,
    changes: usize,
    /// Bytes per service held by the observation (the snapshot), the intents and the plan.
    heap: BTreeMap<&'static str, f64>,
    /// Allocations (and reallocations) per service while planning.
    allocations: f64,
}

fn heap_now() -> usize {
    HEAP_NOW.load(Ordering::Relaxed)
}

/// Planning `n` services: cold (nothing exists yet) and converged.
async fn plan_time(n: usize, repeat: usize) -> (PlanMeasure, PlanMeasure) {
    let estate = Estate::new(n.div_ceil(PER_ALB) + 1);
    for i in 0..n {
        add(&estate, i);
    }
    let config = estate.config();
    let plan_config = config.plan_config();
    let per_service = |bytes: usize| bytes as f64 / n as f64;
    let mut cache = Cache::default();
    let mut measures = Vec::new();
    for apply_first in [false, true] {
        if apply_first {
            estate.controller().pass(true).await;
        }
        let before = heap_now();
        let observed = observe::observe(
            &estate.fake.aws(),
            &config,
            &plan_config.ownership,
            &mut cache,
        )
        .await;
        let observed_at = heap_now();
        let intents = runtime::intents(&config, &observed);
        let intents_at = heap_now();
        let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        let planned = plan::plan(&plan_config, &observed, &intents);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
        let planned_at = heap_now();
        assert_one_thread();
        if apply_first && repeat > 0 {
            // What a profiler samples, and a figure less noisy than one plan.
            let mut times: Vec<f64> = (0..repeat)
                .map(|_| {
                    let started = std::time::Instant::now();
                    let again = plan::plan(&plan_config, &observed, &intents);
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    drop(again);
                    ms
                })
                .collect();
            times.sort_by(f64::total_cmp);
            eprintln!(
                "planning {n} converged services {repeat} more times: median {:.1} ms, fastest {:.1} ms",
                times[times.len() / 2],
                times[0]
            );
        }
        measures.push(PlanMeasure {
            ms,
            changes: planned.changes.len(),
            allocations: per_service(allocations),
            heap: BTreeMap::from([
                (
                    "observation",
                    per_service(observed_at.saturating_sub(before)),
                ),
                (
                    "intents",
                    per_service(intents_at.saturating_sub(observed_at)),
                ),
                ("plan", per_service(planned_at.saturating_sub(intents_at))),
            ]),
        });
    }
    let (Some(converged), Some(cold)) = (measures.pop(), measures.pop()) else {
        unreachable!("two measurements");
    };
    assert!(cold.changes >= 3 * n, "a cold plan creates every service");
    assert_eq!(converged.changes, 0, "converged");
    (cold, converged)
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1);
        }
    }
}

/// The value after `flag`, parsed.
fn flag_value<T: std::str::FromStr>(args: &[String], flag: &str) -> Option<T> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1)?.parse().ok()
}

/// Runs this benchmark again for one part (`--size N` or `--plan N`) in a process of its
/// own, so each size's peak RSS and estate RSS are its own (an allocator keeps what an
/// earlier size freed), and returns the JSON it prints.
fn child(part: &[String]) -> serde_json::Value {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no executable path: {e}"));
    let output = std::process::Command::new(exe)
        .args(part)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {part:?}: {e}"));
    assert!(
        output.status.success(),
        "{part:?} failed: {}",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{part:?} printed {text}: {e}"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let steady_only = args.iter().any(|a| a == "--steady-only");
    let extra_passes: usize = flag_value(&args, "--steady-passes").unwrap_or(0);
    let trace = args.iter().any(|a| a == "--trace-memory");
    TRACE_MEMORY.store(trace, Ordering::Relaxed);
    // What the RSS figures depend on (jemalloc's default unless `_RJEM_MALLOC_CONF`).
    let dirty_decay_ms = ecs_ingress::allocator::dirty_decay_ms();
    if let Some(n) = flag_value::<usize>(&args, "--size") {
        let runtime = runtime();
        let wall = std::time::Instant::now();
        let r = runtime.block_on(run(n, extra_passes));
        let (pool, drain, backend) = if steady_only {
            (None, None, None)
        } else {
            let pool = runtime.block_on(pool_run(n));
            let drain = (n == 1000).then(|| runtime.block_on(drain_run(n)));
            let backend = runtime.block_on(backend_sg::run(n));
            (Some(pool), drain, Some(backend))
        };
        let mut row = report::row(
            &r,
            pool.as_ref(),
            drain.as_ref(),
            wall.elapsed().as_secs_f64(),
        );
        if let Some(fields) = row.as_object_mut() {
            if let Some(b) = backend {
                fields.extend(report::backend_sg_fields(&b));
            }
            fields.insert("allocator_dirty_decay_ms".into(), dirty_decay_ms.into());
        }
        println!("{row}");
        return;
    }
    if let Some(n) = flag_value::<usize>(&args, "--plan") {
        let repeat = flag_value::<usize>(&args, "--repeat").unwrap_or(0);
        let (cold, converged) = runtime().block_on(plan_time(n, repeat));
        println!("{}", report::plan_fields(&cold, &converged));
        return;
    }
    let sizes: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || args[i - 1] != "--steady-passes")
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 1000, 5000]
    } else {
        sizes
    };
    // Each size in a process of its own, then planning 10,000 services in another.
    // `--steady-only`: each size's cold start and steady passes, nothing else (to profile).
    let passes = extra_passes.to_string();
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for n in sizes {
        let size = n.to_string();
        let mut part = vec!["--size", size.as_str(), "--steady-passes", passes.as_str()];
        if steady_only {
            part.push("--steady-only");
        }
        if trace {
            part.push("--trace-memory");
        }
        let part: Vec<String> = part.into_iter().map(str::to_string).collect();
        let row = child(&part);
        if steady_only {
            report::print_steady(&row);
        }
        rows.push(row);
    }
    if steady_only {
        return;
    }
    let plan_wall = std::time::Instant::now();
    let plan = child(&["--plan".to_string(), "10000".to_string()]);
    let plan_wall_s = plan_wall.elapsed().as_secs_f64();
    if json {
        for mut row in rows {
            if let (Some(row), Some(plan)) = (row.as_object_mut(), plan.as_object()) {
                row.extend(plan.clone());
            }
            println!("{row}");
        }
    } else {
        report::print_table(&rows, &plan, plan_wall_s);
    }
}
