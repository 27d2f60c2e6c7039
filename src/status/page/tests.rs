use std::sync::Arc;

use super::*;
use crate::model::{KeySources, Source};
use crate::status::Problem;

fn service(name: &str, state: ServiceState, host: &str) -> ServiceStatus {
    ServiceStatus {
        intent: format!("{host} → {name}:80"),
        hosts: vec![host.into()],
        ..crate::testing::service_status(
            &format!("arn:aws:ecs:r:1:service/main/{name}"),
            name,
            state,
        )
    }
}

fn report() -> StatusReport {
    let mut bad = service("bad", ServiceState::Invalid, "bad.example.com");
    bad.intent = "<script>alert(1)</script>".into();
    bad.problems.push(Problem {
        key: Some("alb.port".into()),
        reason: "alb.port=\"x\" & more".into(),
    });
    StatusReport {
        services: vec![
            Arc::new(service("web", ServiceState::Published, "web.example.com")),
            Arc::new(bad),
            Arc::new(service("dns", ServiceState::DnsConflict, "dns.example.com")),
        ],
        pass_problems: (0..10).map(|n| format!("left alone {n}")).collect(),
        ..Default::default()
    }
}

#[test]
fn user_input_is_escaped() {
    let page = render(&report(), &Header::default(), &[], &Filter::default());
    assert!(!page.contains("<script>"));
    assert!(page.contains("&lt;script&gt;"));
    assert!(page.contains("alb.port=&quot;x&quot; &amp; more"));
}

#[test]
fn problems_come_first_and_every_state_has_a_colour() {
    let page = render(&report(), &Header::default(), &[], &Filter::default());
    let bad = page.find("svc-main-bad").expect("bad listed");
    let dns = page.find("svc-main-dns").expect("dns listed");
    let web = page.find("svc-main-web").expect("web listed");
    assert!(bad < web && dns < web);
    for state in ServiceState::ALL {
        let rule = format!(".state-{}.badge {{ background", state.as_str());
        assert!(style::CSS.contains(&rule), "{rule}");
    }
}

#[test]
fn filter_by_state_and_search() {
    let by_state = Filter {
        state: Some("dns-conflict".into()),
        q: None,
        service: None,
    };
    let page = render(&report(), &Header::default(), &[], &by_state);
    assert!(page.contains("svc-main-dns") && !page.contains("svc-main-web"));
    let by_host = Filter {
        state: None,
        q: Some("WEB.example".into()),
        service: None,
    };
    let page = render(&report(), &Header::default(), &[], &by_host);
    assert!(page.contains("svc-main-web") && !page.contains("svc-main-bad"));
}

#[test]
fn long_problem_lists_fold_and_header_shows_dry_run_and_leader() {
    let header = Header {
        dry_run: true,
        ..Default::default()
    };
    let page = render(&report(), &header, &[], &Filter::default());
    assert!(page.contains("id=\"dry-run\""));
    assert!(page.contains("single replica"));
    assert!(page.contains("<details><summary>7 more</summary>"));
}

#[test]
fn the_header_shows_each_zone_with_its_role_and_why_it_is_unread() {
    let mut report = report();
    Arc::make_mut(&mut report.facts).zones = vec![
        crate::status::ZoneFacts {
            id: "ZOWN".into(),
            name: Some("in.example.com".into()),
            account: "default".into(),
            role: None,
            problem: None,
        },
        crate::status::ZoneFacts {
            id: "ZCENTRAL".into(),
            name: None,
            account: "222222222222".into(),
            role: Some("arn:aws:iam::222222222222:role/dns".into()),
            problem: Some("cannot assume role".into()),
        },
    ];
    let page = render(&report, &Header::default(), &[], &Filter::default());
    assert!(page.contains("ZOWN in.example.com"), "{page}");
    assert!(page.contains("ZCENTRAL through role arn:aws:iam::222222222222:role/dns"));
    assert!(page.contains("unread: cannot assume role"));
}

#[test]
fn a_pass_that_read_nothing_says_so_and_not_that_no_service_matches() {
    let report = StatusReport {
        last_pass_result: Some("partial".into()),
        pass_problems: vec!["cannot reach AWS (...). Check the network path".into()],
        services: vec![],
        ..report()
    };
    let page = render(&report, &Header::default(), &[], &Filter::default());
    assert!(
        page.contains("could not read the services from AWS"),
        "{page}"
    );
    assert!(!page.contains("No service matches."));
    assert!(page.contains("Check the network path"));
}

