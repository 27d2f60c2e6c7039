//! Hostile tags through a whole pass: maximum lengths, 50 tags, unicode, hosts × paths far
//! over the quotas, priorities at and past the edges. Each bad service gets a status saying
//! why; the good one beside them is published; nothing is created for the bad ones.

use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;

#[tokio::test(start_paused = true)]
async fn hostile_services_get_a_status_and_the_good_one_is_published() {
    let estate = Estate::new(1);
    estate.add_service("good", &[("alb.host", "good.in.example.com")], &[]);

    // 50 tags at AWS's maximum key and value lengths, unicode included.
    let long: Vec<(String, String)> = (0..49)
        .map(|i| {
            (
                format!("alb.{i:03}{}", "k".repeat(120)),
                "é".repeat(128), // 256 bytes
            )
        })
        .chain([(
            "alb.host".to_string(),
            format!("{}.in.example.com", "x".repeat(240)),
        )])
        .collect();
    let long_refs: Vec<(&str, &str)> = long.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    estate.add_service("long", &long_refs, &[]);

    // Hosts × paths far over 5 condition values per rule and 100 rules per ALB.
    let hosts: Vec<String> = (0..50).map(|i| format!("h{i}.in.example.com")).collect();
    let paths: Vec<String> = (0..50).map(|i| format!("/p{i}")).collect();
    let (hosts, paths) = (hosts.join(" "), paths.join(" "));
    estate.add_service(
        "wide",
        &[("alb.host", hosts.as_str()), ("alb.path", paths.as_str())],
        &[],
    );

    // Priorities at and beyond the edges.
    for (name, p) in [
        ("p0", "0"),
        ("p50001", "50001"),
        ("pneg", "-1"),
        ("pbig", "18446744073709551616"),
        ("pjunk", "１２"),
    ] {
        estate.add_service(
            name,
            &[
                ("alb.host", &format!("{name}.in.example.com")),
                ("alb.priority", p),
            ],
            &[],
        );
    }
    estate.add_service(
        "p50000",
        &[
            ("alb.host", "p50000.in.example.com"),
            ("alb.priority", "50000"),
        ],
        &[],
    );
    estate.add_service(
        "unicode",
        &[
            ("alb.host", "dienst.ïn.example.com"),
            ("dns.name", "☃.in.example.com"),
        ],
        &[],
    );

    let controller = estate.controller();
    let report = controller.pass(true).await;
    let status = report.status();
    let state = |name: &str| {
        status
            .services
            .iter()
            .find(|s| s.service == name)
            .map(|s| {
                (
                    s.state,
                    s.problems
                        .iter()
                        .map(|p| p.reason.clone())
                        .collect::<Vec<_>>(),
                )
            })
            .unwrap_or_else(|| panic!("{name} has no status"))
    };
    for name in ["long", "p0", "p50001", "pneg", "pbig", "pjunk", "unicode"] {
        let (s, problems) = state(name);
        assert_eq!(s, ServiceState::Invalid, "{name}: {problems:?}");
        assert!(!problems.is_empty(), "{name} says why");
    }
    let (wide, problems) = state("wide");
    assert!(
        matches!(wide, ServiceState::Invalid | ServiceState::Quota),
        "wide: {wide:?} {problems:?}"
    );
    assert!(!problems.is_empty());
    let (edge, problems) = state("p50000");
    assert!(
        matches!(edge, ServiceState::Pending | ServiceState::Published),
        "priority 50000 is valid: {problems:?}"
    );
    assert!(matches!(
        state("good").0,
        ServiceState::Pending | ServiceState::Published
    ));

    // Only the good service and the one at priority 50000 got resources.
    let owned_rules: Vec<_> = estate
        .owned_rules()
        .into_iter()
        .map(|r| (r.hosts, r.priority))
        .collect();
    assert_eq!(owned_rules.len(), 2, "{owned_rules:?}");
    assert!(owned_rules.iter().any(|(_, p)| *p == Some(50_000)));
}
