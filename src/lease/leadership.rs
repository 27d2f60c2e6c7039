//! Whether this replica may write to AWS right now.
//!
//! A [`Leadership`] is a cheap handle shared by the lease campaign (which sets the role) and
//! everything that writes (which asks [`Leadership::may_write`] before every write). A single
//! replica without leader election uses [`Leadership::always`], which always may write.
//!
//! The write fence is a point in time on this process's monotonic clock (tokio's, so tests on
//! paused time see it move): the instant the last successful renewal was *sent*, plus the
//! lease, minus a safety margin. Another replica can only take the lease over after it saw the
//! same record unchanged for a whole lease on its own clock, which starts after that renewal
//! reached the store; so once the fence has passed here, nobody else has started yet.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

/// What this replica is in the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Holds the lease: writes may start until `fence`.
    Leader { fence: Instant },
    /// Does not hold the lease (or cannot prove it does).
    Standby {
        /// The holder named by the last record read, if any.
        leader: Option<String>,
        /// Why the lease store cannot be used, in one line, while that is so.
        problem: Option<String>,
    },
}

pub(crate) use crate::status::LeadershipStatus;

struct Elected {
    id: String,
    role: watch::Sender<Role>,
    /// When the campaign last completed a step: liveness of a standby, which makes no pass.
    last_step: std::sync::Mutex<Instant>,
}

/// Cheap to clone; every clone sees the same role.
#[derive(Clone)]
pub struct Leadership {
    /// `None`: a single replica, always allowed to write.
    elected: Option<Arc<Elected>>,
}

impl Leadership {
    /// A single replica: always the writer.
    pub(crate) fn always() -> Self {
        Self { elected: None }
    }

    /// A replica that campaigns as `id`; a standby until the campaign says otherwise.
    pub fn elected(id: impl Into<String>) -> Self {
        Self {
            elected: Some(Arc::new(Elected {
                id: id.into(),
                role: watch::Sender::new(Role::Standby {
                    leader: None,
                    problem: None,
                }),
                last_step: std::sync::Mutex::new(Instant::now()),
            })),
        }
    }

    /// True when a write may start now: a single replica, or the leader before its fence.
    pub fn may_write(&self) -> bool {
        match &self.elected {
            None => true,
            Some(e) => matches!(*e.role.borrow(), Role::Leader { fence } if Instant::now() < fence),
        }
    }

    /// True when leader election is on.
    pub fn is_elected(&self) -> bool {
        self.elected.is_some()
    }

    /// This replica's id in the election.
    pub fn id(&self) -> Option<&str> {
        self.elected.as_deref().map(|e| e.id.as_str())
    }

    /// The current role (a single replica is a leader whose fence never comes).
    pub fn role(&self) -> Option<Role> {
        self.elected.as_ref().map(|e| e.role.borrow().clone())
    }

    /// Resolves once this replica may write (at once for a single replica).
    pub async fn until_leader(&self) {
        let Some(e) = &self.elected else {
            return;
        };
        let mut rx = e.role.subscribe();
        // A fence that passed without a renewal is no leadership: wait for the next role.
        let _ = rx
            .wait_for(|r| matches!(r, Role::Leader { fence } if Instant::now() < *fence))
            .await;
    }

    /// Ready to serve: a single replica or a leader always; a standby while it can reach
    /// the lease store (so it could take over).
    pub fn can_take_over(&self) -> bool {
        match self.role() {
            None | Some(Role::Leader { .. }) => true,
            Some(Role::Standby { problem, .. }) => problem.is_none(),
        }
    }

    /// The standby's problem, for `/readyz`.
    pub fn problem(&self) -> Option<String> {
        match self.role() {
            Some(Role::Standby { problem, .. }) => problem,
            _ => None,
        }
    }

    /// True for a standby (which runs no pass).
    pub fn is_standby(&self) -> bool {
        matches!(self.role(), Some(Role::Standby { .. }))
    }

    /// When the campaign last completed a step (`None` for a single replica).
    pub fn last_step(&self) -> Option<Instant> {
        self.elected.as_ref().map(|e| {
            *e.last_step
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    pub fn status(&self) -> LeadershipStatus {
        let Some(e) = &self.elected else {
            return LeadershipStatus {
                mode: "single",
                id: None,
                leader: None,
                problem: None,
            };
        };
        let id = Some(e.id.clone());
        match e.role.borrow().clone() {
            Role::Leader { .. } => LeadershipStatus {
                mode: "leader",
                leader: id.clone(),
                id,
                problem: None,
            },
            Role::Standby { leader, problem } => LeadershipStatus {
                mode: "standby",
                id,
                leader,
                problem,
            },
        }
    }

    /// Sets the role (the campaign does). Returns true when leadership changed hands here
    /// (leader ↔ standby).
    pub fn set_role(&self, role: Role) -> bool {
        let Some(e) = &self.elected else {
            return false;
        };
        *e.last_step
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        let was_leader = matches!(*e.role.borrow(), Role::Leader { .. });
        let is_leader = matches!(role, Role::Leader { .. });
        e.role.send_replace(role);
        was_leader != is_leader
    }
}

/// One line for the status page; every value is escaped (ids come from flags and tasks).
pub fn render_html(status: &LeadershipStatus) -> String {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut line = format!("<p>Leadership: {}", status.mode);
    if let Some(id) = &status.id {
        line.push_str(&format!(" (this replica: {})", escape(id)));
    }
    if status.mode == "standby" {
        let leader = status.leader.as_deref().unwrap_or("unknown");
        line.push_str(&format!("; leader: {}", escape(leader)));
    }
    if let Some(problem) = &status.problem {
        line.push_str(&format!(
            "; <span class=\"error\">{}</span>",
            escape(problem)
        ));
    }
    line.push_str("</p>");
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_single_replica_always_writes() {
        let l = Leadership::always();
        assert!(l.may_write());
        assert!(l.can_take_over());
        assert_eq!(l.status().mode, "single");
    }

    #[tokio::test(start_paused = true)]
    async fn the_fence_closes_at_its_instant() {
        let l = Leadership::elected("a");
        assert!(!l.may_write(), "a new replica is a standby");
        assert!(l.set_role(Role::Leader {
            fence: Instant::now() + Duration::from_secs(10)
        }));
        assert!(l.may_write());
        assert_eq!(l.status().leader.as_deref(), Some("a"));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!l.may_write(), "no renewal: the fence has closed");
    }

    #[test]
    fn the_status_line_names_the_leader_and_escapes_ids() {
        let l = Leadership::elected("<b>");
        l.set_role(Role::Standby {
            leader: Some("task/1".into()),
            problem: Some("table `x` missing".into()),
        });
        let html = render_html(&l.status());
        assert!(html.contains("standby"), "{html}");
        assert!(html.contains("this replica: &lt;b&gt;"), "{html}");
        assert!(html.contains("leader: task/1"), "{html}");
        assert!(html.contains("table `x` missing"), "{html}");
        let json = serde_json::to_value(Leadership::always().status()).expect("json");
        assert_eq!(json, serde_json::json!({"mode": "single"}));
    }

    #[tokio::test(start_paused = true)]
    async fn until_leader_waits_for_a_live_fence() {
        let l = Leadership::elected("a");
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.until_leader().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        l.set_role(Role::Leader {
            fence: Instant::now() + Duration::from_secs(5),
        });
        waiter.await.expect("woken");
    }
}
