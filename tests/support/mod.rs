//! Integration-test harness: a private moto server per test, the seed's network in it, and
//! helpers to create tagged services and run the ecs-ingress binary against it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    repo().join(".venv/bin").join(name)
}

impl Moto {
    /// Starts moto and waits until it answers (fails the test after 30 s).
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(venv_bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (scripts/test.sh creates .venv)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on {endpoint}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Tasks stay in the state they were created in (moto otherwise advances them on
        // every DescribeTasks).
        // The port can accept connections a moment before the server answers HTTP (and a
        // loaded machine stretches that moment): retry until the deadline.
        loop {
            let status = Command::new(venv_bin("python"))
                .args(["-c", "import sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1]+'/moto-api/state-manager/set-transition', data=b'{\"model_name\":\"ecs::task\",\"transition\":{\"progression\":\"manual\",\"times\":1000000000}}', method='POST'), timeout=5)", &endpoint])
                .stderr(Stdio::null())
                .status()
                .expect("python runs");
            if status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto on {endpoint} did not answer HTTP"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Moto { child, endpoint }
    }

    /// Environment for the SDK and the binary: moto endpoint, fake credentials, no retries.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_MAX_ATTEMPTS", "1".into()),
        ]
    }

    /// SDK configuration pointing at this server.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }

