//! The admin server given bad methods, odd paths, huge and broken requests: it answers
//! with 4xx, never panics, serves no write endpoint, and stays up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ecs_ingress::admin::{self, AdminState};
use ecs_ingress::telemetry::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start() -> SocketAddr {
    let state = Arc::new(AdminState::new(
        Arc::new(Metrics::new(ecs_ingress::aws::OPERATIONS)),
        Duration::from_secs(30),
    ));
    let listener = admin::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(admin::serve(listener, state, std::future::pending()));
    addr
}

/// Sends raw bytes, returns the status code of the answer (0 if the connection closed
/// without one).
async fn send(addr: SocketAddr, request: &[u8]) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return 0;
    };
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn get(addr: SocketAddr, path: &str) -> u16 {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

#[tokio::test]
async fn bad_requests_get_4xx_and_the_server_stays_up() {
    let addr = start().await;
    assert_eq!(get(addr, "/healthz").await, 200);
    let mut cases = 0;
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for path in ["/status", "/healthz", "/metrics", "/"] {
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            assert_eq!(send(addr, request.as_bytes()).await, 405, "{method} {path}");
            cases += 1;
        }
    }
    for path in [
        "/nope",
        "/../../etc/passwd",
        "/status/../../x",
        "/%00",
        "/healthz?x=%ff%fe",
    ] {
        let code = get(addr, path).await;
        assert!(
            code == 404 || (path.starts_with("/healthz") && code == 200),
            "{path}: {code}"
        );
        cases += 1;
    }
    // A body far too large for an endpoint that takes none, cut off midway.
    let mut huge =
        b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 1 << 20));
    let code = send(addr, &huge).await;
    assert!(code == 405 || code == 413 || code == 0, "{code}");
    // A header line of 1 MiB, and bytes that are not HTTP at all.
    let mut long_header = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
    long_header.extend(std::iter::repeat_n(b'a', 1 << 20));
    long_header.extend_from_slice(b"\r\n\r\n");
    let code = send(addr, &long_header).await;
    assert!(code == 431 || code == 400 || code == 0, "{code}");
    let code = send(addr, &[0xff; 4096]).await;
    assert!(code == 400 || code == 0, "{code}");
    cases += 3;
    // Many connections at once.
    let many: Vec<_> = (0..200).map(|_| get(addr, "/metrics")).collect();
    let codes = futures_util::future::join_all(many).await;
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    cases += 1;
    assert_eq!(get(addr, "/healthz").await, 200, "still up");
    eprintln!("admin server: {cases} hostile request kinds, still serving");
}

#[tokio::test]
async fn it_listens_only_where_told() {
    let listener = admin::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    assert!(addr.ip().is_loopback());
    // A taken address fails with the address in the message.
    let err = admin::bind(addr).await.expect_err("taken");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
