//! Listeners and ALBs lost and made again: someone deletes a listener of the estate, or its
//! whole ALB (rules go with them, hand-made ones included); later the operator makes it
//! again — a new listener ARN on the same ALB and port, or a new ALB of the same name under
//! a new DNS name — and restarts the replicas with the new ARN in their flags.

use std::collections::BTreeMap;

use super::actors::Actors;
use crate::config::Config;

/// A listener someone deleted: where it was, to make it again.
pub struct Lost {
    arn: String,
    load_balancer_arn: String,
    port: i32,
    /// The name of its ALB, to make the ALB again if it is gone too.
    alb_name: String,
}

/// Deletes the listener the estate calls `name` (with its ALB when `alb`), as someone would
/// by hand. `None` when it is gone already.
pub fn delete(actors: &mut Actors, name: &str, alb: bool) -> Option<Lost> {
    let arn = actors.estate.listeners.get(name)?.clone();
    let foreign = actors.foreign.clone();
    actors.fake().others_act(|world| {
        let listener = world.listeners.get(&arn)?.clone();
        let lb = world
            .load_balancers
            .get(&listener.load_balancer_arn)?
            .clone();
        let gone: Vec<String> = if alb {
            let on_it = world
                .listeners
                .values()
                .filter(|l| l.load_balancer_arn == lb.arn)
                .map(|l| l.arn.clone())
                .collect();
            world.delete_load_balancer(&lb.arn).ok()?;
            on_it
        } else {
            world.delete_listener(&arn);
            vec![arn.clone()]
        };
        // The hand that deleted them knows: its own rules went with the listener.
        foreign
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rules
            .retain(|_, r| !gone.iter().any(|g| r.listener_arn == *g));
        Some(Lost {
            arn: arn.clone(),
            load_balancer_arn: lb.arn.to_string(),
            port: listener.port.unwrap_or(80),
            alb_name: lb.name,
        })
    })
}

/// Makes every lost listener again and returns the replicas' flags with the new ARNs in
/// place of the old ones (listeners, pool members, draining members).
pub fn restore(actors: &mut Actors, lost: &mut BTreeMap<String, Lost>, config: &Config) -> Config {
    let mut config = config.clone();
    for (name, l) in std::mem::take(lost) {
        let new = actors.fake().others_act(|world| {
            match world.add_listener(&l.load_balancer_arn, l.port) {
                Some(listener) => listener,
                // Its ALB is gone: made again first, under a new DNS name.
                None => world.add_load_balancer(&l.alb_name, crate::testing::VPC).1,
            }
        });
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
