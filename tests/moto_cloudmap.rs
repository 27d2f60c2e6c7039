//! Cloud Map against moto with the real adapter: a registration appears with the ALB as
//! its alias target, and goes (instance, then the service we made) when the ECS service is
//! deleted.

mod support;

use support::{Moto, SEED_TAGS, stdout};

async fn services_in(
    sd: &aws_sdk_servicediscovery::Client,
    namespace_id: &str,
) -> Vec<aws_sdk_servicediscovery::types::ServiceSummary> {
    use aws_sdk_servicediscovery::types::{FilterCondition, ServiceFilter, ServiceFilterName};
    sd.list_services()
        .filters(
            ServiceFilter::builder()
                .name(ServiceFilterName::NamespaceId)
                .values(namespace_id)
                .condition(FilterCondition::Eq)
                .build()
                .expect("filter"),
        )
        .send()
        .await
        .expect("list services")
        .services()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_appears_and_goes() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let sd = aws_sdk_servicediscovery::Client::new(&sdk);
    sd.create_private_dns_namespace()
        .name("internal.example")
        .vpc(&seed.vpc_id)
        .send()
        .await
        .expect("namespace");
    let namespace_id = sd
        .list_namespaces()
        .send()
        .await
        .expect("namespaces")
        .namespaces()
        .iter()
        .find(|n| n.name() == Some("internal.example"))
        .and_then(|n| n.id())
        .expect("namespace id")
        .to_string();
    let mut tags = SEED_TAGS.to_vec();
    tags.extend([
        ("cloudmap.namespace", "internal.example"),
        ("cloudmap.service", "service-a"),
    ]);
    moto.create_service(&seed, "service-a", &tags, &[], &[]);
    let mut args: Vec<String> = vec!["apply".into()];
    args.extend(seed.args());
    args.extend(["--cloudmap-namespace".into(), "internal.example".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();

    // The registration waits for a healthy target, which moto only has once the test
    // registers the task as ECS would.
    let out = moto.ecs_ingress(&refs);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(services_in(&sd, &namespace_id).await.is_empty());
    moto.ecs_deploys(&seed, "service-a");
    let out = moto.ecs_ingress(&refs);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let made = services_in(&sd, &namespace_id).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].name(), Some("service-a"));
    let service_id = made[0].id().expect("id").to_string();
    let tags = sd
        .list_tags_for_resource()
        .resource_arn(made[0].arn().expect("arn"))
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "ecs-ingress/owner" && t.value() == "ecs-ingress")
    );
    let instances = sd
        .list_instances()
        .service_id(&service_id)
        .send()
        .await
        .expect("instances");
    let instance = &instances.instances()[0];
    assert_eq!(instance.id(), Some("ecs-ingress"));
    let attributes = instance.attributes().expect("attributes");
    assert_eq!(
        attributes["AWS_ALIAS_DNS_NAME"].to_ascii_lowercase(),
        seed.load_balancer_dns.to_ascii_lowercase()
    );

    // Converged: a plan finds nothing to do.
    let mut plan = refs.clone();
    plan[0] = "plan";
    let out = moto.ecs_ingress(&plan);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The ECS service is deleted: the instance goes, then the service we made.
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    ecs.delete_service()
        .cluster(&seed.cluster)
        .service("service-a")
        .force(true)
        .send()
        .await
        .expect("delete service");
    let out = moto.ecs_ingress(&refs);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let left = sd
        .list_instances()
        .service_id(&service_id)
        .send()
        .await
        .expect("instances");
    assert!(left.instances().is_empty(), "{left:?}");
    let out = moto.ecs_ingress(&refs);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(services_in(&sd, &namespace_id).await.is_empty());
}
