//! Arbitrary bytes as routing tags and docker labels: the tag parser must never panic and
//! must answer in time linear in its input. Lines are `key=value`; a line starting with
//! `L` goes to the container's labels, `S` to the service's tags, anything else to the
//! task definition's tags.

#![no_main]

use std::collections::BTreeMap;

use ecs_ingress::model::{IntentInput, compute_intent};
use ecs_ingress::state::{Container, PortMapping, TaskDefinition};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (mut labels, mut service, mut td) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for line in text.lines() {
        let (target, line) = match line.chars().next() {
            Some('L') => (&mut labels, &line[1..]),
            Some('S') => (&mut service, &line[1..]),
            _ => (&mut td, line),
        };
        if let Some((k, v)) = line.split_once('=') {
            target.insert(k.to_string(), v.to_string());
        }
    }
    let task_definition = TaskDefinition {
        arn: "arn:aws:ecs:us-east-1:1:task-definition/f:1".into(),
        network_mode: Some("awsvpc".into()),
        containers: vec![Container {
            name: "app".into(),
            docker_labels: labels,
            port_mappings: vec![PortMapping {
                container_port: 8080,
                host_port: None,
                udp: false,
            }],
        }],
        tags: td,
    };
    for prefix in ["", "ingress/"] {
        let _ = compute_intent(&IntentInput {
            prefix,
            service_name: "fuzz",
            service_tags: &service,
            task_definition: &task_definition,
        });
    }
});
