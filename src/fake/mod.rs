//! An in-memory AWS behind the same traits as the real adapters.
//!
//! It enforces the AWS rules the controller must live with — unique rule priorities per
//! listener, 100 rules and 100 target groups per ALB, 5 condition values per rule,
//! target-group name rules and uniqueness, `ResourceInUse` while a rule forwards to a
//! target group, ECS refusing a target group that no load balancer uses — so a test that
//! passes here exercises the controller's ordering and safety, not a lenient mock.
//!
//! It records every call (as the number of AWS requests the real adapter would send, pages
//! included), injects faults per operation, and can enforce AWS's per-account token
//! buckets server-side ([`FakeAws::enforce_rate_limits`]), answering `Throttling` like AWS.
//! Calls from the controller go through a [`CallContext`], as the real adapters' do, so the
//! client-side limiter and metrics are exercised too. Time is tokio's: with paused time a
//! cold start that takes AWS minutes runs in milliseconds.

pub mod accounts;
mod acm;
pub mod answers;
pub mod cloudmap;
mod ec2;
mod ecs;
mod elb;

pub mod floor;
pub mod route53;
mod tagging;
pub mod traffic;
mod world;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::aws::call::CallContext;
use crate::aws::ratelimit::{Bucket, Buckets, RateLimiter};
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::state::{Container, PortMapping, Tags};
use crate::telemetry::Metrics;

pub use traffic::{FakeTargetState, Served, TrafficCheck};
pub use world::certificates::FakeCertificate;
pub use world::deployments::{DeploymentPhase, EcsDeployment};
pub use world::security_groups::{FakeIngressRule, FakeSource, INBOUND_RULES_PER_GROUP};
pub use world::{FakeService, FakeTask, World, default_health_check};

/// The fake account's id and region, in every ARN it makes.
pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "us-east-1";

/// A fault to inject: the next `times` calls of `operation` fail with `kind`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub times: u32,
}

/// One recorded AWS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: &'static str,
    pub operation: &'static str,
    /// False when it was throttled or failed by an injected fault before doing anything.
    pub served: bool,
}

impl Call {
    /// True for calls that change something.
    pub fn is_write(&self) -> bool {
        is_write(self.operation)
    }
}

fn is_write(operation: &str) -> bool {
    // AssumeRole changes nothing anyone can see.
    !(operation == "AssumeRole"
        || operation.starts_with("Describe")
        || operation.starts_with("List")
        || operation.starts_with("Get"))
}

/// The in-memory AWS.
pub struct FakeAws {
    world: Mutex<World>,
    calls: Mutex<Vec<Call>>,
    /// Faults with the number of matching calls still to let through before them.
    faults: Mutex<Vec<(Fault, u32)>>,
    rate_limits: Mutex<Option<Arc<Buckets>>>,
    /// Operations that take this long (virtual time), to hold a pass mid-way in tests.
    delays: Mutex<BTreeMap<&'static str, std::time::Duration>>,
    /// The event queue: messages not yet received, and receipts deleted.
    queue: Mutex<std::collections::VecDeque<crate::aws::Message>>,
    deleted: Mutex<Vec<String>>,
    /// GetResources answers one request late when set; the last answers per request.
    tagging_lag: Mutex<bool>,
    tagging_snapshots: Mutex<BTreeMap<String, Vec<(String, Tags)>>>,
    /// The served-traffic check run after every served write, when a test turned it on.
    traffic: Mutex<Option<TrafficCheck>>,
    /// More checks run after every served write and every act of ECS's (the simulation's
    /// invariants): each gets the account and what was done.
    write_watchers: Mutex<Vec<WriteWatcher>>,
    /// The benchmark's CPU clock and the time the fake's side of calls took on it: that
    /// work is AWS's, not the controller's.
    server_time: Mutex<Option<ServerTime>>,
    ctx: CallContext,
}

/// A check run after every served write: the account after it, and the operation.
pub type WriteWatcher = Box<dyn FnMut(&World, &str) + Send>;

