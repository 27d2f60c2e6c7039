use super::*;

const SERVICE: &str = "arn:aws:ecs:eu-west-1:123456789012:service/main/web";
const RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/lb/1/2/3";
const GROUP: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ei-web-1/4";

fn service() -> EventTarget {
    EventTarget::Service(ServiceArn::parse(SERVICE).expect("a service ARN"))
}

fn family(f: &str) -> EventTarget {
    EventTarget::TaskDefinitionFamily(f.into())
}

fn elb(arn: &str, attributes: bool) -> EventTarget {
    EventTarget::ElbResource {
        arn: arn.into(),
        attributes,
    }
}

/// An EventBridge envelope around `detail`, in eu-west-1 of account 123456789012.
fn event(source: &str, detail_type: &str, resources: &[&str], detail: &str) -> String {
    format!(
        r#"{{"version":"0","source":"{source}","detail-type":"{detail_type}","account":"123456789012","region":"eu-west-1","resources":{},"detail":{detail}}}"#,
        serde_json::to_string(resources).expect("json")
    )
}

fn trail(source: &str, event_source: &str, name: &str, request: &str) -> String {
    event(
        source,
        "AWS API Call via CloudTrail",
        &[],
        &format!(
            r#"{{"eventSource":"{event_source}","eventName":"{name}","userAgent":"aws-cli/2.15","requestParameters":{request}}}"#
        ),
    )
}

fn ecs_trail(name: &str, request: &str) -> String {
    trail("aws.ecs", "ecs.amazonaws.com", name, request)
}

fn elb_trail(name: &str, request: &str) -> String {
    trail(
        "aws.elasticloadbalancing",
        "elasticloadbalancing.amazonaws.com",
        name,
        request,
    )
}