    fn script(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new(venv_bin("python"))
            .arg(repo().join("scripts/seed_network.py"))
            .args(["--endpoint", &self.endpoint])
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "seed_network.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from seed_network.py")
    }

    /// Builds the seed's network.
    pub fn seed(&self) -> Seed {
        self.seed_with(&["network"])
    }

    /// Builds the seed's network with `albs` internal ALBs in it, each with an HTTP:80
    /// listener (the seed's first; the others answer a fixed 404): the members of a pool.
    pub fn seed_with_albs(&self, albs: usize) -> Seed {
        self.seed_with(&["network", "--albs", &albs.to_string()])
    }

    fn seed_with(&self, args: &[&str]) -> Seed {
        let raw = self.script(args);
        let s = |k: &str| raw[k].as_str().unwrap_or_default().to_string();
        let more_load_balancers = raw["more_load_balancers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|lb| {
                        let s = |k: &str| lb[k].as_str().unwrap_or_default().to_string();
                        SeedAlb {
                            arn: s("load_balancer_arn"),
                            dns: s("load_balancer_dns"),
                            listener_arn: s("listener_arn"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Seed {
            more_load_balancers,
            vpc_id: s("vpc_id"),
            load_balancer_arn: s("load_balancer_arn"),
            load_balancer_dns: s("load_balancer_dns"),
            listener_arn: s("listener_arn"),
            invalid_target_group_arn: s("invalid_target_group_arn"),
            hosted_zone_id: s("hosted_zone_id"),
            cluster: s("cluster"),
            raw,
        }
    }

    /// Registers an awsvpc task definition (container `serviceA`, port 8080 unless
    /// overridden in `extra`) and creates a service. Returns the service ARN.
    pub fn create_service(
        &self,
        seed: &Seed,
        name: &str,
        td_tags: &[(&str, &str)],
        service_tags: &[(&str, &str)],
        labels: &[(&str, &str)],
    ) -> String {
        self.create_service_with_tasks(seed, name, td_tags, service_tags, labels, 0)
            .0
    }

    /// As [`Moto::create_service`], and starts `tasks` RUNNING tasks in the service's group.
    /// Returns the service ARN and the task ARNs.
    pub fn create_service_with_tasks(
        &self,
        seed: &Seed,
        name: &str,
        td_tags: &[(&str, &str)],
        service_tags: &[(&str, &str)],
        labels: &[(&str, &str)],
        tasks: usize,
    ) -> (String, Vec<String>) {
        let net = seed.raw.to_string();
        let mut args: Vec<String> = vec![
            "service".into(),
            "--network".into(),
            net,
            "--name".into(),
            name.into(),
            "--tasks".into(),
            tasks.to_string(),
        ];
        for (flag, list) in [
            ("--td-tag", td_tags),
            ("--service-tag", service_tags),
            ("--label", labels),
        ] {
            for (k, v) in list {
                args.push(flag.into());
                args.push(format!("{k}={v}"));
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.script(&refs);
        let tasks = out["task_arns"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        (
            out["service_arn"].as_str().unwrap_or_default().to_string(),
            tasks,
        )
    }

    /// What ECS does after an UpdateService and moto does not: registers the service's
    /// running tasks in its target groups (moto then reports them healthy). Returns the
    /// target groups registered in.
    pub fn ecs_deploys(&self, seed: &Seed, name: &str) -> Vec<String> {
        self.ecs_deploys_all(seed, &[name])
    }

    /// [`Moto::ecs_deploys`] for several services in one run of the script.
    pub fn ecs_deploys_all(&self, seed: &Seed, names: &[&str]) -> Vec<String> {
        let net = seed.raw.to_string();
        let mut args = vec!["deploy", "--network", &net];
        for name in names {
            args.extend(["--name", name]);
        }
        let out = self.script(&args);
        out["target_groups"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs a boto3 snippet against this server, an independent view of what the adapters
    /// did: `client(name)` is a boto3 client, `args` the extra arguments; the snippet
    /// prints JSON.
    pub fn boto3(&self, snippet: &str, args: &[&str]) -> serde_json::Value {
        let program = format!(
            "import json, sys, boto3\n\
             def client(name):\n\
             \x20   return boto3.client(name, region_name='us-east-1', endpoint_url=sys.argv[1], \
             aws_access_key_id='test', aws_secret_access_key='test')\n\
             args = sys.argv[2:]\n{snippet}"
        );
        let out = Command::new(venv_bin("python"))
            .arg("-c")
            .arg(program)
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "boto3 snippet failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from the boto3 snippet")
    }

    /// Runs the ecs-ingress binary with `args` against this server.
    pub fn ecs_ingress(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
            .args(args)
            .envs(self.env())
            .env("RUST_LOG", "warn")
            .output()
            .expect("ecs-ingress runs")
    }
}

/// Ids of the seed's network.
pub struct Seed {
    pub vpc_id: String,
    pub load_balancer_arn: String,
    pub load_balancer_dns: String,
    pub listener_arn: String,
    pub invalid_target_group_arn: String,
    pub hosted_zone_id: String,
    pub cluster: String,
    /// The ALBs after the first, when asked for with [`Moto::seed_with_albs`].
    pub more_load_balancers: Vec<SeedAlb>,
    raw: serde_json::Value,
}

/// One more ALB of the seed's network and its HTTP:80 listener.
pub struct SeedAlb {
    pub arn: String,
    pub dns: String,
    pub listener_arn: String,
}

impl Seed {
    /// The common flags and the seed's zone as `--hosted-zone`.
    pub fn args_with_zone(&self) -> Vec<String> {
        let mut v = self.args();
        v.extend(["--hosted-zone".to_string(), self.hosted_zone_id.clone()]);
        v
    }

    /// The common flags: cluster and listener.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--cluster".into(),
            self.cluster.clone(),
            "--listener".into(),
            self.listener_arn.clone(),
        ]
    }
}

// Not every test binary that includes this module uses it.
#[allow(unused_imports)]
pub use ecs_ingress::testing::SEED_TAGS;

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A minimal HTTP/1.1 GET on loopback: status code and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// A running `ecs-ingress run`, killed when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `ecs-ingress apply ARGS`, asserts it exited 0 and returns its stdout.
pub fn apply_ok(moto: &Moto, args: &[String]) -> String {
    let mut v = vec!["apply"];
    v.extend(args.iter().map(String::as_str));
    let out = moto.ecs_ingress(&v);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    text
}

/// Every record set of a zone (one page: the tests' zones are small).
pub async fn record_sets(
    r53: &aws_sdk_route53::Client,
    zone: &str,
) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    r53.list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("list records")
        .resource_record_sets()
        .to_vec()
}
