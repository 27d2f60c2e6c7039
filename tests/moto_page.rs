//! The status page in a real browser: `ecs-ingress run` on moto with services in several
//! states, headless Chromium reads the rendered DOM and takes the screenshot that
//! docs/operations.md shows (docs/status-page.png).
//!
//! Without a Chromium binary the test is skipped, except as root (CI, where scripts/test.sh
//! installs Debian's chromium): there it must run.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Daemon, Moto, free_port, http_get as get};

/// The first Chromium on PATH (or `$CHROMIUM`).
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=...`), in a
/// fresh profile, with everything that would reach beyond this machine switched off.
fn headless(chromium: &Path, args: &[&str], url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("ecs-ingress-page-{}", std::process::id()));
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `/status` until every `(service, state)` holds; calls `between` with the listed
/// services after each poll.
fn wait_states(port: u16, wanted: &[(&str, &str)], mut between: impl FnMut(&[serde_json::Value])) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let body = get(port, "/status").map(|r| r.1).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_default();
        let list = v["services"].as_array().cloned().unwrap_or_default();
        let holds = |(name, state): &(&str, &str)| {
            list.iter()
                .any(|s| s["service"] == *name && s["state"] == *state)
        };
        if wanted.iter().all(holds) {
            return;
        }
        assert!(Instant::now() < deadline, "states never reached: {body}");
        between(&list);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// True when `service` waits for healthy targets: its group is attached, ECS would now
/// register its tasks.
fn waits_for_targets(list: &[serde_json::Value], service: &str) -> bool {
    list.iter().any(|s| {
        s["service"] == service
            && s["waiting"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w.as_str().is_some_and(|w| w.contains("healthy targets")))
            })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_services_and_states_in_a_browser() {
    let Some(chromium) = chromium() else {
        assert!(
            !is_root(),
            "no chromium on PATH: scripts/test.sh installs Debian's chromium as root"
        );
        eprintln!("SKIPPED: no chromium on PATH (scripts/test.sh installs it as root)");
        return;
    };
    let moto = Moto::start();
    let seed = moto.seed();
    let r53 = aws_sdk_route53::Client::new(&moto.sdk().await);
    // moto reports no creation time, so the ARN decides who is older: `shop` holds the
    // host, `shop-copy` is in conflict.
    moto.create_service(
        &seed,
        "shop",
        &[("alb.host", "shop.in.example.com")],
        &[],
        &[],
    );
    moto.create_service(
        &seed,
        "shop-copy",
        &[],
        &[("alb.host", "shop.in.example.com")],
        &[],
    );
    moto.create_service(
        &seed,
        "broken",
        &[
            ("alb.host", "broken.in.example.com"),
            ("alb.healthcheck.interval", "abc"),
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
    hand_made_record(&r53, &seed.hosted_zone_id, "taken.in.example.com").await;

    let port = free_port();
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("page-daemon-{port}.log"));
    let _daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
            .arg("run")
            .args(seed.args())
            .args(["--hosted-zone", &seed.hosted_zone_id])
            .args(["--admin-addr", &format!("127.0.0.1:{port}")])
            .args(["--interval", "2s", "--owner-id", "platform-eu"])
            .args(["--log-format", "json"])
            .envs(moto.env())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
            .spawn()
            .expect("spawn"),
    );
    let wanted = [
        ("shop", "published"),
        ("shop-copy", "conflict"),
        ("broken", "invalid"),
        ("taken", "dns-conflict"),
    ];
    // ECS registers a deployment's tasks in the new target group; moto does not, so the
    // test does it once the groups exist (names wait for healthy targets).
    let mut deployed = std::collections::BTreeSet::new();
    wait_states(port, &wanted, |list| {
        for name in ["shop", "taken"] {
            if !deployed.contains(name)
                && waits_for_targets(list, name)
                && !moto.ecs_deploys(&seed, name).is_empty()
            {
                deployed.insert(name);
            }
        }
    });

    assert_each_state_logged_once(&log, &wanted);

    let url = format!("http://127.0.0.1:{port}/");
    let dom = headless(&chromium, &["--dump-dom"], &url);
    for (name, state) in wanted {
        let row = format!("id=\"svc-main-{name}\" data-state=\"{state}\"");
        assert!(dom.contains(&row), "{row} missing from the DOM:\n{dom}");
    }
    assert!(dom.contains("shop.in.example.com"), "{dom}");
    assert!(dom.contains("platform-eu"), "owner id in the header: {dom}");
    assert!(dom.contains("single replica"), "{dom}");
    assert!(dom.contains(" / 100"), "ALB quota use: {dom}");
    let problems_first = dom.find("svc-main-broken") < dom.find("svc-main-shop\"");
    assert!(problems_first, "services with problems come first");

    let filtered = headless(&chromium, &["--dump-dom"], &format!("{url}?state=conflict"));
    assert!(filtered.contains("svc-main-shop-copy") && !filtered.contains("svc-main-shop\""));
    let searched = headless(&chromium, &["--dump-dom"], &format!("{url}?q=taken.in"));
    assert!(searched.contains("svc-main-taken") && !searched.contains("svc-main-broken"));

    // What happened stays visible: the changes made, newest first, and one service on its
    // own with its keys' sources, console links and state changes.
    assert!(dom.contains("id=\"recent-changes\""), "{dom}");
    assert!(dom.contains("create target-group"), "{dom}");
    let shop = headless(
        &chromium,
        &["--dump-dom"],
        &format!("{url}?service=main/shop"),
    );
    let view = &shop[shop.find("id=\"service\"").expect("the service's view")..];
    assert!(view.contains("alb.host"), "{view}");
    assert!(view.contains("task definition tag"), "{view}");
    assert!(view.contains("console.aws.amazon.com"), "{view}");
    assert!(view.contains("published"), "{view}");

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
    headless(
        &chromium,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // The phone-width view, kept with the build output for a person to look at.
    let phone = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page-phone.png");
    headless(
        &chromium,
        &[
            &format!("--screenshot={}", phone.display()),
            "--window-size=390,1400",
        ],
        &url,
    );
}

/// Each service's state is logged once, however many passes ran, with its fields.
fn assert_each_state_logged_once(log: &Path, wanted: &[(&str, &str)]) {
    let text = std::fs::read_to_string(log).expect("daemon log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["message"] == "service state changed")
        .collect();
    for (name, state) in wanted {
        let service = format!("main/{name}");
        let n = lines
            .iter()
            .filter(|l| l["service"] == service && l["state"] == *state)
            .count();
        assert_eq!(n, 1, "{service} {state} logged {n} times:\n{text}");
    }
    let passes = text.matches("pass complete").count();
    assert!(passes >= 2, "several passes ran: {passes}");
}

/// An A record made by hand: the name is taken, so `taken` is `dns-conflict`.
async fn hand_made_record(r53: &aws_sdk_route53::Client, zone: &str, name: &str) {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let record = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value("10.0.0.1")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set");
    let change = Change::builder()
        .action(ChangeAction::Create)
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
        .expect("record made by hand");
}
