//! One service on its own (`/?service=cluster/name`): where it stands and why, its resources
//! with links to the AWS console, its target groups' health, and what the last passes
//! changed for it.

use maud::{Markup, html};

use super::{ago, group_line, why};
use crate::status::{
    ChangeRecord, ResourceKind, ResourceRef, ServiceStatus, StatusReport, TransitionRecord,
};

/// The service's section, above the list.
pub(super) fn view(s: &ServiceStatus, report: &StatusReport) -> Markup {
    let name = format!("{}/{}", s.cluster, s.service);
    let changes: Vec<&ChangeRecord> = report
        .recent_changes
        .iter()
        .filter(|c| c.service == name)
        .collect();
    let transitions: Vec<&TransitionRecord> = report
        .recent_transitions
        .iter()
        .filter(|t| t.service == name)
        .collect();
    html! {
        section #service {
            h2 {
                (name) " "
                span class=(format!("badge state-{}", s.state.as_str())) { (s.state.as_str()) }
            }
            p { a href="?" { "all services" } }
            dl.facts {
                div { dt { "routing" } dd { (s.intent) } }
                div { dt { "service" } dd {
                    @match console_link(ResourceKind::ServiceAttachment, &s.service_arn, &s.service_arn) {
                        Some(link) => a href=(link) { (s.service_arn) },
                        None => (s.service_arn),
                    }
                } }
                div { dt { "last change" } dd { (s.last_change.as_deref().unwrap_or("none by this process")) } }
            }
            (why(s))
            @if !s.pending.is_empty() {
                h3 { "Not yet made" }
                ul.pending { @for c in &s.pending { li { (c) } } }
            }
            @if !s.keys.is_empty() {
                h3 { "Routing keys" }
                ul.keys {
                    @for (key, source) in &s.keys {
                        li { code { (key) } " from its " (source) }
                    }
                }
            }
            h3 { "Resources" }
            ul.resources {
                @for r in &s.resources {
                    li { (resource(r, s, report)) }
                }
            }
            @if !transitions.is_empty() {
                h3 { "Its states" }
                ul.transitions {
                    @for t in transitions {
                        li {
                            span title=(t.at) { (ago(&t.at).unwrap_or_else(|| t.at.clone())) }
                            " · pass " (t.pass) " · "
                            (t.from.map_or("new", |f| f.as_str())) " → "
                            span class=(format!("badge state-{}", t.to.as_str())) { (t.to.as_str()) }
                            " · " (t.reason)
                        }
                    }
                }
            }
            h3 { "Recent changes" }
            @if changes.is_empty() {
                p { "None in the last passes this process remembers." }
            } @else {
                ul.changes {
                    @for c in changes {
                        li data-result=(c.result) {
                            span title=(c.at) { (ago(&c.at).unwrap_or_else(|| c.at.clone())) }
                            " · pass " (c.pass) " · " (c.change) " · "
                            span class=(format!("result {}", c.result)) { (c.result) }
                            @if let Some(e) = &c.error { " " span.error { (e) } }
                        }
                    }
                }
            }
        }
    }
}

fn resource(r: &ResourceRef, s: &ServiceStatus, report: &StatusReport) -> Markup {
    html! {
        code { (r.kind.as_str()) } " "
        @match console_link(r.kind, &r.id, &s.service_arn) {
            Some(link) => a href=(link) title="open in the AWS console" { (r.id) },
            None => (r.id),
        }
        @if r.kind == ResourceKind::TargetGroup {
            " " (group_line(&r.id, report.facts.target_groups.get(&r.id)))
        }
    }
}

/// The AWS console page of a resource, where its ARN says the region.
fn console_link(kind: ResourceKind, id: &str, service_arn: &str) -> Option<String> {
    let region_of = |arn: &str| {
        arn.split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
    };
    match kind {
        ResourceKind::TargetGroup => {
            let region = region_of(id)?;
            Some(format!(
                "https://{region}.console.aws.amazon.com/ec2/home?region={region}#TargetGroup:targetGroupArn={id}"
            ))
        }
        ResourceKind::ListenerRule => {
            let region = region_of(id)?;
            Some(format!(
                "https://{region}.console.aws.amazon.com/ec2/home?region={region}#ListenerRuleDetails:ruleArn={id}"
            ))
        }
        ResourceKind::ServiceAttachment => {
            let region = region_of(service_arn)?;
            let (cluster, name) = service_arn.split_once(":service/")?.1.split_once('/')?;
            Some(format!(
                "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/services/{name}?region={region}"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_links_follow_the_arn_region() {
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/ei-web/abc";
        let svc = "arn:aws:ecs:eu-west-1:1:service/main/web";
        assert_eq!(
            console_link(ResourceKind::TargetGroup, tg, svc).as_deref(),
            Some(
                "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#TargetGroup:targetGroupArn=arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/ei-web/abc"
            )
        );
        assert_eq!(
            console_link(ResourceKind::ServiceAttachment, svc, svc).as_deref(),
            Some(
                "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/main/services/web?region=eu-west-1"
            )
        );
        assert_eq!(
            console_link(ResourceKind::DnsRecord, "a.example.com A", svc),
            None
        );
        assert_eq!(
            console_link(ResourceKind::TargetGroup, "not-an-arn", svc),
            None
        );
    }
}
