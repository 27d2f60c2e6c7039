//! Per-service status: what `apply` prints, `/status` serves as JSON and `/` as HTML.

use serde::Serialize;

/// Where a managed service stands after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Everything it asks for exists and matches.
    Published,
    /// Changes are planned (or were applied in this pass) and not yet confirmed by a read.
    Pending,
    /// Its tags are wrong; what was already published for it is kept as it was.
    Invalid,
    /// Another service, or a resource ecs-ingress does not own, holds what it asks for.
    Conflict,
    /// Publishing it would exceed an ALB quota; nothing already published is touched.
    Quota,
    /// Its ALB rule is published, but a DNS name it asks for is held by a record ecs-ingress
    /// does not own (or by an older service): that name is not written.
    DnsConflict,
    /// Its routing tags are gone (or the service is): its resources are being removed.
    Withdrawn,
    /// A change for it failed in this pass; the next pass retries.
    Error,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Pending => "pending",
            Self::Invalid => "invalid",
            Self::Conflict => "conflict",
            Self::Quota => "quota",
            Self::DnsConflict => "dns-conflict",
            Self::Withdrawn => "withdrawn",
            Self::Error => "error",
        }
    }

    pub const ALL: [ServiceState; 8] = [
        Self::Published,
        Self::Pending,
        Self::Invalid,
        Self::Conflict,
        Self::Quota,
        Self::DnsConflict,
        Self::Withdrawn,
        Self::Error,
    ];
}

/// One problem, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The routing key concerned, when there is one (`alb.healthcheck.interval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub reason: String,
}

/// An AWS resource made for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    pub kind: String,
    pub id: String,
}

/// The status of one managed service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub cluster: String,
    pub service: String,
    pub service_arn: String,
    pub state: ServiceState,
    /// A one-line summary of the routing intent (`service-a.in.example.com → web:8080`).
    pub intent: String,
    pub hosts: Vec<String>,
    pub resources: Vec<ResourceRef>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    /// What it waits for before it is fully published (healthy targets before its name is
    /// published, a replacement target group getting healthy), with how long where known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    /// RFC 3339 time of the last change applied for it by this process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
}

/// The whole status view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// RFC 3339 time the last pass finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_pass: Option<String>,
    /// `success`, `partial` (some reads or changes failed) or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_pass_result: Option<String>,
    /// Problems with the pass as a whole (a listener that cannot be read, ...).
    pub pass_problems: Vec<String>,
    pub services: Vec<ServiceStatus>,
    /// `{mode: single|leader|standby, id, leader}`; filled in by the admin server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leadership: Option<crate::leadership::LeadershipStatus>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plain HTML page of the report: readable in any browser, no JavaScript. Every value is
/// escaped because tag values are user input.
pub fn render_html(report: &StatusReport) -> String {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ecs-ingress</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
         .published{color:#060}.invalid,.conflict,.quota,.error{color:#a00}</style></head><body>\
         <h1>ecs-ingress</h1>",
    );
    html.push_str(&format!(
        "<p>Last pass: {} ({})</p>",
        escape(report.last_pass.as_deref().unwrap_or("none yet")),
        escape(report.last_pass_result.as_deref().unwrap_or("-"))
    ));
    if let Some(l) = &report.leadership {
        html.push_str(&crate::leadership::render_html(l));
    }
    for problem in &report.pass_problems {
        html.push_str(&format!("<p class=\"error\">{}</p>", escape(problem)));
    }
    html.push_str(
        "<table><tr><th>Cluster</th><th>Service</th><th>State</th><th>Intent</th>\
         <th>Resources</th><th>Problems</th></tr>",
    );
    for s in &report.services {
        let resources: Vec<String> = s
            .resources
            .iter()
            .map(|r| format!("{}: {}", escape(&r.kind), escape(&r.id)))
            .collect();
        let problems: Vec<String> = s
            .problems
            .iter()
            .map(|p| escape(&p.reason))
            .chain(s.warnings.iter().map(|w| format!("warning: {}", escape(w))))
            .collect();
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.cluster),
            escape(&s.service),
            s.state.as_str(),
            s.state.as_str(),
            escape(&s.intent),
            resources.join("<br>"),
            problems.join("<br>")
        ));
    }
    html.push_str("</table></body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_user_input() {
        let report = StatusReport {
            services: vec![ServiceStatus {
                cluster: "main".into(),
                service: "svc".into(),
                service_arn: "arn".into(),
                state: ServiceState::Invalid,
                intent: "<script>alert(1)</script>".into(),
                hosts: vec![],
                resources: vec![],
                problems: vec![Problem {
                    key: Some("alb.port".into()),
                    reason: "alb.port=\"x\" & more".into(),
                }],
                warnings: vec![],
                waiting: vec![],
                last_change: None,
            }],
            ..Default::default()
        };
        let html = render_html(&report);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("alb.port=&quot;x&quot; &amp; more"));
        assert!(html.contains("class=\"invalid\""));
    }
}
