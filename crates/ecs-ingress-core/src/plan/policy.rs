//! The policy stage: which planned changes may go out. `--policy` holds back deletions
//! (`upsert-only`) or updates too (`create-only`), as external-dns's policies do, and a
//! pass in which a read failed deletes nothing (safety rule 2), scoped for unread hosted
//! zones: the caller passes `Snapshot::complete_but_zones` and keeps the services such a
//! zone may concern (`unread_zones.rs`).

use super::Plan;
use super::change::PlannedChange;
use super::settings::Policy as PolicyFlag;

/// What may change in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    flag: PolicyFlag,
    reads_complete: bool,
}

impl Policy {
    pub fn new(flag: PolicyFlag, reads_complete: bool) -> Self {
        Self {
            flag,
            reads_complete,
        }
    }

    pub fn allows(&self, change: &PlannedChange) -> bool {
        if change.change.is_deletion() {
            self.reads_complete && self.flag == PolicyFlag::Sync
        } else if change.change.is_update() {
            self.flag != PolicyFlag::CreateOnly
        } else {
            true
        }
    }

    /// Splits `changes` into the plan's changes and its held-back ones, saying why.
    pub fn apply(&self, changes: Vec<PlannedChange>, out: &mut Plan) {
        // In place: nothing is moved when nothing is held back (the usual case). A partition
        // into two growing vectors moved every change at least twice, and a cold start
        // plans several per service.
        let mut allowed = changes;
        out.held_back
            .extend(allowed.extract_if(.., |c| !self.allows(c)));
        if out.changes.is_empty() {
            out.changes = allowed;
        } else {
            out.changes.append(&mut allowed);
        }
        if !out.held_back.is_empty() {
            let why = if !self.reads_complete {
                "a read failed this pass, so nothing is deleted".to_string()
            } else {
                format!("policy {:?} does not allow them", self.flag)
            };
            out.problems
                .push(format!("{} changes held back: {why}", out.held_back.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::change::Change;

    fn change(c: Change) -> PlannedChange {
        PlannedChange {
            service_arn: None,
            service: "s".into(),
            change: c,
            reason: String::new(),
        }
    }

    #[test]
    fn each_flag_and_a_failed_read_hold_back_what_they_should() {
        let delete = change(Change::DeleteRule { arn: "r".into() });
        let update = change(Change::SetRulePriorities {
            listener_arn: "l".into(),
            priorities: vec![],
        });
        let create = change(Change::CreateCloudMapService {
            spec: crate::state::CloudMapServiceSpec {
                namespace_id: "n".into(),
                name: "s".into(),
                record_types: vec![],
                description: String::new(),
                tags: Default::default(),
            },
        });
        let table = [
            (PolicyFlag::Sync, true, [true, true, true]),
            (PolicyFlag::Sync, false, [false, true, true]),
            (PolicyFlag::UpsertOnly, true, [false, true, true]),
            (PolicyFlag::CreateOnly, true, [false, false, true]),
        ];
        for (flag, complete, [d, u, c]) in table {
            let p = Policy::new(flag, complete);
            assert_eq!(p.allows(&delete), d, "{flag:?} {complete} delete");
            assert_eq!(p.allows(&update), u, "{flag:?} {complete} update");
            assert_eq!(p.allows(&create), c, "{flag:?} {complete} create");
        }
    }
}
