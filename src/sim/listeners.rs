//! Listeners lost and made again: someone deletes a listener of the estate (its rules go
//! with it, hand-made ones included), and later the operator makes it again on the same
//! ALB and port — a new ARN — and restarts the replicas with it in their flags.

use std::collections::BTreeMap;

use super::actors::Actors;
use crate::config::Config;

/// A listener someone deleted: where it was, to make it again.
pub struct Lost {
    arn: String,
    load_balancer_arn: String,
    port: i32,
}

/// Deletes the listener the estate calls `name`, as someone would by hand. `None` when it
/// is gone already.
pub fn delete(actors: &mut Actors, name: &str) -> Option<Lost> {
    let arn = actors.estate.listeners.get(name)?.clone();
    let foreign = actors.foreign.clone();
    actors.fake().others_act(|world| {
        let listener = world.listeners.get(&arn)?.clone();
        world.delete_listener(&arn);
        // The hand that deleted them knows: its own rules went with the listener.
        foreign
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rules
            .retain(|_, r| r.listener_arn != arn);
        Some(Lost {
            arn: arn.clone(),
            load_balancer_arn: listener.load_balancer_arn,
            port: listener.port.unwrap_or(80),
        })
    })
}

/// Makes every lost listener again and returns the replicas' flags with the new ARNs in
/// place of the old ones (listeners, pool members, draining members).
pub fn restore(actors: &mut Actors, lost: &mut BTreeMap<String, Lost>, config: &Config) -> Config {
    let mut config = config.clone();
    for (name, l) in std::mem::take(lost) {
        let made = actors
            .fake()
            .others_act(|world| world.add_listener(&l.load_balancer_arn, l.port));
        let Some(new) = made else {
            continue; // Its ALB is gone too: nothing to make it on.
        };
        actors.estate.listeners.insert(name, new.clone());
        let swap = |arn: &mut String| {
            if *arn == l.arn {
                arn.clone_from(&new);
            }
        };
        config.listeners.values_mut().for_each(swap);
        for members in config.pools.members.values_mut() {
            members.iter_mut().for_each(swap);
        }
        if config.pools.draining.remove(&l.arn) {
            config.pools.draining.insert(new.clone());
        }
    }
    config
}
