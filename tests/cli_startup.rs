//! Start-up mistakes give one clear `error:` line and a non-zero exit for `plan` and
//! `apply`, without any AWS (moto cases are in `moto_alb.rs`).

use std::process::{Command, Output};

const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2";

fn run(command: &str, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args([command, "--cluster", "main", "--listener", LISTENER])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("RUST_LOG", "error")
        .envs(env.iter().copied())
        .output()
        .expect("ecs-ingress runs")
}

fn error_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn no_credentials_is_one_line_that_says_so() {
    for command in ["plan", "apply"] {
        let out = run(command, &[]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let errors = error_lines(&out);
        assert_eq!(errors.len(), 1, "{command}: {errors:?}");
        assert!(
            errors[0].contains("no usable AWS credentials") && errors[0].contains("task role"),
            "{}",
            errors[0]
        );
    }
}

#[test]
fn an_unreachable_endpoint_is_one_line_that_says_so() {
    let env = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    for command in ["plan", "apply"] {
        let out = run(command, &env);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let errors = error_lines(&out);
        assert_eq!(errors.len(), 1, "{command}: {errors:?}");
        assert!(errors[0].contains("cannot reach AWS"), "{}", errors[0]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("Could not read AWS:"),
            "no 'Nothing to change' when nothing could be read: {stdout}"
        );
    }
}

#[test]
fn a_bad_flag_names_the_flag_and_the_expected_form() {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args([
            "plan",
            "--cluster",
            "main",
            "--listener",
            LISTENER,
            "--hosted-zone",
            "zone!",
        ])
        .output()
        .expect("ecs-ingress runs");
    // A usage error is 1: 2 is `plan`'s "changes pending".
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--hosted-zone") && stderr.contains("is not a Route 53 hosted zone id"),
        "{stderr}"
    );
}

#[test]
fn secrets_never_reach_the_logs_even_at_trace_level() {
    let env = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret-marker-6b1f"),
        ("AWS_SESSION_TOKEN", "token-marker-93ac"),
        ("RUST_LOG", "trace"),
    ];
    for command in ["plan", "apply"] {
        let out = run(command, &env);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.lines().count() > 50, "trace logging was on");
        assert!(
            !all.contains("secret-marker-6b1f"),
            "{command}: secret key logged"
        );
        assert!(
            !all.contains("token-marker-93ac"),
            "{command}: session token logged"
        );
    }
}

#[test]
fn zone_role_mistakes_are_one_line_each_before_any_aws_call() {
    const ROLE: &str = "arn:aws:iam::222222222222:role/dns";
    // The endpoint refuses connections: an AWS call would fail differently.
    let base = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    // (environment, what the one error line must say)
    type Case = (Vec<(&'static str, String)>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        (
            vec![("ECS_INGRESS_ZONE_ROLE", format!("Z1{ROLE}"))],
            vec!["--zone-role", "ZONE_ID=ROLE_ARN"],
        ),
        (
            vec![(
                "ECS_INGRESS_ZONE_ROLE",
                "Z1=arn:aws:iam::2222:role/dns".into(),
            )],
            vec!["--zone-role", "is not an IAM role ARN"],
        ),
        (
            vec![
                ("ECS_INGRESS_HOSTED_ZONE", "Z1".into()),
                (
                    "ECS_INGRESS_ZONE_ROLE",
                    format!("Z1={ROLE},Z1=arn:aws:iam::333333333333:role/x"),
                ),
            ],
            vec!["--zone-role", "Z1", "two roles"],
        ),
        (
            vec![
                ("ECS_INGRESS_HOSTED_ZONE", "Z1".into()),
                ("ECS_INGRESS_ZONE_ROLE", format!("Z2={ROLE}")),
            ],
            vec!["--zone-role Z2=", "--hosted-zone"],
        ),
    ];
    for (env, wanted) in cases {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
        let out = run("plan", &all);
        assert_eq!(out.status.code(), Some(1), "{env:?}");
        let errors = error_lines(&out);
        assert_eq!(errors.len(), 1, "{env:?}: {errors:?}");
        for w in wanted {
            assert!(errors[0].contains(w), "{env:?}: `{w}` not in {}", errors[0]);
        }
        assert!(
            !errors[0].contains("cannot reach AWS"),
            "rejected before any AWS call: {}",
            errors[0]
        );
    }
}

#[test]
fn without_a_region_the_error_says_to_set_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args(["plan", "--cluster", "main", "--listener", LISTENER])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("ecs-ingress runs");
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("no AWS region is configured") && errors[0].contains("AWS_REGION"),
        "{}",
        errors[0]
    );
    assert!(!errors[0].contains("NAT gateway"), "{}", errors[0]);
    // stdout says the same and nothing it could not know (no "no services").
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("Could not read AWS: no AWS region"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("tagging index") && !stderr.contains("DescribeAccountLimits"),
        "only the error line: {stderr}"
    );
}

#[test]
fn a_daemon_that_cannot_read_logs_one_line_per_pass() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args(["run", "--cluster", "main", "--listener", LISTENER])
        .args([
            "--interval",
            "1s",
            "--admin-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ecs-ingress runs");
    std::thread::sleep(std::time::Duration::from_secs(5));
    let _ = child.kill();
    let out = child.wait_with_output().expect("its output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let passes: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("pass incomplete"))
        .collect();
    assert!(!passes.is_empty(), "{stderr}");
    for line in &passes {
        assert!(
            line.contains("WARN") && line.contains("cannot reach AWS"),
            "{line}"
        );
    }
    for noise in ["pass complete", "tagging index", "DescribeAccountLimits"] {
        assert!(
            !stderr.contains(noise),
            "`{noise}` logged beside the failed pass: {stderr}"
        );
    }
}
