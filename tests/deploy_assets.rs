//! The dashboard, the alerts (the chart's and their rendered rules file) and the operations
//! guide only name metrics the controller exports.

use std::collections::BTreeSet;

use ecs_ingress::telemetry::{ChangeLabels, KindLabel, Metrics, PassKind, PassResult, StateLabel};

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Every `ecs_ingress_*` name in a text, with histogram suffixes removed.
fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("ecs_ingress_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
            .collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        out.insert(base.trim_end_matches('_').to_string());
    }
    out
}

/// What `/metrics` exports: the `# TYPE` lines (counters with their `_total` sample name,
/// info metrics as their `_info` sample), with one series in every labelled family (empty
/// families are not printed).
fn exported() -> BTreeSet<String> {
    let m = Metrics::new(ecs_ingress::aws::OPERATIONS);
    m.record_pass(PassKind::Full, PassResult::Success, 0.1);
    m.record_event("ecs-service-action");
    m.services
        .get_or_create(&StateLabel {
            state: "published".into(),
        })
        .set(1);
    let kind = KindLabel {
        kind: "target-group".into(),
    };
    m.managed_resources.get_or_create(&kind).set(1);
    m.drift_repairs.get_or_create(&kind).inc();
    m.changes
        .get_or_create(&ChangeLabels {
            kind: "target-group".into(),
            action: "create".into(),
            result: "applied".into(),
        })
        .inc();
    m.record_aws_call("ecs", "ListServices", "throttled", 0.1, true);
    m.capacity.record(
        &[ecs_ingress::status::AlbUsage {
            arn: "arn:lb".into(),
            name: "lb".into(),
            pool: "internal".into(),
            rules_used: 1,
            rules_max: 100,
            target_groups_used: 1,
            target_groups_max: 100,
            certificates_used: 0,
            certificates_max: 25,
            provisioned: false,
            draining: false,
        }],
        &[("internal".into(), true)],
    );
    let text = m.encode();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        {
            match kind {
                // An info metric's only sample is `NAME_info`.
                "info" => {
                    out.insert(format!("{name}_info"));
                }
                "counter" => {
                    out.insert(name.to_string());
                    out.insert(format!("{name}_total"));
                }
                _ => {
                    out.insert(name.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn referenced_metrics_exist() {
    let exported = exported();
    assert!(
        exported.contains("ecs_ingress_passes_total"),
        "{exported:?}"
    );
    for file in [
        "charts/ecs-ingress/dashboards/ecs-ingress.json",
        "charts/ecs-ingress/templates/_helpers.tpl",
        "deploy/prometheus/ecs-ingress.rules.yaml",
    ] {
        let used = names(&read(file));
        assert!(!used.is_empty(), "{file} names no metric");
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses unknown metrics {unknown:?}"
        );
    }
    // The guide's table lists names without the prefix.
    let guide = read("docs/operations.md");
    for name in &exported {
        let short = name.trim_start_matches("ecs_ingress_");
        assert!(
            guide.contains(&format!("`{short}`")) || guide.contains(&format!("`{short}_total`")),
            "docs/operations.md does not document {name}"
        );
    }
}

#[test]
fn dashboard_is_valid_json_with_panels() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("charts/ecs-ingress/dashboards/ecs-ingress.json"))
            .expect("valid JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    for p in panels {
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
    }
}