#[test]
fn recent_changes_are_listed_newest_first_with_failures() {
    let mut report = report();
    report.recent_changes = vec![
        crate::status::ChangeRecord {
            pass: 7,
            at: "2026-12-03T12:00:07Z".into(),
            service: "main/gone".into(),
            change: "delete listener-rule rule/9".into(),
            result: "applied",
            error: None,
        },
        crate::status::ChangeRecord {
            pass: 6,
            at: "2026-12-03T12:00:06Z".into(),
            service: "main/web".into(),
            change: "create target-group ei-web".into(),
            result: "failed",
            error: Some("TooManyTargetGroups".into()),
        },
    ];
    let page = render(&report, &Header::default(), &[], &Filter::default());
    let gone = page
        .find("main/gone")
        .expect("the withdrawn service's change is listed");
    let web = page
        .find("create target-group ei-web")
        .expect("the failed change");
    assert!(gone < web, "newest first");
    assert!(page.contains("TooManyTargetGroups"));
    assert!(page.contains("id=\"recent-changes\""));
}

#[test]
fn the_page_refreshes_itself_and_says_how_long_ago() {
    let mut report = report();
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    report.last_pass = Some(now);
    let page = render(&report, &Header::default(), &[], &Filter::default());
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(page.contains(" s ago)"), "{page}");
    assert_eq!(
        ago("2000-01-01T00:00:00Z").map(|a| a.ends_with(" d ago")),
        Some(true)
    );
    assert_eq!(ago("not a time"), None);
}

#[test]
fn one_service_on_its_own_with_its_resources_and_changes() {
    let mut report = report();
    report.recent_changes = vec![crate::status::ChangeRecord {
        pass: 3,
        at: "2026-12-03T12:00:03Z".into(),
        service: "main/web".into(),
        change: "create listener-rule host web.example.com".into(),
        result: "applied",
        error: None,
    }];
    Arc::make_mut(&mut report.services[0])
        .resources
        .push(crate::status::ResourceRef {
            kind: crate::status::ResourceKind::TargetGroup,
            id: "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/ei-web/abc".into(),
        });
    report.recent_transitions = vec![crate::status::TransitionRecord {
        pass: 2,
        at: "2026-12-03T12:00:02Z".into(),
        service: "main/web".into(),
        from: Some(ServiceState::Pending),
        to: ServiceState::Published,
        reason: "web.example.com → web:80".into(),
    }];
    Arc::make_mut(&mut report.services[0]).keys =
        KeySources::from_iter([("alb.host", Source::TaskDefinitionTag)]);
    Arc::make_mut(&mut report.services[0])
        .pending
        .push("held back: delete listener-rule rule/1".into());
    let wanted = report.services[0].clone();
    let filter = Filter {
        service: Some(format!("{}/{}", wanted.cluster, wanted.service)),
        ..Filter::default()
    };
    let page = render(&report, &Header::default(), &[], &filter);
    assert!(page.contains("id=\"service\""), "{page}");
    assert!(page.contains("all services"));
    let view = &page[page.find("id=\"service\"").unwrap_or(0)..];
    assert!(
        view.contains("pass 3 · create listener-rule host web.example.com"),
        "{view}"
    );
    assert!(view.contains("#TargetGroup:targetGroupArn=arn:aws:elasticloadbalancing:eu-west-1"));
    assert!(
        view.contains("alb.host</code> from its task definition tag"),
        "{view}"
    );
    assert!(view.contains("held back: delete listener-rule rule/1"));
    assert!(view.contains("pass 2 · pending → "), "{view}");
    // Rows link to their service's view.
    assert!(page.contains(&format!(
        "href=\"?service={}/{}\"",
        wanted.cluster, wanted.service
    )));
    // Another service's name never opens a view.
    let other = Filter {
        service: Some("main/none".into()),
        ..Filter::default()
    };
    assert!(!render(&report, &Header::default(), &[], &other).contains("id=\"service\""));
}

/// The status JSON names each key's source in words, as the page does; an intent's own JSON
/// keeps the kebab-case names.
#[test]
fn status_json_names_key_sources_in_words() {
    let mut s = service("web", ServiceState::Published, "web.example.com");
    s.keys = KeySources::from_iter([
        ("alb.host", Source::TaskDefinitionTag),
        ("alb.port", Source::DockerLabel),
    ]);
    let json = serde_json::to_value(&s).expect("status JSON");
    assert_eq!(
        json["keys"],
        serde_json::json!({"alb.host": "task definition tag", "alb.port": "docker label"})
    );
    let intent_json = serde_json::to_value(&s.keys).expect("intent's keys JSON");
    assert_eq!(
        intent_json,
        serde_json::json!({"alb.host": "task-definition-tag", "alb.port": "docker-label"})
    );
    s.keys = KeySources::default();
    let json = serde_json::to_value(&s).expect("status JSON");
    assert!(json.get("keys").is_none(), "no keys, no field: {json}");
}
