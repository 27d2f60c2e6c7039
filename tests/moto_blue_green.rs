//! Living beside ECS's own blue/green deployments, against moto through the real binary:
//! an entry's `advancedConfiguration` is written back as read, and a service moved to ECS
//! blue/green by hand is left as it is (its weights, primary and entry are ECS's).
//! (moto does no shifting or flipping: ECS's moves are made by hand, as ECS would.)

mod support;

use support::{Moto, SEED_TAGS, apply_ok, stderr, stdout};

fn run(moto: &Moto, seed: &support::Seed, command: &str) -> std::process::Output {
    let mut args = vec![command.to_string()];
    args.extend(seed.args_with_zone());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    moto.ecs_ingress(&refs)
}

/// The service's `loadBalancers` and strategy, and the production rule's forward weights.
fn ecs_view(moto: &Moto, seed: &support::Seed, name: &str) -> serde_json::Value {
    moto.boto3(
        "ecs = client('ecs'); elb = client('elbv2')\n\
         s = ecs.describe_services(cluster=args[0], services=[args[1]])['services'][0]\n\
         rules = [r for r in elb.describe_rules(ListenerArn=args[2])['Rules'] if not r['IsDefault']]\n\
         weights = {r['RuleArn']: sorted((t['TargetGroupArn'], t.get('Weight')) for a in r['Actions'] if a['Type'] == 'forward' for t in a.get('ForwardConfig', {}).get('TargetGroups', [])) for r in rules}\n\
         print(json.dumps({'lbs': s.get('loadBalancers', []), 'strategy': s.get('deploymentConfiguration', {}).get('strategy'), 'weights': weights}))",
        &[&seed.cluster, name, &seed.listener_arn],
    )
}

#[test]
fn advanced_configuration_survives_and_a_hand_made_blue_green_is_never_fought() {
    let moto = Moto::start();
    let seed = moto.seed();
    moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    apply_ok(&moto, &seed.args_with_zone());
    moto.ecs_deploys(&seed, "service-a");
    apply_ok(&moto, &seed.args_with_zone());
    let published = ecs_view(&moto, &seed, "service-a");
    let ours = published["lbs"][0]["targetGroupArn"]
        .as_str()
        .expect("our entry")
        .to_string();
    let rule = published["weights"]
        .as_object()
        .and_then(|w| w.keys().next().cloned())
        .expect("our rule");

    // The team moves it to ECS blue/green by hand: a green group, our rule as the production
    // rule, the strategy; then ECS shifts all traffic to green (0/100) and flips the primary.
    moto.boto3(
        "ecs = client('ecs'); elb = client('elbv2')\n\
         blue, rule, cluster, name, vpc = args[0], args[1], args[2], args[3], args[4]\n\
         green = elb.create_target_group(Name='service-a-green', Protocol='HTTP', Port=8080, VpcId=vpc, TargetType='ip')['TargetGroups'][0]['TargetGroupArn']\n\
         elb.modify_rule(RuleArn=rule, Actions=[{'Type': 'forward', 'ForwardConfig': {'TargetGroups': [{'TargetGroupArn': blue, 'Weight': 0}, {'TargetGroupArn': green, 'Weight': 100}]}}])\n\
         ecs.update_service(cluster=cluster, service=name, deploymentConfiguration={'strategy': 'BLUE_GREEN', 'bakeTimeInMinutes': 5},\n\
         \x20   loadBalancers=[{'targetGroupArn': green, 'containerName': 'serviceA', 'containerPort': 8080, 'advancedConfiguration': {'alternateTargetGroupArn': blue, 'productionListenerRule': rule, 'roleArn': 'arn:aws:iam::123456789012:role/ecs-lb'}}])\n\
         print(json.dumps(green))",
        &[&ours, &rule, &seed.cluster, "service-a", &seed.vpc_id],
    );
    let before = ecs_view(&moto, &seed, "service-a");
    assert_eq!(before["strategy"], "BLUE_GREEN", "{before}");

    let text = apply_ok(&moto, &seed.args_with_zone());
    assert!(
        text.lines()
            .any(|l| l.starts_with("main/service-a") && l.contains("invalid")),
        "{text}"
    );
    assert!(
        text.contains("alb.deploy") || text.contains("BLUE_GREEN"),
        "{text}"
    );
    let after = ecs_view(&moto, &seed, "service-a");
    assert_eq!(
        after["weights"], before["weights"],
        "ECS's weights untouched"
    );
    assert_eq!(
        after["lbs"], before["lbs"],
        "the entry, advancedConfiguration included"
    );
    assert_eq!(after["strategy"], "BLUE_GREEN");
    // Nothing to do: plan agrees.
    let out = run(&moto, &seed, "plan");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // Another, rolling service whose loadBalancers already hold an entry with an
    // advancedConfiguration (not ecs-ingress's): publishing it keeps that entry whole.
    moto.create_service(
        &seed,
        "service-b",
        &[("alb.host", "service-b.in.example.com")],
        &[],
        &[],
    );
    moto.boto3(
        "ecs = client('ecs'); elb = client('elbv2')\n\
         cluster, name, vpc = args[0], args[1], args[2]\n\
         side = elb.create_target_group(Name='b-sidecar', Protocol='HTTP', Port=9000, VpcId=vpc, TargetType='ip')['TargetGroups'][0]['TargetGroupArn']\n\
         ecs.update_service(cluster=cluster, service=name, loadBalancers=[{'targetGroupArn': side, 'containerName': 'serviceA', 'containerPort': 8080, 'advancedConfiguration': {'alternateTargetGroupArn': side, 'productionListenerRule': 'arn:their-rule', 'roleArn': 'arn:aws:iam::123456789012:role/ecs-lb'}}])\n\
         print(json.dumps(side))",
        &[&seed.cluster, "service-b", &seed.vpc_id],
    );
    apply_ok(&moto, &seed.args_with_zone());
    let b = ecs_view(&moto, &seed, "service-b");
    let lbs = b["lbs"].as_array().expect("entries");
    assert_eq!(lbs.len(), 2, "theirs and ours: {b}");
    let theirs = lbs
        .iter()
        .find(|e| e.get("advancedConfiguration").is_some())
        .expect("their entry");
    assert_eq!(
        theirs["advancedConfiguration"]["productionListenerRule"], "arn:their-rule",
        "{b}"
    );
}

