//! Certificates per host on an HTTPS listener against moto through the real binary: an
//! ECDSA certificate imported into ACM is found (ACM lists only RSA ones unless asked),
//! attached with its record on the listener's tags, kept while its host is published and
//! removed after; the default certificate is never touched.

mod support;

use support::{Moto, apply_ok, stdout};

/// Imports a self-signed certificate for `names` with a key of `key` (`ec` or `rsa`) into
/// ACM; returns its ARN.
fn import(moto: &Moto, names: &str, key: &str) -> String {
    let v = moto.boto3(
        r#"
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
names = args[0].split(",")
key = ec.generate_private_key(ec.SECP256R1()) if args[1] == "ec" else rsa.generate_private_key(65537, 2048)
subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
    .public_key(key.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=90))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    .sign(key, hashes.SHA256()))
pem = cert.public_bytes(serialization.Encoding.PEM)
private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
arn = client("acm").import_certificate(Certificate=pem, PrivateKey=private)["CertificateArn"]
print(json.dumps({"arn": arn}))
"#,
        &[names, key],
    );
    v["arn"].as_str().expect("an ARN").to_string()
}

/// An HTTPS:443 listener on the seed's ALB presenting `default`; returns its ARN.
fn https_listener(moto: &Moto, load_balancer_arn: &str, default: &str) -> String {
    let v = moto.boto3(
        r#"
elb = client("elbv2")
arn = elb.create_listener(LoadBalancerArn=args[0], Protocol="HTTPS", Port=443,
    Certificates=[{"CertificateArn": args[1]}],
    DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
print(json.dumps({"arn": arn}))
"#,
        &[load_balancer_arn, default],
    );
    v["arn"].as_str().expect("an ARN").to_string()
}

/// The listener's certificates: (ARN, is default), and its tags.
fn listener_state(moto: &Moto, listener: &str) -> serde_json::Value {
    moto.boto3(
        r#"
elb = client("elbv2")
certs = elb.describe_listener_certificates(ListenerArn=args[0])["Certificates"]
tags = elb.describe_tags(ResourceArns=[args[0]])["TagDescriptions"][0]["Tags"]
print(json.dumps({"certs": [[c["CertificateArn"], c.get("IsDefault", False)] for c in certs],
                  "tags": {t["Key"]: t["Value"] for t in tags}}))
"#,
        &[listener],
    )
}

fn attached(state: &serde_json::Value, arn: &str) -> bool {
    state["certs"]
        .as_array()
        .expect("certs")
        .iter()
        .any(|c| c[0] == arn && c[1] == false)
}

#[test]
fn an_ecdsa_certificate_is_found_attached_recorded_and_removed_by_the_binary() {
    let moto = Moto::start();
    let seed = moto.seed();
    let default = import(&moto, "default.example.org", "rsa");
    let ecdsa = import(&moto, "*.in.example.com", "ec");
    let listener = https_listener(&moto, &seed.load_balancer_arn, &default);
    let args = vec![
        "--cluster".to_string(),
        seed.cluster.clone(),
        "--listener".to_string(),
        listener.clone(),
    ];
    moto.create_service(
        &seed,
        "service-a",
        &[("alb.host", "service-a.in.example.com")],
        &[],
        &[],
    );
    let mut plan = vec!["plan".to_string()];
    plan.extend(args.clone());
    plan.extend(["--output".to_string(), "json".to_string()]);
    let refs: Vec<&str> = plan.iter().map(String::as_str).collect();
    let out = moto.ecs_ingress(&refs);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let adds: Vec<&serde_json::Value> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "add-listener-certificate")
        .collect();
    assert_eq!(adds.len(), 1, "{v}");
    assert_eq!(adds[0]["certificate_arn"], ecdsa.as_str());

    apply_ok(&moto, &args);
    let state = listener_state(&moto, &listener);
    assert!(attached(&state, &ecdsa), "{state}");
    let id = ecdsa.rsplit('/').next().expect("id");
    assert_eq!(
        state["tags"][format!("ecs-ingress/certificate/{id}")],
        "ecs-ingress",
        "{state}"
    );
    let mut again = vec!["plan".to_string()];
    again.extend(args.clone());
    let refs: Vec<&str> = again.iter().map(String::as_str).collect();
    let out = moto.ecs_ingress(&refs);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Nothing to change."),
        "{}",
        stdout(&out)
    );

    // Untagged: withdrawn, the certificate and its record go, the default stays.
    moto.boto3(
        r#"
ecs = client("ecs")
svc = ecs.describe_services(cluster=args[0], services=["service-a"])["services"][0]
ecs.untag_resource(resourceArn=svc["taskDefinition"], tagKeys=["alb.host"])
print(json.dumps({}))
"#,
        &[&seed.cluster],
    );
    apply_ok(&moto, &args);
    let state = listener_state(&moto, &listener);
    assert!(!attached(&state, &ecdsa), "{state}");
    assert!(
        state["certs"]
            .as_array()
            .expect("certs")
            .iter()
            .any(|c| c[0] == default.as_str() && c[1] == true),
        "the default stays: {state}"
    );
    assert!(
        state["tags"]
            .as_object()
            .is_none_or(|t| !t.keys().any(|k| k.starts_with("ecs-ingress/certificate/"))),
        "{state}"
    );
}
