//! Safety rules that the whole-system simulation turns off one at a time, to prove that it
//! catches each of them. A simulation that still passes with a safety rule off is not
//! checking that rule.
//!
//! Without the `sabotage` feature (the shipped binary), [`is_on`] is a constant `false`
//! that the compiler removes together with the branch it guards. With it (the test and
//! simulation builds), a switch is set per thread: the simulation runs a whole world on
//! one thread, and tests running beside it on other threads are not affected.

/// A safety rule that can be turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sabotage {
    /// Names are published and moves leave their old ALB before the serving target group
    /// has a healthy target.
    HealthWait,
    /// A service moving to another ALB leaves the old one as soon as its names point at the
    /// new one, without waiting for clients' cached answers to run out.
    Drain,
    /// A replica writes whether or not it holds the lease.
    LeaseFence,
    /// What ecs-ingress did not make counts as its own: resources tagged by anyone, and
    /// names whose records carry no ownership marker.
    Ownership,
}

impl Sabotage {
    pub const ALL: [Sabotage; 4] = [
        Sabotage::HealthWait,
        Sabotage::Drain,
        Sabotage::LeaseFence,
        Sabotage::Ownership,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sabotage::HealthWait => "health-wait",
            Sabotage::Drain => "drain",
            Sabotage::LeaseFence => "lease-fence",
            Sabotage::Ownership => "ownership",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[cfg(feature = "sabotage")]
thread_local! {
    static OFF: std::cell::Cell<Option<Sabotage>> = const { std::cell::Cell::new(None) };
}

/// Turns `rule` off on this thread (`None`: every rule on).
#[cfg(feature = "sabotage")]
pub fn set(rule: Option<Sabotage>) {
    OFF.with(|off| off.set(rule));
}

/// True when `rule` is turned off on this thread.
#[cfg(feature = "sabotage")]
pub fn is_on(rule: Sabotage) -> bool {
    OFF.with(|off| off.get() == Some(rule))
}

/// Always false: the shipped build has no switch.
#[cfg(not(feature = "sabotage"))]
#[inline(always)]
pub fn is_on(_rule: Sabotage) -> bool {
    false
}
