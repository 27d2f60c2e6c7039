//! The two text formats `/metrics` serves: OpenMetrics to scrapers that ask for it, the
//! Prometheus text format (0.0.4) to every other one (older Prometheus servers, agents and
//! `curl`, which read `# EOF`, `info` and counter names without `_total` wrongly or not at all).

use std::collections::HashMap;

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
    /// `text/plain; version=0.0.4`.
    Prometheus,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The format for a request's `Accept` header: OpenMetrics when it is acceptable and
/// preferred at least as much as plain text, else the Prometheus text format.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Prometheus;
    };
    let mut openmetrics = 0.0_f32;
    let mut other = 0.0_f32;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let mut q = 1.0_f32;
        for param in parts {
            match param.split_once('=') {
                // A malformed weight makes the range unacceptable rather than preferred.
                Some((key, value)) if key.trim().eq_ignore_ascii_case("q") => {
                    q = value.trim().parse().unwrap_or(0.0);
                }
                _ => {}
            }
        }
        if media == "application/openmetrics-text" {
            openmetrics = openmetrics.max(q);
        } else if media == "text/plain" || media == "*/*" || media == "text/*" {
            other = other.max(q);
        }
    }
    if openmetrics > 0.0 && openmetrics >= other {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// Rewrites OpenMetrics text as the Prometheus text format: the 0.0.4 `# TYPE`/`# HELP`
/// lines name the sample (`x_total` for a counter, `x_info` for an info metric, which
/// becomes a gauge); `# UNIT` and `# EOF` do not exist there. Samples are the same.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut types: HashMap<&str, &str> = HashMap::new();
    for line in openmetrics.lines() {
        if let Some((name, kind)) = line.strip_prefix("# TYPE ").and_then(|r| r.split_once(' ')) {
            types.insert(name, kind);
        }
    }
    let renamed = |name: &str| -> String {
        match types.get(name).copied() {
            Some("counter") => format!("{name}_total"),
            Some("info") => format!("{name}_info"),
            _ => name.to_string(),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some((name, kind)) = line.strip_prefix("# TYPE ").and_then(|r| r.split_once(' ')) {
            let kind = match kind {
                "info" | "stateset" => "gauge",
                "gaugehistogram" => "histogram",
                "unknown" => "untyped",
                k => k,
            };
            out.push_str(&format!("# TYPE {} {kind}\n", renamed(name)));
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", renamed(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics_first() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4;q=1,*/*;q=0.1")),
            Format::Prometheus
        );
        assert_eq!(negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(negotiate(None), Format::Prometheus);
        assert_eq!(
            negotiate(Some(
                "application/openmetrics-text; q=0.2, text/plain; q=0.9"
            )),
            Format::Prometheus
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text; q=nonsense")),
            Format::Prometheus
        );
    }

    #[test]
    fn rewrites_descriptors_not_samples() {
        let om = "# HELP a_passes Passes.\n# TYPE a_passes counter\na_passes_total{result=\"x\"} 1\n# HELP a_build Build.\n# TYPE a_build info\na_build_info{version=\"1\"} 1\n# HELP a_up Up.\n# TYPE a_up gauge\n# UNIT a_up seconds\na_up 2\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP a_passes_total Passes.\n# TYPE a_passes_total counter\na_passes_total{result=\"x\"} 1\n# HELP a_build_info Build.\n# TYPE a_build_info gauge\na_build_info{version=\"1\"} 1\n# HELP a_up Up.\n# TYPE a_up gauge\na_up 2\n"
        );
    }
}
