//! The status page at `/`: what an operator keeps open. Server-rendered with maud, which
//! escapes every value (tag values are user input); no JavaScript. Filtering and search are
//! a GET form (`?state=...&q=...`) answered here.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};

use crate::status::transitions::needs_attention;
use crate::status::{AlbUsage, ChangeRecord, GroupFacts, PassSummary};
use crate::status::{ServiceState, ServiceStatus, StatusReport};

mod service;
mod style;

/// The controller's configuration as the header shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Header {
    pub version: String,
    pub owner_id: String,
    pub clusters: Vec<String>,
    /// `name = ARN`.
    pub listeners: Vec<String>,
    pub interval: String,
    pub dry_run: bool,
    /// Who leads when replicas elect one; `None` for a single replica.
    pub leader: Option<String>,
}

/// The page's filter: a state and a search over names and hosts.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    /// `cluster/name`: that service on its own, above the list.
    #[serde(default)]
    pub service: Option<String>,
}

impl Filter {
    fn state(&self) -> Option<&str> {
        self.state.as_deref().filter(|s| !s.is_empty())
    }

    fn query(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty())
    }

    fn matches(&self, s: &ServiceStatus) -> bool {
        let state_ok = self.state().is_none_or(|want| want == s.state.as_str());
        let query_ok = self.query().is_none_or(|q| {
            format!("{}/{}", s.cluster, s.service)
                .to_lowercase()
                .contains(&q)
                || s.hosts.iter().any(|h| h.to_lowercase().contains(&q))
        });
        state_ok && query_ok
    }
}

/// Sort rank: states needing a person first, then those in motion, published last.
fn rank(state: ServiceState) -> u8 {
    match state {
        s if needs_attention(s) => 0,
        ServiceState::Pending => 1,
        ServiceState::Withdrawn => 2,
        _ => 3,
    }
}

/// The page reloads itself this often (seconds).
const REFRESH_SECONDS: u32 = 15;

/// How long ago an RFC 3339 time was, as a person reads it (`12 s ago`, `3 min ago`).
fn ago(rfc3339: &str) -> Option<String> {
    let then = humantime::parse_rfc3339(rfc3339).ok()?;
    let secs = std::time::SystemTime::now()
        .duration_since(then)
        .unwrap_or_default()
        .as_secs();
    Some(match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    })
}

/// Pass problems shown before the rest fold away, so the services stay on screen.
const PROBLEMS_SHOWN: usize = 3;

/// The whole page.
pub fn render(
    report: &StatusReport,
    header: &Header,
    passes: &[PassSummary],
    filter: &Filter,
) -> String {
    let dry_run = header.dry_run || report.facts.dry_run;
    let mut services: Vec<&ServiceStatus> = report.services.iter().map(AsRef::as_ref).collect();
    services.sort_by_key(|s| (rank(s.state), s.cluster.as_str(), s.service.as_str()));
    let shown: Vec<&ServiceStatus> = services.into_iter().filter(|s| filter.matches(s)).collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Reloads the same address, so the filter in the query stays.
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { "ecs-ingress" }
                style { (PreEscaped(style::CSS)) }
            }
            body {
                @if dry_run {
                    p.banner #dry-run { "Dry run: changes are planned and logged, none is made." }
                }
                (header_section(header, report))
                @if let Some(s) = filter.service.as_deref().and_then(|want| {
                    report.services.iter().find(|s| format!("{}/{}", s.cluster, s.service) == want)
                }) {
                    (service::view(s, report))
                }
                (pass_problems(&report.pass_problems))
                (state_counts(report, filter))
                (albs(&report.facts.albs))
                (filter_form(filter, shown.len(), report.services.len()))
                (services_table(&shown, &report.facts.target_groups, unread(report)))
                (recent_changes(&report.recent_changes))
                (recent_passes(passes))
            }
        }
    }
    .into_string()
}

