//! The whole-system simulation (see `src/sim/`): seeded runs of the controller's replicas
//! on the fake AWS in virtual time, every invariant checked after every write.
//!
//! ```text
//! cargo run --release --features fake --example simulate -- [options]
//!   --seed N          first seed (default 1)
//!   --seeds K         seeds N..N+K (default 1)
//!   --steps S         steps per seed (default 2000; with --hours, the most)
//!   --hours H         virtual hours per seed (e.g. 720 for a month)
//!   --sabotage NAME   turn one safety rule off: health-wait, drain, lease-fence, ownership
//!   --keep I,J,...    replay only these steps of the seed's script (a shrunk case)
//!   --shrink          narrow a failing seed to fewer steps, and print how to replay it
//!   --pools           the pool world: both ALBs in one pool, its flags changed now and then
//!   --listener-loss   listeners deleted by hand now and then, and made again (new ARNs)
//!   --alb-loss        ALBs deleted by hand now and then, and made again (new DNS names)
//! ```
//! Prints one line per seed, the totals and the coverage table; exits 1 when any seed broke
//! an invariant.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ecs_ingress::sabotage::Sabotage;
use ecs_ingress::sim::{self, script};

struct Options {
    seed: u64,
    seeds: u64,
    steps: Option<usize>,
    hours: Option<u64>,
    sabotage: Option<Sabotage>,
    keep: Option<Vec<usize>>,
    shrink: bool,
    pools: bool,
    listener_loss: bool,
    alb_loss: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        seed: 1,
        seeds: 1,
        steps: None,
        hours: None,
        sabotage: None,
        keep: None,
        shrink: false,
        pools: false,
        listener_loss: false,
        alb_loss: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--seed" => o.seed = number(value()?)?,
            "--seeds" => o.seeds = number(value()?)?,
            "--steps" => {
                o.steps = Some(usize::try_from(number(value()?)?).map_err(|e| e.to_string())?)
            }
            "--hours" => o.hours = Some(number(value()?)?),
            "--sabotage" => {
                let v = value()?;
                o.sabotage = Some(Sabotage::parse(&v).ok_or(format!(
                    "--sabotage {v}: not one of health-wait, drain, lease-fence, ownership"
                ))?);
            }
            "--keep" => {
                let v = value()?;
                let keep: Result<Vec<usize>, _> = v.split(',').map(str::parse).collect();
                o.keep = Some(keep.map_err(|e| format!("--keep {v}: {e}"))?);
            }
            "--shrink" => o.shrink = true,
            "--pools" => o.pools = true,
            "--listener-loss" => o.listener_loss = true,
            "--alb-loss" => o.alb_loss = true,
            _ => {
                return Err(format!(
                    "unknown option {flag} (see the comment atop examples/simulate.rs)"
                ));
            }
        }
    }
    Ok(o)
}

fn main() {
    // SIM_TRACE=1: every step, and the controller's logs (RUST_LOG filters them).
    if std::env::var_os("SIM_TRACE").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("simulate: {e}");
            std::process::exit(2);
        }
    };
    let (mut steps, mut writes, mut failed) = (0usize, 0u64, 0usize);
    let mut virtual_time = Duration::ZERO;
    let mut slowest_settle = Duration::ZERO;
    let mut coverage: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    for seed in o.seed..o.seed.saturating_add(o.seeds) {
        let span = o
            .hours
            .map_or(Duration::MAX, |h| Duration::from_secs(h * 3600));
        let max_steps = o
            .steps
            .unwrap_or(if o.hours.is_some() { usize::MAX } else { 2000 });
        let mut s = script::generate_for(seed, max_steps, span);
        if o.pools {
            s = s.with_pools();
        }
        if o.listener_loss {
            s = s.with_listener_loss();
        }
        if o.alb_loss {
            s = s.with_alb_loss();
        }
        if let Some(keep) = &o.keep {
            s = s.keep(keep);
        }
        let wall = Instant::now();
        let report = sim::run(&s, o.sabotage);
        steps += report.steps;
        writes += report.writes;
        virtual_time += report.virtual_time;
        slowest_settle = slowest_settle.max(report.settled_in.unwrap_or_default());
        for (k, v) in &report.coverage {
            *coverage.entry(k.clone()).or_default() += v;
        }
        println!(
            "seed {seed}: {} services, events {}, {} steps, {:.1} virtual hours, {} writes, {} replicas started, settled in {}, {:.1} s wall: {}",
            s.services,
            if s.events { "on" } else { "off" },
            report.steps,
            report.virtual_time.as_secs_f64() / 3600.0,
            report.writes,
            report.replicas_started,
            report
                .settled_in
                .map_or("-".to_string(), |d| format!("{} s", d.as_secs())),
            wall.elapsed().as_secs_f64(),
            if report.passed() { "ok" } else { "VIOLATION" }
        );
        if report.passed() {
            continue;
        }
        failed += 1;
        let at = report.failed_at.and_then(|p| s.kept.get(p)).copied();
        println!(
            "  broke after step {} ({:?}); replay: --seed {seed} --steps {}{}{}",
            at.map_or("-".to_string(), |a| a.to_string()),
            report
                .failed_at
                .and_then(|p| s.steps.get(p))
                .map(|st| st.act),
            s.kept.last().map_or(0, |l| l + 1),
            o.keep.as_ref().map_or(String::new(), |k| {
                let k: Vec<String> = k.iter().map(usize::to_string).collect();
                format!(" --keep {}", k.join(","))
            }),
            world_flags(&o),
        );
        for v in &report.violations {
            println!("  - {v}");
        }
        if o.shrink {
            let small = sim::shrink(&s, o.sabotage);
            let keep: Vec<String> = small.kept.iter().map(usize::to_string).collect();
            println!(
                "  shrunk to {} of {} steps: --seed {seed} --steps {} --keep {}{}",
                small.steps.len(),
                s.steps.len(),
                s.kept.last().map_or(0, |l| l + 1),
                keep.join(","),
                world_flags(&o),
            );
            for step in &small.steps {
                println!("    after {:?}: {:?}", step.after, step.act);
            }
        }
    }
    println!(
        "total: {} seeds, {steps} steps, {:.1} virtual days, {writes} writes, {failed} with violations, slowest settle {} s, {:.1} s wall",
        o.seeds,
        virtual_time.as_secs_f64() / 86_400.0,
        slowest_settle.as_secs(),
        started.elapsed().as_secs_f64()
    );
    println!("coverage:");
    for (what, n) in &coverage {
        println!("  {n:>8}  {what}");
    }
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The flags that shape a run's world, as a replay needs them.
fn world_flags(o: &Options) -> String {
    let mut out = o
        .sabotage
        .map_or(String::new(), |x| format!(" --sabotage {}", x.as_str()));
    if o.pools {
        out.push_str(" --pools");
    }
    if o.listener_loss {
        out.push_str(" --listener-loss");
    }
    if o.alb_loss {
        out.push_str(" --alb-loss");
    }
    out
}
