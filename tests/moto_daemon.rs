//! `ecs-ingress run` against moto: admin endpoints and a clean exit on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Moto;

/// A minimal HTTP/1.1 GET: status code and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

#[test]
fn run_serves_admin_endpoints_and_exits_zero_on_sigterm() {
    let moto = Moto::start();
    let seed = moto.seed();
    moto.create_service(&seed, "service-a", support::SEED_TAGS, &[], &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .arg("run")
        .args(seed.args())
        .args([
            "--interval",
            "2s",
            "--admin-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .envs(moto.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = get(port, "/readyz") {
            break;
        }
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    let (code, metrics) = get(port, "/metrics").expect("metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("ecs_ingress_passes_total"), "{metrics}");
    assert!(metrics.contains("ecs_ingress_aws_calls_total{service=\"ecs\",operation=\"ListServices\",outcome=\"success\"}"), "{metrics}");
    let (code, status) = get(port, "/status").expect("status");
    assert_eq!(code, 200);
    let v: serde_json::Value =
        serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(v["services"][0]["service"], "service-a");
    let (code, html) = get(port, "/").expect("index");
    assert_eq!(code, 200);
    assert!(html.contains("service-a"));

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}