fn header_section(h: &Header, report: &StatusReport) -> Markup {
    html! {
        header {
            h1 { "ecs-ingress " span.version { (h.version) } }
            dl.facts {
                div { dt { "owner id" } dd { (h.owner_id) } }
                div { dt { "clusters" } dd { (h.clusters.join(", ")) } }
                div { dt { "listeners" } dd { @for l in &h.listeners { span.block { (l) } } } }
                @if !report.facts.zones.is_empty() {
                    div {
                        dt { "hosted zones" }
                        dd {
                            @for z in &report.facts.zones {
                                span.block.zone {
                                    (z.id)
                                    @if let Some(name) = &z.name { " " (name) }
                                    @if let Some(role) = &z.role { " through role " (role) }
                                    @if let Some(problem) = &z.problem { " — unread: " (problem) }
                                }
                            }
                        }
                    }
                }
                div { dt { "interval" } dd { (h.interval) } }
                div { dt { "dry run" } dd { @if h.dry_run { "yes" } @else { "no" } } }
                div { dt { "leader" } dd { (h.leader.as_deref().unwrap_or("single replica")) } }
                div {
                    dt { "last pass" }
                    dd {
                        (report.last_pass.as_deref().unwrap_or("none yet"))
                        @if let Some(ago) = report.last_pass.as_deref().and_then(ago) {
                            " (" (ago) ")"
                        }
                        " "
                        span class=(format!("result {}", report.last_pass_result.as_deref().unwrap_or("none"))) {
                            (report.last_pass_result.as_deref().unwrap_or(""))
                        }
                    }
                }
            }
        }
    }
}

fn pass_problems(problems: &[String]) -> Markup {
    let (first, rest) = problems.split_at(problems.len().min(PROBLEMS_SHOWN));
    html! {
        @if !problems.is_empty() {
            section.problems {
                h2 { "Pass problems (" (problems.len()) ")" }
                ul { @for p in first { li { (p) } } }
                @if !rest.is_empty() {
                    details {
                        summary { (rest.len()) " more" }
                        ul { @for p in rest { li { (p) } } }
                    }
                }
            }
        }
    }
}

fn state_counts(report: &StatusReport, filter: &Filter) -> Markup {
    html! {
        nav.counts aria-label="services by state" {
            a.count.selected[filter.state().is_none()] href="?" { "all " b { (report.services.len()) } }
            @for state in ServiceState::ALL {
                @let n = report.services.iter().filter(|s| s.state == state).count();
                @let selected = if filter.state() == Some(state.as_str()) { " selected" } else { "" };
                a class=(format!("count state-{}{selected}", state.as_str()))
                    href=(format!("?state={}", state.as_str())) {
                    (state.as_str()) " " b { (n) }
                }
            }
        }
    }
}

/// `used / max`, marked when 80% or more is used.
fn usage(used: usize, max: usize) -> Markup {
    let high = max > 0 && used * 5 >= max * 4;
    html! { span.usage.high[high] { (used) " / " (max) } }
}

