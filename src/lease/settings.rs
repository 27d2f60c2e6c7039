//! `--leader-election-*`: the flags and their validated settings (a leaf: the
//! configuration uses it without depending on the election itself).

/// `--leader-election-*`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// DynamoDB table with partition key `lock` (String).
    pub table: String,
    /// How long a record must stay unchanged before a standby takes over.
    pub lease: std::time::Duration,
    /// This replica's id in the record; `None`: the ECS task ARN, else hostname and pid.
    pub id: Option<String>,
}

/// The shortest lease accepted: a third of it is the renewal period, which must leave room
/// for a DynamoDB round trip with the SDK's retries.
pub const MIN_LEASE: std::time::Duration = std::time::Duration::from_secs(3);

/// `--leader-election-*` as given (flattened into every subcommand's options; only `run`
/// campaigns).
#[derive(Debug, Clone, clap::Args)]
pub struct LeaderElectionArgs {
    /// DynamoDB table holding the leader lease (partition key `lock`, String). Turns leader
    /// election on: run two replicas with the same --owner-id, one writes at a time.
    #[arg(long = "leader-election-table", env = "ECS_INGRESS_LEADER_ELECTION_TABLE",
          value_name = "TABLE", value_parser = parse_table)]
    pub table: Option<String>,

    /// How long the leader's record must stay unrenewed before a standby takes over (at
    /// least 3s). The leader renews every third of it.
    #[arg(long = "leader-election-lease", env = "ECS_INGRESS_LEADER_ELECTION_LEASE",
          default_value = "15s", value_parser = parse_lease)]
    pub lease: std::time::Duration,

    /// This replica's name in the lease record; unique per replica. Default: the ECS task
    /// ARN, else hostname and pid.
    #[arg(long = "leader-election-id", env = "ECS_INGRESS_LEADER_ELECTION_ID",
          value_name = "ID", value_parser = parse_id)]
    pub id: Option<String>,
}

impl LeaderElectionArgs {
    /// `None` when leader election is off (no table).
    pub fn settings(self) -> Option<LeaseSettings> {
        Some(LeaseSettings {
            table: self.table?,
            lease: self.lease,
            id: self.id,
        })
    }
}

fn parse_table(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = (3..=255).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "`{value}` is not a DynamoDB table name (3-255 letters, digits, `_`, `-`, `.`)"
        ))
    }
}

fn parse_lease(value: &str) -> Result<std::time::Duration, String> {
    let lease = humantime::parse_duration(value.trim())
        .map_err(|e| format!("`{value}` is not a duration like 15s: {e}"))?;
    if !(MIN_LEASE..=std::time::Duration::from_secs(600)).contains(&lease) {
        return Err(format!("`{value}`: the lease must be between 3s and 10m"));
    }
    Ok(lease)
}

fn parse_id(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() || v.len() > 1024 || v.chars().any(char::is_control) {
        return Err("leader-election id must be 1-1024 printable characters".into());
    }
    Ok(v.to_string())
}
