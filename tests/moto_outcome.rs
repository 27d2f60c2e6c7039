//! One-shot `plan`/`apply` on moto: `--fail-on`, `apply --output json`, `--dry-run` logging
//! every change, and JSON log lines with structured fields.

mod support;

use std::process::{Command, Output};

use support::{Moto, stderr, stdout};

fn ecs_ingress(moto: &Moto, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args(args)
        .envs(moto.env())
        .env("RUST_LOG", "info")
        .output()
        .expect("ecs-ingress runs")
}

fn args(seed: &support::Seed, command: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![command.to_string()];
    v.extend(seed.args());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The JSON log lines of `out` whose message is `message`.
fn log_lines(out: &Output, message: &str) -> Vec<serde_json::Value> {
    stderr(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

#[test]
fn fail_on_dry_run_and_json_output() {
    let moto = Moto::start();
    let seed = moto.seed();
    moto.create_service(
        &seed,
        "good",
        &[("alb.host", "good.in.example.com")],
        &[],
        &[],
    );
    moto.create_service(
        &seed,
        "broken",
        &[
            ("alb.host", "broken.in.example.com"),
            ("alb.healthcheck.interval", "abc"),
        ],
        &[],
        &[],
    );

    let out = ecs_ingress(
        &moto,
        &args(&seed, "plan", &["--fail-on", "invalid,conflict,quota"]),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fail-on: main/broken is invalid"),
        "{}",
        stderr(&out)
    );

    let out = ecs_ingress(
        &moto,
        &args(&seed, "apply", &["--dry-run", "--log-format", "json"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let would = log_lines(&out, "dry run: would apply");
    assert!(!would.is_empty(), "{}", stderr(&out));
    for line in &would {
        for field in ["service", "action", "kind", "resource", "reason"] {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
    }
    let transitions = log_lines(&out, "service state changed");
    let broken = transitions
        .iter()
        .find(|l| l["service"] == "main/broken")
        .unwrap_or_else(|| panic!("no transition for broken: {}", stderr(&out)));
    assert_eq!(broken["level"], "WARN");
    assert_eq!(broken["state"], "invalid");
    assert!(
        broken["reason"]
            .as_str()
            .is_some_and(|r| r.contains("alb.healthcheck.interval"))
    );

    let out = ecs_ingress(
        &moto,
        &args(
            &seed,
            "apply",
            &["--output", "json", "--log-format", "json"],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    let results = summary["results"].as_array().cloned().unwrap_or_default();
    assert!(
        results.iter().all(|r| r["result"] == "applied"),
        "{summary}"
    );
    assert!(!results.is_empty(), "{summary}");
    assert!(summary["services"].as_array().is_some_and(|s| s.len() == 2));
    let applied = log_lines(&out, "applied");
    assert_eq!(applied.len(), results.len(), "{}", stderr(&out));
    assert!(
        applied
            .iter()
            .any(|l| l["kind"] == "target-group" && l["action"] == "create")
    );
}

#[test]
fn apply_stopped_by_sigterm_finishes_in_flight_and_prints_its_summary() {
    use std::io::{BufRead, BufReader};
    let moto = Moto::start();
    let seed = moto.seed();
    for n in 0..20 {
        let host = format!("svc-{n}.in.example.com");
        moto.create_service(&seed, &format!("svc-{n}"), &[("alb.host", &host)], &[], &[]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args(args(&seed, "apply", &[]))
        .envs(moto.env())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr_pipe = child.stderr.take().expect("stderr");
    let pid = child.id().to_string();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut signalled = false;
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            // The first change made: stop the run in the middle.
            if !signalled && line.contains("applied") {
                let _ = Command::new("kill").args(["-TERM", &pid]).status();
                signalled = true;
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    let out = child.wait_with_output().expect("apply ends");
    let log = reader.join().expect("stderr read");
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("stopped by a signal"), "{log}");
    let summary = stdout(&out);
    assert!(
        summary.lines().any(|l| l.starts_with("applied ")),
        "{summary}"
    );
    assert!(
        summary.contains("SERVICE"),
        "the per-service summary: {summary}"
    );
    let made = summary
        .lines()
        .filter(|l| l.starts_with("applied "))
        .count();
    assert!(
        made < 20 * 3,
        "the run stopped early: {made} changes\n{summary}"
    );
}
