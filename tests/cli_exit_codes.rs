//! Exit codes of usage errors, and values that come from `ECS_INGRESS_*` variables.

use std::process::{Command, Output};

const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2";

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("RUST_LOG", "error")
        .envs(env.iter().copied())
        .output()
        .expect("ecs-ingress runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn usage_errors_exit_1_not_2() {
    let out = run(&["plan", "--no-such-flag"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(
        &[
            "plan",
            "--cluster",
            "main",
            "--listener",
            LISTENER,
            "--fail-on",
            "broken",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a state"), "{}", stderr(&out));
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["--help", "--version"] {
        let out = run(&[flag], &[]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(!out.stdout.is_empty(), "{flag}");
    }
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let plan = ["plan", "--cluster", "main", "--listener", LISTENER];
    let out = run(&plan, &[("ECS_INGRESS_INTERVAL", "soon")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ECS_INGRESS_INTERVAL"),
        "{}",
        stderr(&out)
    );
    let out = run(&plan, &[("ECS_INGRESS_DRY_RUN", "maybe")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ECS_INGRESS_DRY_RUN"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn boolean_variables_take_yes_no_1_0() {
    let plan = ["plan", "--cluster", "main", "--listener", LISTENER];
    for value in ["true", "false", "1", "0", "yes", "no"] {
        let out = run(&plan, &[("ECS_INGRESS_DRY_RUN", value)]);
        // Parsed: the run gets as far as AWS (unreachable here), which is an error line,
        // not a usage message.
        let err = stderr(&out);
        assert!(!err.contains("invalid value"), "{value}: {err}");
        assert!(!err.contains("Usage:"), "{value}: {err}");
    }
}
