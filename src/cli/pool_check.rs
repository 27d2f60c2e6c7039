//! Start-up checks of the pools (`--listener NAME=ARN` given several times) that only AWS
//! can answer: every member exists, sits on its own ALB, and shares the pool's port and
//! protocol. A bad pool stops the process with one line naming the flag and value, before
//! any pass places a service on it.

use std::collections::BTreeMap;

use crate::aws::{Aws, AwsError, ErrorKind};
use crate::config::Config;
use crate::state::Listener;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("--listener {pool}={arn}: no such listener")]
    Missing { pool: String, arn: String },
    #[error(
        "--listener {pool}={arn}: it is on load balancer {load_balancer} like {other}; each listener of a pool must be on its own ALB"
    )]
    SameLoadBalancer {
        pool: String,
        arn: String,
        other: String,
        load_balancer: String,
    },
    #[error(
        "--listener {pool}={arn}: {found} differs from {first} ({expected}); a pool's listeners share port and protocol"
    )]
    Mixed {
        pool: String,
        arn: String,
        /// `HTTP port 8080`.
        found: String,
        first: String,
        expected: String,
    },
    #[error("--listener {pool}: cannot read the pool's listeners: {source}")]
    Read {
        pool: String,
        #[source]
        source: AwsError,
    },
}

/// Checks every pool of more than one listener.
pub async fn check(aws: &Aws, config: &Config) -> Result<(), PoolError> {
    for (pool, members) in config.pools.members.iter().filter(|(_, m)| m.len() > 1) {
        let mut read: Vec<Listener> = Vec::new();
        for arn in members {
            read.push(describe(aws, pool, arn).await?);
        }
        consistent(pool, &read)?;
    }
    Ok(())
}

async fn describe(aws: &Aws, pool: &str, arn: &str) -> Result<Listener, PoolError> {
    let missing = || PoolError::Missing {
        pool: pool.to_string(),
        arn: arn.to_string(),
    };
    match aws.elb.describe_listeners(&[arn.to_string()]).await {
        Ok(found) => found.into_iter().find(|l| l.arn == arn).ok_or_else(missing),
        Err(e) if e.kind == ErrorKind::NotFound => Err(missing()),
        Err(source) => Err(PoolError::Read {
            pool: pool.to_string(),
            source,
        }),
    }
}

fn port_and_protocol(l: &Listener) -> String {
    format!(
        "{} port {}",
        l.protocol.as_deref().unwrap_or("?"),
        l.port.map_or_else(|| "?".to_string(), |p| p.to_string())
    )
}

/// One ALB per member; the first member's port and protocol for all.
fn consistent(pool: &str, listeners: &[Listener]) -> Result<(), PoolError> {
    let Some(first) = listeners.first() else {
        return Ok(());
    };
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for l in listeners {
        if let Some(other) = seen.insert(&l.load_balancer_arn, &l.arn) {
            return Err(PoolError::SameLoadBalancer {
                pool: pool.to_string(),
                arn: l.arn.clone(),
                other: other.to_string(),
                load_balancer: l.load_balancer_arn.clone(),
            });
        }
        if (l.port, &l.protocol) != (first.port, &first.protocol) {
            return Err(PoolError::Mixed {
                pool: pool.to_string(),
                arn: l.arn.clone(),
                found: port_and_protocol(l),
                first: first.arn.clone(),
                expected: port_and_protocol(first),
            });
        }
    }
    Ok(())
}
