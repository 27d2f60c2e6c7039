//! The README's flag table says what `--help` says: every flag of `run`, `plan` and `apply`
//! has a row with its value name, its variable and its default, and no row names a flag
//! the binary does not have.

use std::collections::BTreeMap;
use std::process::Command;

/// One flag as `--help` shows it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Flag {
    /// `--flag VALUE` (or `--flag`), as the README's first column spells it.
    usage: String,
    env: Option<String>,
    default: Option<String>,
}

/// The flags of `ecs-ingress <command> --help`, by name.
fn help_flags(command: &str) -> BTreeMap<String, Flag> {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .args([command, "--help"])
        .output()
        .expect("ecs-ingress runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut flags = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if line.starts_with("      --") || line.starts_with("  -") {
            let spec = trimmed
                .trim_start_matches("-h, ")
                .trim_start_matches("-V, ");
            let mut parts = spec.split_whitespace();
            let name = parts.next().unwrap_or_default().to_string();
            let value = parts
                .next()
                .filter(|v| v.starts_with('<'))
                .map(|v| v.trim_matches(['<', '>']).to_string());
            let usage = match value {
                Some(v) => format!("{name} {v}"),
                None => name.clone(),
            };
            flags.insert(
                name.clone(),
                Flag {
                    usage,
                    ..Flag::default()
                },
            );
            current = Some(name);
        } else if let Some(flag) = current.as_ref().and_then(|c| flags.get_mut(c)) {
            if let Some(env) = trimmed.strip_prefix("[env: ") {
                flag.env = env.split('=').next().map(str::to_string);
            } else if let Some(default) = trimmed.strip_prefix("[default: ") {
                flag.default = default.strip_suffix(']').map(str::to_string);
            }
        }
    }
    flags.remove("--help");
    flags.remove("--version");
    flags
}

/// The README's table rows: the cells of each line that starts with a flag.
fn readme_rows() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    readme
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            let name = cells[0]
                .trim_matches('`')
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            (name, cells)
        })
        .collect()
}

#[test]
fn the_readme_flag_table_matches_help() {
    let mut flags = help_flags("run");
    flags.extend(help_flags("plan"));
    flags.extend(help_flags("apply"));
    assert!(flags.len() > 20, "the help was read: {flags:?}");
    let rows = readme_rows();
    for (name, flag) in &flags {
        let row = rows
            .get(name)
            .unwrap_or_else(|| panic!("{name} is missing from the README's flag table"));
        assert_eq!(
            row[0],
            format!("`{}`", flag.usage),
            "{name}: flag and value"
        );
        let env = flag.env.as_deref().expect("every flag has a variable");
        assert_eq!(row[1], format!("`{env}`"), "{name}: variable");
        if let Some(default) = &flag.default {
            assert!(
                row[2].contains(&format!("`{default}`")),
                "{name}: the default is `{default}`, the README says {}",
                row[2]
            );
        }
    }
    for name in rows.keys() {
        assert!(
            flags.contains_key(name),
            "the README lists {name}, which the binary lacks"
        );
    }
}
