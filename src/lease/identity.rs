//! The default `--leader-election-id`: the ECS task ARN, else hostname and pid. Either is
//! unique per running replica, which the lease needs (two replicas with one id would both
//! renew the same record).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// ECS sets this in every container of a task (task metadata endpoint v4).
const METADATA_ENV: &str = "ECS_CONTAINER_METADATA_URI_V4";
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

/// The task ARN when running on ECS, else `HOSTNAME-PID`.
pub async fn default_id() -> String {
    if let Ok(uri) = std::env::var(METADATA_ENV) {
        match task_arn(&uri).await {
            Some(arn) => return arn,
            None => tracing::warn!(
                "task metadata endpoint gave no TaskARN; using hostname and pid as the leader-election id"
            ),
        }
    }
    format!("{}-{}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// `GET {uri}/task` → `TaskARN`. The endpoint is plain HTTP on a link-local address.
async fn task_arn(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let exchange = async {
        let mut stream = TcpStream::connect(authority).await.ok()?;
        let request = format!(
            "GET /{path}/task HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer)
    };
    let answer = tokio::time::timeout(METADATA_TIMEOUT, exchange)
        .await
        .ok()??;
    parse_task_arn(&String::from_utf8_lossy(&answer))
}

fn parse_task_arn(http_answer: &str) -> Option<String> {
    let (head, body) = http_answer.split_once("\r\n\r\n")?;
    if head.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    let task: serde_json::Value = serde_json::from_str(body).ok()?;
    task["TaskARN"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_task_arn_from_the_metadata_answer() {
        let answer = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n\
                      {\"Cluster\":\"c\",\"TaskARN\":\"arn:aws:ecs:us-east-1:1:task/c/abc\"}";
        assert_eq!(
            parse_task_arn(answer).as_deref(),
            Some("arn:aws:ecs:us-east-1:1:task/c/abc")
        );
        assert_eq!(parse_task_arn("HTTP/1.0 500 oops\r\n\r\n{}"), None);
    }

    #[test]
    fn hostname_is_never_empty() {
        assert!(!hostname().is_empty());
    }
}