/// A clock and the time spent on it answering requests (the fake's own work).
struct ServerTime {
    clock: fn() -> std::time::Duration,
    spent: std::time::Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The fake's state stays consistent between statements; a panicking test thread must not
    // hide the state from the assertions of another.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeAws {
    /// An empty account. The controller side gets `metrics` and the whole of every bucket.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Self::with_rate_share(metrics, 100)
    }

    /// An empty account whose client side paces itself to `rate_share` percent.
    pub fn with_rate_share(metrics: Arc<Metrics>, rate_share: u8) -> Arc<Self> {
        Arc::new(Self {
            world: Mutex::new(World::default()),
            calls: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            rate_limits: Mutex::new(None),
            delays: Mutex::new(BTreeMap::new()),
            queue: Mutex::new(Default::default()),
            deleted: Mutex::new(Vec::new()),
            tagging_lag: Mutex::new(false),
            tagging_snapshots: Mutex::new(BTreeMap::new()),
            traffic: Mutex::new(None),
            write_watchers: Mutex::new(Vec::new()),
            server_time: Mutex::new(None),
            ctx: CallContext::new(metrics, Arc::new(RateLimiter::new(rate_share))),
        })
    }

    /// The adapters the controller uses.
    pub fn aws(self: &Arc<Self>) -> Aws {
        self.aws_on_host_skewed_by(0)
    }

    /// The adapters of a replica whose host clock is `seconds` off the true time (negative:
    /// behind). The fake's AWS keeps the true time and, like AWS's `Date` header, tells it
    /// with every answer.
    pub fn aws_on_host_skewed_by(self: &Arc<Self>, seconds: i64) -> Aws {
        self.aws_with_clock(crate::aws::clock::AwsClock::following(
            crate::aws::clock::unix_now,
            seconds,
        ))
    }

    /// The adapters with `clock` as the replica's idea of AWS's time.
    pub fn aws_with_clock(self: &Arc<Self>, clock: Arc<crate::aws::clock::AwsClock>) -> Aws {
        Aws {
            ecs: self.clone(),
            elb: self.clone(),
            route53: self.clone(),
            cloudmap: self.clone(),
            tagging: self.clone(),
            ec2: self.clone(),
            acm: self.clone(),
            clock,
        }
    }

    /// The adapters with the zones of `settings` written through their roles, as
    /// `--zone-role` wires the real ones (one session per role, shared by its zones).
    pub fn aws_with_zone_roles(
        self: &Arc<Self>,
        settings: &crate::aws::zone_roles::ZoneRoleSettings,
    ) -> Aws {
        use crate::aws::sts::{RoleSession, StsApi};
        use crate::aws::zone_roles::{RoleRoute53, ZoneRoutedRoute53};
        let mut aws = self.aws();
        let sts: Arc<dyn StsApi> = self.clone();
        aws.route53 = Arc::new(ZoneRoutedRoute53::new(
            aws.route53.clone(),
            &settings.roles,
            |role| {
                let session = Arc::new(RoleSession::new(
                    role,
                    &settings.session_name,
                    settings.external_id.as_deref(),
                    sts.clone(),
                    aws.clock.clone(),
                ));
                RoleRoute53 {
                    route53: self.route53_for(session.clone()),
                    session,
                }
            },
        ));
        aws
    }

    /// Server-side throttling with AWS's published buckets (full size).
    pub fn enforce_rate_limits(&self) {
        *lock(&self.rate_limits) = Some(Arc::new(Buckets::new(1.0)));
    }

    /// Direct access to the account, for fixtures and assertions.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push((fault, 0));
    }

    /// As [`FakeAws::inject`], after `skip` calls of the operation succeeded: the second page
    /// of a paged read, the third write of a pass.
    pub fn inject_after(&self, fault: Fault, skip: u32) {
        lock(&self.faults).push((fault, skip));
    }

    /// Makes every call of `operation` take `delay` from now on.
    pub fn delay(&self, operation: &'static str, delay: std::time::Duration) {
        lock(&self.delays).insert(operation, delay);
    }

    /// Puts an event on the queue; returns its receipt handle.
    pub fn send_event(&self, body: &str) -> String {
        let mut q = lock(&self.queue);
        let receipt = format!("receipt-{}", q.len() + lock(&self.deleted).len());
        q.push_back(crate::aws::Message {
            receipt: receipt.clone(),
            body: body.to_string(),
        });
        receipt
    }

    /// Receipts deleted from the queue so far.
    pub fn deleted_events(&self) -> Vec<String> {
        lock(&self.deleted).clone()
    }

    /// From now on, (host, path) must be served by healthy targets of `service_arn` whenever
    /// a record answers for the host, and once served it must stay served, checked after
    /// every write the fake serves (turns the check on).
    pub fn expect_served(&self, host: &str, path: &str, service_arn: &str) {
        lock(&self.traffic)
            .get_or_insert_with(TrafficCheck::default)
            .expect(host, path, service_arn);
    }

    /// As [`FakeAws::expect_served`], for a (host, path) that any of `service_arns` may serve
    /// (a weighted rule across them).
    pub fn expect_served_by_any(&self, host: &str, path: &str, service_arns: &[&str]) {
        lock(&self.traffic)
            .get_or_insert_with(TrafficCheck::default)
            .expect_any(host, path, service_arns);
    }

    /// The test withdraws `host` (or hands it to another service): no longer expected.
    pub fn release_served(&self, host: &str) {
        if let Some(check) = lock(&self.traffic).as_mut() {
            check.release(host);
        }
    }

    /// ECS acts on its own (a deployment starts, shifts, flips): `f` runs on the world and
    /// the served-traffic check runs after it, as after a write of the controller's.
    pub fn ecs_acts<T>(&self, what: &str, f: impl FnOnce(&mut World) -> T) -> T {
        let mut world = lock(&self.world);
        let out = f(&mut world);
        self.after_write(&world, what);
        out
    }

    /// Someone other than the controller and ECS changes the account (a hand edit, tasks
    /// failing their checks): `f` runs on the world, and expected names it left unserved
    /// are excused until they are served again (see [`TrafficCheck::excuse_unserved`]).
    pub fn others_act<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut world = lock(&self.world);
        let before = lock(&self.traffic)
            .as_ref()
            .map(|check| check.served_everywhere(&world));
        let out = f(&mut world);
        if let Some(check) = lock(&self.traffic).as_mut() {
            if let Some(before) = before {
                check.note_damage(&world, before);
            }
            check.excuse_unserved(&world);
        }
        out
    }

    /// The controller described these services (see the served-traffic check).
    fn services_read(&self, service_arns: &[String]) {
        if let Some(check) = lock(&self.traffic).as_mut() {
            check.services_read(service_arns);
        }
    }

    /// The controller read the rules of a listener, or the health of a target group: what
    /// others broke on its ALB before is what it now knows (see the served-traffic check).
    fn controller_read(&self, listener_or_group_arn: &str) {
        let albs = lock(&self.world).alb_names_of(listener_or_group_arn);
        if let Some(check) = lock(&self.traffic).as_mut() {
            check.controller_read(&albs);
        }
    }

    /// Runs `watcher` after every served write and every act of ECS's from now on.
    pub fn watch_writes(&self, watcher: WriteWatcher) {
        lock(&self.write_watchers).push(watcher);
    }

    /// The served-traffic check, to set expectations on (turns the check on).
    pub fn traffic<T>(&self, f: impl FnOnce(&mut TrafficCheck, &World) -> T) -> T {
        let world = lock(&self.world);
        let mut traffic = lock(&self.traffic);
        f(traffic.get_or_insert_with(TrafficCheck::default), &world)
    }

    /// The checks after a write: served traffic, then the watchers.
    fn after_write(&self, world: &World, what: &str) {
        if let Some(check) = lock(&self.traffic).as_mut() {
            check.check(world, what);
        }
        for watcher in lock(&self.write_watchers).iter_mut() {
            watcher(world, what);
        }
    }

    /// Every break of the served-traffic invariant so far, and the writes checked.
    pub fn traffic_report(&self) -> (Vec<String>, usize) {
        lock(&self.traffic)
            .as_ref()
            .map(|c| (c.violations.clone(), c.writes))
            .unwrap_or_default()
    }

    /// Expected (host, path) pairs that are not served right now.
    pub fn unserved(&self) -> Vec<String> {
        let world = lock(&self.world);
        lock(&self.traffic)
            .as_ref()
            .map(|c| c.unserved(&world))
            .unwrap_or_default()
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    pub fn reset_calls(&self) {
        lock(&self.calls).clear();
    }

    /// Requests per operation.
    pub fn call_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for c in lock(&self.calls).iter() {
            *out.entry(c.operation).or_default() += 1;
        }
        out
    }

    /// Served requests that change something.
    pub fn writes(&self) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|c| c.served && c.is_write())
            .count()
    }

    /// Requests answered with a throttling error.
    pub fn throttled(&self) -> usize {
        lock(&self.calls).iter().filter(|c| !c.served).count()
    }

    /// Admission of one request: rate buckets, then injected faults. Records it either way.
    fn admit(&self, service: &'static str, operation: &'static str) -> Result<(), AwsError> {
        let buckets = lock(&self.rate_limits).clone();
        if let Some(buckets) = buckets {
            let wanted: &[Bucket] = Bucket::for_operation(service, operation);
            if buckets
                .try_take_all(wanted, tokio::time::Instant::now())
                .is_err()
            {
                self.record(service, operation, false);
                return Err(error(
                    service,
                    operation,
                    "Throttling",
                    "Rate exceeded".into(),
                ));
            }
        }
        let mut faults = lock(&self.faults);
        let hit = faults
            .iter_mut()
            .find(|(f, _)| f.operation == operation && f.times > 0)
            .and_then(|(f, skip)| {
                if *skip > 0 {
                    *skip -= 1;
                    return None;
                }
                f.times -= 1;
                Some(f.kind)
            });
        if let Some(kind) = hit {
            drop(faults);
            self.record(service, operation, false);
            let mut e = AwsError::new(service, operation, kind, "injected fault");
            e.code = Some(format!("Injected{}", kind.as_str()));
            return Err(e);
        }
        drop(faults);
        self.record(service, operation, true);
        Ok(())
    }

    fn record(&self, service: &'static str, operation: &'static str, served: bool) {
        lock(&self.calls).push(Call {
            service,
            operation,
            served,
        });
    }

    /// One request through the client side (limiter, metrics) and the server side
    /// (buckets, faults), then `f` on the account.
    async fn request<T>(
        &self,
        service: &'static str,
        operation: &'static str,
        f: impl FnOnce(&mut World) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let delay = lock(&self.delays).get(operation).copied();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.ctx
            .call(service, operation, async {
                self.server_side(|| {
                    self.admit(service, operation)?;
                    let mut world = lock(&self.world);
                    let result = f(&mut world);
                    if result.is_ok() && is_write(operation) {
                        self.after_write(&world, operation);
                    }
                    result
                })
            })
            .await
    }

    /// Runs `f`, AWS's side of a request, on the clock of [`FakeAws::measure_server_time`]
    /// when one is set: that time is not the controller's.
    pub(crate) fn server_side<T>(&self, f: impl FnOnce() -> T) -> T {
        // Its answers hold maps of their own, as answers decoded from AWS's do.
        let f = || ecs_ingress_core::shared_map::detached(f);
        let clock = lock(&self.server_time).as_ref().map(|t| t.clock);
        let Some(clock) = clock else {
            return f();
        };
        let started = clock();
        let result = f();
        if let Some(t) = lock(&self.server_time).as_mut() {
            t.spent += clock().saturating_sub(started);
        }
        result
    }

    /// Measures the fake's side of every request from now on with `clock` (a thread CPU
    /// clock in the benchmark), so the controller's own CPU can be told from AWS's.
    pub fn measure_server_time(&self, clock: fn() -> std::time::Duration) {
        *lock(&self.server_time) = Some(ServerTime {
            clock,
            spent: std::time::Duration::ZERO,
        });
    }

    /// The time the fake's side of requests took since [`FakeAws::measure_server_time`].
    pub fn server_time(&self) -> std::time::Duration {
        lock(&self.server_time)
            .as_ref()
            .map_or(std::time::Duration::ZERO, |t| t.spent)
    }

    /// A paged read: as many requests as the real adapter would send for the `items` the
    /// world holds now, the last one doing the work. A failure on any page fails the read,
    /// as in the adapter.
    async fn paged<T>(
        &self,
        service: &'static str,
        operation: &'static str,
        items: impl FnOnce(&World) -> usize,
        page_size: usize,
        f: impl FnOnce(&mut World) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let items = self.server_side(|| items(&self.world()));
        let pages = items.div_ceil(page_size).max(1);
        for _ in 1..pages {
            self.ctx
                .call(service, operation, async {
                    self.server_side(|| self.admit(service, operation))
                })
                .await?;
        }
        self.request(service, operation, f).await
    }
}

