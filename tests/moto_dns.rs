//! Private DNS against moto with the real Route 53 adapter: the seed's name, alias by
//! default and CNAME on request, hand-made records left alone, repair and withdrawal.

mod support;

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use support::{Moto, SEED_TAGS, stdout};

fn named<'a>(all: &'a [ResourceRecordSet], name: &str) -> Vec<&'a ResourceRecordSet> {
    all.iter()
        .filter(|r| r.name().trim_end_matches('.') == name)
        .collect()
}

/// A plain record set with one value.
fn simple(name: &str, rtype: RrType, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set")
}

/// One change, made by hand (as a person or another tool would).
async fn change_by_hand(
    r53: &aws_sdk_route53::Client,
    zone: &str,
    action: ChangeAction,
    record: ResourceRecordSet,
) {
    let change = Change::builder()
        .action(action)
        .resource_record_set(record)
        .build()
        .expect("change");
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(change)
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("change by hand");
}

fn run(moto: &Moto, cmd: &str, seed: &support::Seed) -> std::process::Output {
    let mut a = vec![cmd.to_string()];
    a.extend(seed.args_with_zone());
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    moto.ecs_ingress(&refs)
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_name_resolves_to_the_alb_and_follows_the_service() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let r53 = aws_sdk_route53::Client::new(&sdk);
    let zone = seed.hosted_zone_id.clone();
    // A hand-made record elsewhere in the zone must survive everything.
    change_by_hand(
        &r53,
        &zone,
        ChangeAction::Create,
        simple("legacy.in.example.com", RrType::Cname, "legacy.example.com"),
    )
    .await;
    moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    let out = run(&moto, "apply", &seed);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // The name waits until the target group has a healthy target: nothing would serve it.
    assert!(
        named(
            &support::record_sets(&r53, &zone).await,
            "service-a.in.example.com"
        )
        .is_empty(),
        "published before any target was healthy"
    );
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("main/service-a") && l.contains("pending")),
        "{}",
        stdout(&out)
    );
    assert_eq!(moto.ecs_deploys(&seed, "service-a").len(), 1);
    let out = run(&moto, "apply", &seed);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let all = support::record_sets(&r53, &zone).await;
    let a = named(&all, "service-a.in.example.com");
    assert_eq!(a.len(), 1, "{all:?}");
    assert_eq!(a[0].r#type(), &RrType::A);
    let alias = a[0].alias_target().expect("alias");
    assert_eq!(
        alias.dns_name().trim_end_matches('.').to_ascii_lowercase(),
        seed.load_balancer_dns.to_ascii_lowercase()
    );
    assert!(!alias.evaluate_target_health());
    assert_eq!(
        named(&all, "_ecs-ingress.service-a.in.example.com").len(),
        1
    );
    // Converged.
    assert_eq!(run(&moto, "plan", &seed).status.code(), Some(0));

    // Deleted by hand: the next pass puts it back.
    change_by_hand(&r53, &zone, ChangeAction::Delete, a[0].clone()).await;
    assert_eq!(run(&moto, "plan", &seed).status.code(), Some(2));
    assert_eq!(run(&moto, "apply", &seed).status.code(), Some(0));
    assert_eq!(
        named(
            &support::record_sets(&r53, &zone).await,
            "service-a.in.example.com"
        )
        .len(),
        1
    );

    // Untagged: the record and its marker go; the hand-made record stays.
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let td = ecs
        .describe_services()
        .cluster(&seed.cluster)
        .services("service-a")
        .send()
        .await
        .expect("service")
        .services()[0]
        .task_definition()
        .unwrap_or_default()
        .to_string();
    let keys: Vec<String> = SEED_TAGS.iter().map(|(k, _)| k.to_string()).collect();
    ecs.untag_resource()
        .resource_arn(td)
        .set_tag_keys(Some(keys))
        .send()
        .await
        .expect("untag");
    let out = run(&moto, "apply", &seed);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let all = support::record_sets(&r53, &zone).await;
    assert!(
        named(&all, "service-a.in.example.com").is_empty(),
        "{all:?}"
    );
    assert!(named(&all, "_ecs-ingress.service-a.in.example.com").is_empty());
    assert_eq!(named(&all, "legacy.in.example.com").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cname_on_request_and_a_hand_made_name_is_a_dns_conflict() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let r53 = aws_sdk_route53::Client::new(&sdk);
    moto.create_service(
        &seed,
        "service-c",
        &[
            ("alb.host", "service-c.in.example.com"),
            ("dns.type", "cname"),
            ("dns.ttl", "120"),
        ],
        &[],
        &[],
    );
    moto.create_service(
        &seed,
        "taken",
        &[("alb.host", "taken.in.example.com")],
        &[],
        &[],
    );
    change_by_hand(
        &r53,
        &seed.hosted_zone_id,
        ChangeAction::Create,
        simple("taken.in.example.com", RrType::A, "10.0.0.1"),
    )
    .await;
    run(&moto, "apply", &seed);
    moto.ecs_deploys(&seed, "service-c");
    moto.ecs_deploys(&seed, "taken");
    let out = run(&moto, "apply", &seed);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("main/taken") && l.contains("dns-conflict")),
        "{text}"
    );
    let all = support::record_sets(&r53, &seed.hosted_zone_id).await;
    let c = named(&all, "service-c.in.example.com");
    assert_eq!(c[0].r#type(), &RrType::Cname);
    assert_eq!(c[0].ttl(), Some(120));
    let taken = named(&all, "taken.in.example.com");
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].resource_records()[0].value(), "10.0.0.1");
    assert!(named(&all, "_ecs-ingress.taken.in.example.com").is_empty());
}