fn albs(albs: &[AlbUsage]) -> Markup {
    html! {
        @if !albs.is_empty() {
            section {
                h2 { "Load balancers" }
                div.scroll {
                    table.albs {
                        thead { tr { th { "ALB" } th { "pool" } th { "rules" } th { "target groups" } th { "certificates" } th { "" } } }
                        tbody {
                            @for a in albs {
                                tr {
                                    td title=(a.arn) { (a.name) }
                                    td { (a.pool) }
                                    td { (usage(a.rules_used, a.rules_max)) }
                                    td { (usage(a.target_groups_used, a.target_groups_max)) }
                                    td { (usage(a.certificates_used, a.certificates_max)) }
                                    td {
                                        @if a.provisioned { em { "created" } " " }
                                        @if a.draining { em { "draining" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn filter_form(filter: &Filter, shown: usize, total: usize) -> Markup {
    html! {
        form.filter method="get" action="/" role="search" {
            label { "state "
                select name="state" {
                    option value="" selected[filter.state().is_none()] { "all" }
                    @for state in ServiceState::ALL {
                        option value=(state.as_str()) selected[filter.state() == Some(state.as_str())] { (state.as_str()) }
                    }
                }
            }
            label { "search "
                input type="search" name="q" placeholder="service or host" value=(filter.q.as_deref().unwrap_or(""));
            }
            button type="submit" { "filter" }
            span.shown { (shown) " of " (total) " services" }
        }
    }
}

/// `name (2/3 healthy)` of a target-group ARN, with its ALB.
fn group_line(arn: &str, facts: Option<&GroupFacts>) -> Markup {
    let name = arn.rsplit('/').nth(1).unwrap_or(arn);
    html! {
        span.route title=(arn) {
            @if let Some(f) = facts {
                @if !f.albs.is_empty() { (f.albs.join(", ")) " → " }
            }
            (name)
            @match facts.and_then(|f| f.healthy.zip(f.targets)) {
                Some((healthy, targets)) => {
                    " " span.health.unhealthy[healthy == 0] { "(" (healthy) "/" (targets) " healthy)" }
                }
                None => {}
            }
        }
    }
}

/// The last pass read no service at all because its reads failed: the page must not say
/// that no service matches.
fn unread(report: &StatusReport) -> bool {
    report.services.is_empty() && report.last_pass_result.as_deref() == Some("partial")
}

fn services_table(
    services: &[&ServiceStatus],
    groups: &std::collections::BTreeMap<crate::state::SharedStr, GroupFacts>,
    unread: bool,
) -> Markup {
    html! {
        section {
            h2 { "Services" }
            @if unread {
                p.unread { "The last pass could not read the services from AWS (see above)." }
            } @else if services.is_empty() {
                p { "No service matches." }
            } @else {
                table.services {
                    thead { tr { th { "service" } th { "state" } th { "routing" } th { "why" } th { "last change" } } }
                    tbody {
                        @for s in services {
                            tr id=(format!("svc-{}-{}", s.cluster, s.service)) data-state=(s.state.as_str()) {
                                td data-label="service" {
                                    a href=(format!("?service={}/{}", s.cluster, s.service)) { b { (s.cluster) "/" (s.service) } }
                                }
                                td data-label="state" { span class=(format!("badge state-{}", s.state.as_str())) { (s.state.as_str()) } }
                                td data-label="routing" { (routing(s, groups)) }
                                td data-label="why" { (why(s)) }
                                td data-label="last change" { (s.last_change.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn routing(
    s: &ServiceStatus,
    groups: &std::collections::BTreeMap<crate::state::SharedStr, GroupFacts>,
) -> Markup {
    html! {
        @if !s.hosts.is_empty() {
            span.hosts { (s.hosts.join(" ")) }
        }
        @for r in s.resources.iter().filter(|r| r.kind == "target-group") {
            span.block { "→ " (group_line(&r.id, groups.get(&r.id))) }
        }
        @if !s.intent.is_empty() {
            span.block.intent { (s.intent) }
        }
        @if s.hosts.is_empty() && s.intent.is_empty() {
            "—"
        }
    }
}

fn why(s: &ServiceStatus) -> Markup {
    html! {
        @for p in &s.problems {
            span.block.problem {
                @if let Some(key) = &p.key { code { (key) } ": " }
                (p.reason)
            }
        }
        @for w in &s.waiting { span.block.waiting { "waiting: " (w) } }
        @for w in &s.warnings { span.block.warning { "warning: " (w) } }
    }
}

/// What the last passes changed, newest first: an operator sees what happened to a service
/// that changed state or disappeared.
fn recent_changes(changes: &[ChangeRecord]) -> Markup {
    html! {
        @if !changes.is_empty() {
            section #recent-changes {
                h2 { "Recent changes" }
                div.scroll {
                    table.changes {
                        thead { tr { th { "pass" } th { "at" } th { "service" } th { "change" } th { "result" } } }
                        tbody {
                            @for c in changes {
                                tr data-result=(c.result) {
                                    td { (c.pass) }
                                    td title=(c.at) { (ago(&c.at).unwrap_or_else(|| c.at.clone())) }
                                    td { (c.service) }
                                    td { (c.change) }
                                    td {
                                        span class=(format!("result {}", c.result)) { (c.result) }
                                        @if let Some(e) = &c.error { " " span.error { (e) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn recent_passes(passes: &[PassSummary]) -> Markup {
    html! {
        @if !passes.is_empty() {
            section {
                h2 { "Last passes" }
                div.scroll {
                    table.passes {
                        thead { tr { th { "pass" } th { "finished" } th { "duration" } th { "changes" } th { "failed" } th { "AWS calls" } th { "throttled" } th { "result" } } }
                        tbody {
                            @for p in passes.iter().rev() {
                                tr {
                                    td { (p.number) }
                                    td { (p.finished) }
                                    td { (format!("{:.1} s", p.duration_seconds)) }
                                    td { (p.changes) }
                                    td { (p.failed) }
                                    td { (p.aws_calls) }
                                    td { (p.throttles) }
                                    td { span class=(format!("result {}", p.result)) { (p.result) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