#[async_trait::async_trait]
impl crate::aws::QueueApi for FakeAws {
    /// A long poll: up to 10 waiting messages, or nothing after a second of (virtual) time.
    async fn receive(&self) -> Result<Vec<crate::aws::Message>, AwsError> {
        let ready: Vec<crate::aws::Message> = {
            let mut q = lock(&self.queue);
            let n = q.len().min(10);
            q.drain(..n).collect()
        };
        if ready.is_empty() {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Ok(ready)
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), AwsError> {
        lock(&self.deleted).extend(receipts.iter().cloned());
        Ok(())
    }
}

/// An AWS error as the service would answer it.
pub(crate) fn error(
    service: &'static str,
    operation: &'static str,
    code: &str,
    message: String,
) -> AwsError {
    let mut e = AwsError::new(service, operation, ErrorKind::from_code(code), message);
    e.code = Some(code.to_string());
    e
}

/// A container with one TCP port, for fixtures.
pub fn container(name: &str, port: i32, labels: Tags) -> Container {
    Container {
        name: name.to_string(),
        docker_labels: labels,
        port_mappings: vec![PortMapping {
            container_port: port,
            host_port: None,
            udp: false,
        }],
    }
}

/// Tags from `key=value` pairs.
pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod load_balancer_tests;
#[cfg(test)]
mod tests;
