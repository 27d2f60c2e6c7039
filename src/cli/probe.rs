//! `ecs-ingress healthcheck`: one GET of the local daemon's `/healthz`, so container health
//! checks work in an image that has no curl or shell.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than any healthy answer; shorter than ECS's default check timeout (5 s).
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no answer from {addr} within {}s", TIMEOUT.as_secs())]
    Timeout { addr: SocketAddr },
    #[error("cannot reach {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("/healthz answered `{status_line}`")]
    Status { status_line: String },
}

/// The address to connect to for a server bound to `addr` (0.0.0.0 means this host).
fn local(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Ok when `/healthz` answers 200.
pub async fn healthz(admin_addr: SocketAddr) -> Result<(), ProbeError> {
    let addr = local(admin_addr);
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await?;
        head.truncate(n);
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| ProbeError::Timeout { addr })?
        .map_err(|source| ProbeError::Io { addr, source })?;
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().to_string();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(ProbeError::Status { status_line })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn server(answer: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn ok_only_on_200() {
        let up = server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        assert!(healthz(up).await.is_ok());
        let stuck = server(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let err = healthz(stuck).await.expect_err("503");
        assert!(err.to_string().contains("503"), "{err}");
        // Nothing listening: a clear error naming the address.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            l.local_addr().expect("addr")
        };
        let err = healthz(closed).await.expect_err("closed");
        assert!(err.to_string().contains(&closed.to_string()), "{err}");
    }

    #[test]
    fn unspecified_means_this_host() {
        let a: SocketAddr = "0.0.0.0:9090".parse().expect("addr");
        assert_eq!(local(a), "127.0.0.1:9090".parse().expect("addr"));
    }
}
