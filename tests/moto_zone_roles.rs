//! `--zone-role` against moto through the real binary: moto switches account by credentials
//! (AssumeRole of a role in account 222222222222 returns keys acting there, and Route 53
//! zones are per account), so the real STS and Route 53 adapters write a zone of a second
//! account while the workload account's zone of the same name stays untouched. (moto checks
//! no trust policy and never expires credentials: denial and expiry are the fake's, in
//! `fake_zone_roles.rs`.)

mod support;

use support::{Moto, SEED_TAGS, apply_ok, stderr, stdout};

const ROLE: &str = "arn:aws:iam::222222222222:role/central/ecs-ingress-dns";

/// Creates `name` in the role's account (through the role, as its owners would) and
/// returns its id.
fn central_zone(moto: &Moto, name: &str) -> String {
    let created = moto.boto3(
        "creds = client('sts').assume_role(RoleArn=args[0], RoleSessionName='setup', ExternalId='ext-1')['Credentials']\n\
         import boto3\n\
         r53 = boto3.client('route53', region_name='us-east-1', endpoint_url=sys.argv[1], \
         aws_access_key_id=creds['AccessKeyId'], aws_secret_access_key=creds['SecretAccessKey'], \
         aws_session_token=creds['SessionToken'])\n\
         z = r53.create_hosted_zone(Name=args[1], CallerReference='central')['HostedZone']['Id']\n\
         print(json.dumps(z.split('/')[-1]))",
        &[ROLE, name],
    );
    created.as_str().expect("a zone id").to_string()
}

/// The names (without the trailing dot) of a zone's records, seen with `account`'s
/// credentials: the own ones, or the role's.
fn names(moto: &Moto, zone: &str, through_role: bool) -> Vec<String> {
    let records = moto.boto3(
        "import boto3\n\
         kw = dict(region_name='us-east-1', endpoint_url=sys.argv[1])\n\
         if args[1] == 'role':\n\
         \x20   c = client('sts').assume_role(RoleArn=args[2], RoleSessionName='check')['Credentials']\n\
         \x20   kw.update(aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])\n\
         else:\n\
         \x20   kw.update(aws_access_key_id='test', aws_secret_access_key='test')\n\
         r53 = boto3.client('route53', **kw)\n\
         sets = r53.list_resource_record_sets(HostedZoneId=args[0])['ResourceRecordSets']\n\
         print(json.dumps([r['Name'].rstrip('.') + ' ' + r['Type'] for r in sets if r['Type'] not in ('NS', 'SOA')]))",
        &[zone, if through_role { "role" } else { "own" }, ROLE],
    );
    serde_json::from_value(records).expect("names")
}

#[test]
fn a_zone_of_another_account_is_written_through_the_role() {
    let moto = Moto::start();
    let seed = moto.seed();
    // The seed's zone (in.example.com, the workload account's own) is not managed here.
    let central = central_zone(&moto, "in.example.com");
    moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    let mut args = seed.args();
    args.extend([
        "--hosted-zone".into(),
        central.clone(),
        "--zone-role".into(),
        format!("{central}={ROLE}"),
        "--zone-role-external-id".into(),
        "ext-1".into(),
    ]);
    apply_ok(&moto, &args);
    assert_eq!(moto.ecs_deploys(&seed, "service-a").len(), 1);
    apply_ok(&moto, &args);

    let written = names(&moto, &central, true);
    assert!(
        written.contains(&"service-a.in.example.com A".to_string())
            && written.contains(&"_ecs-ingress.service-a.in.example.com TXT".to_string()),
        "{written:?}"
    );
    assert!(
        names(&moto, &seed.hosted_zone_id, false).is_empty(),
        "the workload account's zone of the same name is untouched"
    );
    // Converged: nothing left to do.
    let mut plan = vec!["plan"];
    plan.extend(args.iter().map(String::as_str));
    let out = moto.ecs_ingress(&plan);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
