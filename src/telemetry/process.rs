//! The standard `process_*` metrics (CPU time, resident memory, open file descriptors,
//! start time), read from `/proc` at scrape time. Where `/proc` is missing (not Linux) or a
//! file cannot be read, the affected metrics are left out of the scrape rather than
//! reported as zero.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second of the times in `/proc/<pid>/stat` (USER_HZ). It is 100 on every
/// mainstream Linux architecture and fixed in the kernel's ABI; Prometheus's own Go
/// collector hard-codes it too, which avoids a `sysconf` call through unsafe FFI.
const USER_HZ: f64 = 100.0;

/// What one scrape reads.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ProcessSample {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<i64>,
    pub open_fds: Option<i64>,
    pub start_time_seconds: Option<f64>,
}

#[derive(Debug, Default)]
pub(crate) struct ProcessCollector {}

impl ProcessCollector {
    pub(crate) fn new() -> Self {
        Self {}
    }
}

/// `utime + stime` (seconds) and `starttime` (seconds since boot) from `/proc/self/stat`.
fn parse_stat(stat: &str) -> Option<(f64, f64)> {
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (state): field N is `fields[N - 3]`.
    let ticks = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    let cpu = (ticks(14)? + ticks(15)?) / USER_HZ;
    let start = ticks(22)? / USER_HZ;
    Some((cpu, start))
}

/// `VmRSS` (kB) from `/proc/self/status`, in bytes.
fn parse_rss(status: &str) -> Option<i64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `btime` (boot time, Unix seconds) from `/proc/stat`.
fn parse_boot_time(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reads the current process's figures.
pub(crate) fn sample() -> ProcessSample {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s));
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_boot_time(&s));
    ProcessSample {
        cpu_seconds: stat.map(|(cpu, _)| cpu),
        resident_bytes: std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| parse_rss(&s)),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as i64),
        start_time_seconds: stat
            .zip(boot)
            .map(|((_, since_boot), boot)| boot + since_boot),
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = sample();
        if let Some(v) = s.cpu_seconds {
            let m = ConstCounter::new(v);
            m.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                m.metric_type(),
            )?)?;
        }
        if let Some(v) = s.resident_bytes {
            let m = ConstGauge::new(v);
            m.encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                m.metric_type(),
            )?)?;
        }
        if let Some(v) = s.open_fds {
            let m = ConstGauge::new(v);
            m.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors",
                None,
                m.metric_type(),
            )?)?;
        }
        if let Some(v) = s.start_time_seconds {
            let m = ConstGauge::new(v);
            m.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                None,
                m.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat =
            "42 (odd ) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1234 100000 500";
        assert_eq!(parse_stat(stat), Some((3.0, 12.34)));
        assert_eq!(parse_stat("42 (x) S 1"), None);
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t   2048 kB\nVmSwap: 0 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_boot_time("cpu 1 2\nbtime 1700000000\n"), Some(1.7e9));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let s = sample();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        assert!(s.cpu_seconds.is_some_and(|c| c >= 0.0), "{s:?}");
        assert!(s.resident_bytes.is_some_and(|r| r > 0), "{s:?}");
        assert!(s.open_fds.is_some_and(|n| n >= 3), "{s:?}");
        // Started within the last day and not in the future (tick rounding aside).
        assert!(
            s.start_time_seconds
                .is_some_and(|t| t <= now + 1.0 && t > now - 86_400.0),
            "{s:?}"
        );
    }
}