#[test]
fn each_event_shape_names_what_it_is_about() {
    let cases: Vec<(&str, String, EventType, Vec<EventTarget>)> = vec![
        (
            "service action",
            event("aws.ecs", "ECS Service Action", &[SERVICE], r#"{"eventName":"SERVICE_STEADY_STATE"}"#),
            EventType::ServiceAction,
            vec![service()],
        ),
        (
            "deployment",
            event("aws.ecs", "ECS Deployment State Change", &[SERVICE], r#"{"eventName":"SERVICE_DEPLOYMENT_COMPLETED"}"#),
            EventType::DeploymentStateChange,
            vec![service()],
        ),
        (
            "task of a service",
            event("aws.ecs", "ECS Task State Change", &[], r#"{"group":"service:web","clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/main","lastStatus":"RUNNING"}"#),
            EventType::TaskStateChange,
            vec![service()],
        ),
        (
            "standalone task",
            event("aws.ecs", "ECS Task State Change", &[], r#"{"group":"family:batch","clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/main"}"#),
            EventType::TaskStateChange,
            vec![],
        ),
        (
            "create service (response)",
            ecs_trail("CreateService", r#"{"serviceName":"web"}"#).replace(
                r#""requestParameters""#,
                &format!(r#""responseElements":{{"service":{{"serviceArn":"{SERVICE}"}}}},"requestParameters""#),
            ),
            EventType::EcsApiCall,
            vec![service()],
        ),
        (
            "update service by cluster and name",
            ecs_trail("UpdateService", r#"{"cluster":"main","service":"web"}"#),
            EventType::EcsApiCall,
            vec![service()],
        ),
        (
            "delete service by ARNs",
            ecs_trail("DeleteService", &format!(r#"{{"cluster":"arn:aws:ecs:eu-west-1:123456789012:cluster/main","service":"{SERVICE}"}}"#)),
            EventType::EcsApiCall,
            vec![service()],
        ),
        (
            "tag a service",
            ecs_trail("TagResource", &format!(r#"{{"resourceArn":"{SERVICE}","tags":[]}}"#)),
            EventType::EcsApiCall,
            vec![service()],
        ),
        (
            "untag a task definition",
            ecs_trail("UntagResource", r#"{"resourceArn":"arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"}"#),
            EventType::EcsApiCall,
            vec![family("web")],
        ),
        (
            "tag a cluster",
            ecs_trail("TagResource", r#"{"resourceArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/main"}"#),
            EventType::EcsApiCall,
            vec![],
        ),
        (
            "register a task definition",
            ecs_trail("RegisterTaskDefinition", r#"{"family":"web"}"#),
            EventType::EcsApiCall,
            vec![family("web")],
        ),
        (
            "tag without a resource",
            ecs_trail("TagResource", "{}"),
            EventType::EcsApiCall,
            vec![EventTarget::Everything],
        ),
        (
            "modify rule",
            elb_trail("ModifyRule", &format!(r#"{{"ruleArn":"{RULE}"}}"#)),
            EventType::ElbApiCall,
            vec![elb(RULE, false)],
        ),
        (
            "delete rule",
            elb_trail("DeleteRule", &format!(r#"{{"ruleArn":"{RULE}"}}"#)),
            EventType::ElbApiCall,
            vec![elb(RULE, false)],
        ),
        (
            "set rule priorities",
            elb_trail("SetRulePriorities", &format!(r#"{{"rulePriorities":[{{"ruleArn":"{RULE}","priority":5}}]}}"#)),
            EventType::ElbApiCall,
            vec![elb(RULE, false)],
        ),
        (
            "modify target group",
            elb_trail("ModifyTargetGroup", &format!(r#"{{"targetGroupArn":"{GROUP}"}}"#)),
            EventType::ElbApiCall,
            vec![elb(GROUP, false)],
        ),
        (
            "modify target group attributes",
            elb_trail("ModifyTargetGroupAttributes", &format!(r#"{{"targetGroupArn":"{GROUP}"}}"#)),
            EventType::ElbApiCall,
            vec![elb(GROUP, true)],
        ),
        (
            "delete target group",
            elb_trail("DeleteTargetGroup", &format!(r#"{{"targetGroupArn":"{GROUP}"}}"#)),
            EventType::ElbApiCall,
            vec![elb(GROUP, false)],
        ),
        (
            "deregister targets",
            elb_trail("DeregisterTargets", &format!(r#"{{"targetGroupArn":"{GROUP}","targets":[]}}"#)),
            EventType::ElbApiCall,
            vec![elb(GROUP, false)],
        ),
        (
            "route 53 change, marker folded into its name",
            trail("aws.route53", "route53.amazonaws.com", "ChangeResourceRecordSets", r#"{"hostedZoneId":"/hostedzone/z0abc","changeBatch":{"changes":[{"action":"DELETE","resourceRecordSet":{"name":"Web.in.example.com."}},{"action":"DELETE","resourceRecordSet":{"name":"_ecs-ingress.web.in.example.com."}}]}}"#),
            EventType::Route53ApiCall,
            vec![EventTarget::DnsName { zone_id: "Z0ABC".into(), name: "web.in.example.com".into() }],
        ),
        (
            "tag change event",
            event("aws.tag", "Tag Change on Resource", &[SERVICE], r#"{"changed-tag-keys":["alb.host"]}"#),
            EventType::TagChange,
            vec![service()],
        ),
        (
            "anything else",
            event("aws.ecs", "ECS Container Instance State Change", &[], "{}"),
            EventType::Other,
            vec![EventTarget::Everything],
        ),
    ];
    for (case, body, event_type, targets) in cases {
        let parsed = parse_event(&body).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(parsed.event_type, event_type, "{case}");
        assert_eq!(parsed.targets, targets, "{case}");
    }
}

#[test]
fn failed_calls_and_ecs_ingress_own_calls_concern_nothing() {
    let failed = elb_trail("ModifyRule", &format!(r#"{{"ruleArn":"{RULE}"}}"#)).replace(
        r#""eventName""#,
        r#""errorCode":"AccessDenied","eventName""#,
    );
    let ours = elb_trail("ModifyRule", &format!(r#"{{"ruleArn":"{RULE}"}}"#)).replace(
        "aws-cli/2.15",
        "aws-sdk-rust/1.3 os/linux lang/rust/1.85 app/ecs-ingress",
    );
    for body in [failed, ours] {
        let parsed = parse_event(&body).expect("well-formed");
        assert_eq!(parsed.event_type, EventType::ElbApiCall);
        assert!(parsed.targets.is_empty(), "{body}");
    }
}

#[test]
fn service_arns_need_a_cluster() {
    assert_eq!(
        ServiceArn::parse(SERVICE).map(|a| a.cluster().to_string()),
        Some("main".into())
    );
    for bad in [
        "arn:aws:ecs:eu-west-1:123456789012:service/web",
        "arn:aws:ecs:eu-west-1:123456789012:service//web",
        "service/main/web",
        "",
    ] {
        assert_eq!(ServiceArn::parse(bad), None, "{bad}");
    }
    let old_format = event(
        "aws.ecs",
        "ECS Service Action",
        &["arn:aws:ecs:eu-west-1:123456789012:service/web"],
        "{}",
    );
    assert_eq!(
        parse_event(&old_format).map(|e| e.targets).ok(),
        Some(vec![EventTarget::Everything])
    );
    assert_eq!(task_definition_family("web:3"), Some("web".into()));
    assert_eq!(
        task_definition_family("arn:aws-cn:ecs:cn-north-1:1:task-definition/api:12"),
        Some("api".into())
    );
    assert_eq!(task_definition_family("arn:aws:ecs:r:1:cluster/x"), None);
}

#[test]
fn malformed_messages_are_rejected() {
    for bad in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"source":1,"detail-type":"x"}"#,
        r#"{"source":"aws.ecs"}"#,
    ] {
        assert!(parse_event(bad).is_err(), "{bad}");
    }
}
