//! Weighted canaries across services (`alb.weight`) against moto through the real binary:
//! the shared rule's ForwardConfig as boto3 reads it back.

mod support;

use support::{Moto, apply_ok};

/// The weights of every non-default rule of the listener, by target group ARN.
fn weights(moto: &Moto, seed: &support::Seed) -> serde_json::Value {
    moto.boto3(
        "elb = client('elbv2')\n\
         rules = [r for r in elb.describe_rules(ListenerArn=args[0])['Rules'] if not r['IsDefault']]\n\
         print(json.dumps([{t['TargetGroupArn']: t.get('Weight') for a in r['Actions'] if a['Type'] == 'forward' for t in a.get('ForwardConfig', {}).get('TargetGroups', [])} for r in rules]))",
        &[seed.listener_arn.as_str()],
    )
}

#[test]
fn a_canary_shares_the_stable_rule_by_weight() {
    let moto = Moto::start();
    let seed = moto.seed();
    let host = ("alb.host", "shop.in.example.com");
    moto.create_service(&seed, "stable", &[host, ("alb.weight", "90")], &[], &[]);
    moto.create_service(&seed, "canary", &[host, ("alb.weight", "10")], &[], &[]);
    // Groups and the stable rule; the canary's group joins at 0; then it is attached; once
    // ECS registered its tasks (healthy in moto), it takes its share.
    for _ in 0..3 {
        apply_ok(&moto, &seed.args_with_zone());
        moto.ecs_deploys_all(&seed, &["stable", "canary"]);
    }
    apply_ok(&moto, &seed.args_with_zone());
    let rules = weights(&moto, &seed);
    let rules = rules.as_array().expect("rules");
    assert_eq!(rules.len(), 1, "one shared rule: {rules:?}");
    let mut shares: Vec<i64> = rules[0]
        .as_object()
        .expect("weights")
        .values()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    shares.sort();
    assert_eq!(shares, [10, 90], "{rules:?}");
}
