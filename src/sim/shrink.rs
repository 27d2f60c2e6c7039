//! Narrows a failing script: fewer steps, then fewer services, keeping it failing. Each try
//! is a whole run; the result replays from the seed and the kept steps.

use super::script::Script;
use crate::sabotage::Sabotage;

/// The most runs a shrink may take.
const MAX_TRIES: usize = 300;

/// A smaller script that still fails (any violation), or `script` itself.
pub fn shrink(script: &Script, sabotage: Option<Sabotage>) -> Script {
    let fails = |s: &Script| !super::run(s, sabotage).passed();
    let mut best = script.clone();
    let mut tries = 0;
    // Steps after the failure play no part in it.
    // (A failure found while settling is at the step after the last: nothing to cut.)
    if let Some(at) = super::run(&best, sabotage).failed_at {
        let len = best.steps.len();
        best = best.without((at + 1).min(len)..len);
    }
    // Remove chunks, halving their size down to single steps.
    let mut chunk = best.steps.len() / 2;
    while chunk > 0 && tries < MAX_TRIES {
        let mut start = 0;
        while start < best.steps.len() && tries < MAX_TRIES {
            let end = (start + chunk).min(best.steps.len());
            let candidate = best.without(start..end);
            tries += 1;
            if !candidate.steps.is_empty() && fails(&candidate) {
                best = candidate;
            } else {
                start += chunk;
            }
        }
        chunk /= 2;
    }
    // Fewer services: drop every act about one of them.
    for service in 0..best.services {
        if tries >= MAX_TRIES {
            break;
        }
        let candidate = best.without_service(service);
        tries += 1;
        if candidate.steps.len() < best.steps.len() && fails(&candidate) {
            best = candidate;
        }
    }
    best
}