const ROLE: &str = "arn:aws:iam::123456789012:role/ecs-infrastructure";

/// `alb.deploy=blue-green` sets up ECS's blue/green through the real adapters; after ECS
/// shifts and flips (by hand here), `plan` has nothing to do and `apply` changes nothing.
#[test]
fn alb_deploy_sets_up_blue_green_and_ecs_moves_are_never_fought() {
    let moto = Moto::start();
    let seed = moto.seed();
    let mut tags: Vec<(&str, &str)> = SEED_TAGS.to_vec();
    tags.extend([
        ("alb.deploy", "blue-green"),
        ("alb.bake-minutes", "5"),
        ("alb.test-host", "test-a.in.example.com"),
    ]);
    moto.create_service(&seed, "service-a", &tags, &[], &[]);
    let mut args = seed.args_with_zone();
    args.extend([
        "--ecs-infrastructure-role-arn".to_string(),
        ROLE.to_string(),
    ]);
    apply_ok(&moto, &args);
    moto.ecs_deploys(&seed, "service-a");
    apply_ok(&moto, &args);

    let set_up = ecs_view(&moto, &seed, "service-a");
    assert_eq!(set_up["strategy"], "BLUE_GREEN", "{set_up}");
    let entry = &set_up["lbs"][0];
    let advanced = &entry["advancedConfiguration"];
    let (blue, green) = (
        entry["targetGroupArn"]
            .as_str()
            .expect("primary")
            .to_string(),
        advanced["alternateTargetGroupArn"]
            .as_str()
            .expect("alternate")
            .to_string(),
    );
    let rule = advanced["productionListenerRule"]
        .as_str()
        .expect("production rule")
        .to_string();
    assert_eq!(advanced["roleArn"], ROLE, "{set_up}");
    let test_rule = advanced["testListenerRule"]
        .as_str()
        .expect("test rule")
        .to_string();
    let mut weights = set_up["weights"][&rule].clone();
    let expected = serde_json::json!([[blue, 1], [green, 0]]);
    let mut sorted_expected = expected.as_array().cloned().unwrap_or_default();
    sorted_expected.sort_by_key(|p| p[0].as_str().unwrap_or_default().to_string());
    let sorted_expected = serde_json::Value::Array(sorted_expected);
    assert_eq!(weights, sorted_expected, "{set_up}");
    assert_eq!(set_up["weights"][&test_rule], sorted_expected, "{set_up}");
    let bake = moto.boto3(
        "s = client('ecs').describe_services(cluster=args[0], services=[args[1]])['services'][0]\n\
         print(json.dumps(s.get('deploymentConfiguration', {}).get('bakeTimeInMinutes')))",
        &[&seed.cluster, "service-a"],
    );
    assert_eq!(bake, 5);

    // ECS deploys: all traffic to green, then green becomes the primary.
    moto.boto3(
        "ecs = client('ecs'); elb = client('elbv2')\n\
         blue, green, rule, test, cluster, name, role = args\n\
         for r in (rule, test):\n\
         \x20   elb.modify_rule(RuleArn=r, Actions=[{'Type': 'forward', 'ForwardConfig': {'TargetGroups': [{'TargetGroupArn': blue, 'Weight': 0}, {'TargetGroupArn': green, 'Weight': 100}]}}])\n\
         ecs.update_service(cluster=cluster, service=name, deploymentConfiguration={'strategy': 'BLUE_GREEN', 'bakeTimeInMinutes': 5},\n\
         \x20   loadBalancers=[{'targetGroupArn': green, 'containerName': 'serviceA', 'containerPort': 8080, 'advancedConfiguration': {'alternateTargetGroupArn': blue, 'productionListenerRule': rule, 'testListenerRule': test, 'roleArn': role}}])\n\
         print(json.dumps(True))",
        &[&blue, &green, &rule, &test_rule, &seed.cluster, "service-a", ROLE],
    );
    let before = ecs_view(&moto, &seed, "service-a");
    let mut plan_args = vec!["plan".to_string()];
    plan_args.extend(args.iter().cloned());
    let refs: Vec<&str> = plan_args.iter().map(String::as_str).collect();
    let out = moto.ecs_ingress(&refs);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    apply_ok(&moto, &args);
    let after = ecs_view(&moto, &seed, "service-a");
    assert_eq!(
        after["weights"], before["weights"],
        "ECS's weights untouched"
    );
    assert_eq!(after["lbs"], before["lbs"], "ECS's primary untouched");
    weights = after["weights"][&rule].clone();

    // A settings change is written alone: ECS's entry stays as it is.
    moto.boto3(
        "ecs = client('ecs')\n\
         arn = ecs.describe_services(cluster=args[0], services=[args[1]])['services'][0]['serviceArn']\n\
         ecs.tag_resource(resourceArn=arn, tags=[{'key': 'alb.bake-minutes', 'value': '20'}])\n\
         print(json.dumps(True))",
        &[&seed.cluster, "service-a"],
    );
    // (moto reports every service with a desired count as deploying: this goes out anyway.)
    apply_ok(&moto, &args);
    let retuned = ecs_view(&moto, &seed, "service-a");
    assert_eq!(retuned["lbs"], after["lbs"], "the entry untouched");
    let bake = moto.boto3(
        "s = client('ecs').describe_services(cluster=args[0], services=[args[1]])['services'][0]\n\
         print(json.dumps([s['deploymentConfiguration'].get('bakeTimeInMinutes'), s['deploymentConfiguration'].get('strategy')]))",
        &[&seed.cluster, "service-a"],
    );
    assert_eq!(
        bake,
        serde_json::json!([20, "BLUE_GREEN"]),
        "the rest as it was"
    );
    assert_eq!(
        weights[0][1].as_i64().unwrap_or(-1) + weights[1][1].as_i64().unwrap_or(-1),
        100
    );
}
