//! `alb.deploy` and its settings → how ECS deploys the service.

use super::collector::Collector;
use super::keys;
use crate::state::{DeploymentSettings, DeploymentStrategy, Tenths};

/// The settings keys, with the strategy each one needs.
const SETTINGS: &[(&str, Option<DeploymentStrategy>)] = &[
    (keys::ALB_BAKE_MINUTES, None),
    (
        keys::ALB_LINEAR_STEP_PERCENT,
        Some(DeploymentStrategy::Linear),
    ),
    (
        keys::ALB_LINEAR_STEP_MINUTES,
        Some(DeploymentStrategy::Linear),
    ),
    (keys::ALB_CANARY_PERCENT, Some(DeploymentStrategy::Canary)),
    (keys::ALB_CANARY_MINUTES, Some(DeploymentStrategy::Canary)),
];

/// ECS's limit on every bake time (`bakeTimeInMinutes`, `stepBakeTimeInMinutes`,
/// `canaryBakeTimeInMinutes`).
const MAX_BAKE_MINUTES: u32 = 1440;

/// `Some(None)` without `alb.deploy`, `None` after an error (recorded).
pub(super) fn deploy(c: &mut Collector<'_>) -> Option<Option<DeploymentSettings>> {
    let strategy = if c.values.contains_key(keys::ALB_DEPLOY) {
        Some(c.parse(
            keys::ALB_DEPLOY,
            "expected rolling, blue-green, linear or canary",
            |s| match s {
                "rolling" => Some(DeploymentStrategy::Rolling),
                "blue-green" => Some(DeploymentStrategy::BlueGreen),
                "linear" => Some(DeploymentStrategy::Linear),
                "canary" => Some(DeploymentStrategy::Canary),
                _ => None,
            },
        )?)
    } else {
        None
    };
    if !settings_fit(c, strategy.as_ref()) {
        return None;
    }
    let Some(strategy) = strategy else {
        return Some(None);
    };
    let mut ok = true;
    let mut minutes = |c: &mut Collector<'_>, key: &str| {
        if !c.values.contains_key(key) {
            return None;
        }
        let n = c.number(key, 0, MAX_BAKE_MINUTES, "minutes");
        ok &= n.is_some();
        n.and_then(|n| u16::try_from(n).ok())
    };
    let bake_minutes = minutes(c, keys::ALB_BAKE_MINUTES);
    let linear_step_minutes = minutes(c, keys::ALB_LINEAR_STEP_MINUTES);
    let canary_minutes = minutes(c, keys::ALB_CANARY_MINUTES);
    let linear_step_percent = percent(c, keys::ALB_LINEAR_STEP_PERCENT, 30);
    let canary_percent = percent(c, keys::ALB_CANARY_PERCENT, 1);
    let bad_percent = [
        (keys::ALB_LINEAR_STEP_PERCENT, &linear_step_percent),
        (keys::ALB_CANARY_PERCENT, &canary_percent),
    ]
    .iter()
    .any(|(k, v)| c.values.contains_key(k) && v.is_none());
    (ok && !bad_percent).then_some(Some(DeploymentSettings {
        strategy,
        bake_minutes,
        linear_step_percent,
        linear_step_minutes,
        canary_percent,
        canary_minutes,
    }))
}

/// Each setting needs `alb.deploy`, and the strategy it configures: a setting that would be
/// ignored is a mistake worth reporting.
fn settings_fit(c: &mut Collector<'_>, strategy: Option<&DeploymentStrategy>) -> bool {
    let mut fit = true;
    for (key, needs) in SETTINGS {
        let Some(v) = c.values.get(key).cloned() else {
            continue;
        };
        let wrong = match (strategy, needs) {
            (None, _) => Some("needs alb.deploy".to_string()),
            (Some(DeploymentStrategy::Rolling), None) => {
                Some("needs alb.deploy=blue-green, linear or canary".to_string())
            }
            (Some(s), Some(n)) if s != n => {
                Some(format!("needs alb.deploy={}", super::intent::deploy_tag(n)))
            }
            _ => None,
        };
        if let Some(why) = wrong {
            c.error(key, Some(&v), why);
            fit = false;
        }
    }
    fit
}

/// A percentage from `low` tenths to 100, at most one decimal (`12.5`).
fn percent(c: &mut Collector<'_>, key: &str, low: u16) -> Option<Tenths> {
    if !c.values.contains_key(key) {
        return None;
    }
    let expected = format!(
        "expected a percentage {}–100, at most one decimal",
        Tenths(low)
    );
    c.parse(key, &expected, |s| {
        let (whole, tenth) = match s.split_once('.') {
            Some((w, t)) if t.len() == 1 => (w, t),
            Some(_) => return None,
            None => (s, "0"),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let tenths = whole.parse::<u16>().ok()?.checked_mul(10)? + tenth.parse::<u16>().ok()?;
        (low..=1000).contains(&tenths).then_some(Tenths(tenths))
    })
}
