//! The shape the architecture promises, checked from the source: no module imports another
//! that (directly or not) imports it back, and the pure core knows nothing of AWS, the
//! runtime or the fake. `cargo test --test module_graph` prints the graph it checked.
//!
//! Modules are the files and folders under each crate's `src/` (`src/plan/dns/mod.rs` is
//! `plan::dns`), this package's and every one under `crates/`; an edge is any `crate::a::b`
//! path, or `super::` path, in one module's code naming another module of the same crate.
//! Cycles are looked for between files and between top-level modules. Test code
//! (`#[cfg(test)]` modules and `tests.rs` files) is left out: tests may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core crate: pure, synchronous, no AWS types, no runtime.
const CORE_CRATE: &str = "crates/ecs-ingress-core";
/// All the core may depend on (its `[dependencies]`): Cargo then keeps the SDK, tokio, axum
/// and clap out of it.
const CORE_DEPENDENCIES: &[&str] = &["humantime", "rustc-hash", "serde", "thiserror"];
/// The longest function allowed in the planner and the model, in lines.
const MAX_FUNCTION_LINES: usize = 80;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The source folder of every crate of the workspace: this package's and each under
/// `crates/`.
fn crate_sources() -> Vec<PathBuf> {
    let mut out = vec![repo().join("src")];
    if let Ok(entries) = std::fs::read_dir(repo().join("crates")) {
        let mut more: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("src"))
            .filter(|p| p.is_dir())
            .collect();
        more.sort();
        out.extend(more);
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `plan::dns` for `src/plan/dns.rs`, `plan` for `src/plan/mod.rs` (relative to `src`).
fn module_of(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap_or(path);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

/// The source without test modules, so tests may reach anywhere.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_cfg_test = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if skip_depth.is_none() {
            if trimmed.starts_with("#[cfg(test)]") {
                pending_cfg_test = true;
                continue;
            }
            if pending_cfg_test && (trimmed.starts_with("mod ") || trimmed.starts_with("pub mod "))
            {
                pending_cfg_test = false;
                if trimmed.ends_with(';') {
                    continue;
                }
                skip_depth = Some(depth);
            } else if pending_cfg_test && !trimmed.starts_with("#[") {
                pending_cfg_test = false;
            }
        }
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        if let Some(d) = skip_depth {
            depth += opens - closes;
            if depth <= d && (opens > 0 || closes > 0) {
                skip_depth = None;
            }
            continue;
        }
        depth += opens - closes;
        // Comments (doc links included) name modules without depending on them.
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Modules named by `crate::` paths and `use crate::{a, b::c}` groups in `text`.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        // A group: `crate::{a::b, c}` (possibly nested one level).
        if rest.starts_with('{') {
            let end = rest
                .find("};")
                .or_else(|| rest.find('}'))
                .unwrap_or(rest.len());
            for item in rest[1..end].split(',') {
                add_path(item.trim(), modules, &mut out);
            }
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        add_path(&rest[..end], modules, &mut out);
    }
    out
}

/// The longest known module that `path` (`plan::dns::plan_dns`) starts with.
fn add_path(path: &str, modules: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    let parts: Vec<&str> = path
        .split("::")
        .map(|p| p.trim_matches(|c: char| c == '{' || c == '}' || c.is_whitespace()))
        .filter(|p| !p.is_empty())
        .collect();
    for n in (1..=parts.len()).rev() {
        let candidate = parts[..n].join("::");
        if modules.contains(&candidate) {
            out.insert(candidate);
            return;
        }
    }
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

/// The module graph of the crate whose sources are in `src`.
fn graph(src: &Path) -> Graph {
    let mut paths = Vec::new();
    files(src, &mut paths);
    let modules: BTreeSet<String> = paths.iter().map(|p| module_of(src, p)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &paths {
        let m = module_of(src, p);
        if m.is_empty() || m.ends_with("tests") || m.ends_with("fixtures") {
            continue;
        }
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let mut deps = imports(&without_tests(&text), &modules);
        // `super::x` inside `a::b` names `a::x`.
        let parent = m.rsplit_once("::").map(|(a, _)| a.to_string());
        // `super::x` inside `a::b` names `a::x`; `super::{x, y::z}` names each. Test code
        // is left out, as for `crate::` paths.
        let code = without_tests(&text);
        for (i, _) in code.match_indices("super::") {
            let tail = &code[i + "super::".len()..];
            let names: Vec<&str> = match tail.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(|item| item.trim().split("::").next().unwrap_or_default().trim())
                    .filter(|n| !n.is_empty())
                    .collect(),
                None => {
                    let end = tail
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(tail.len());
                    vec![&tail[..end]]
                }
            };
            for name in names {
                let target = match &parent {
                    Some(parent) => format!("{parent}::{name}"),
                    None => name.to_string(),
                };
                if modules.contains(&target) {
                    deps.insert(target);
                } else if let Some(parent) = &parent
                    && modules.contains(parent)
                {
                    deps.insert(parent.clone());
                }
            }
        }
        deps.remove(&m);
        // A module may use its own submodules and its parent's items freely: a parent
        // declaring its children is not a dependency cycle.
        deps.retain(|d| !d.starts_with(&format!("{m}::")));
        edges.entry(m).or_default().extend(deps);
    }
    Graph { edges }
}

impl Graph {
    /// The same graph with every module folded into its top-level module (`plan::dns` into
    /// `plan`): a cycle through folders is a cycle too.
    fn top_level(&self) -> Graph {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (m, deps) in &self.edges {
            let from = top(m).to_string();
            let entry = edges.entry(from.clone()).or_default();
            entry.extend(
                deps.iter()
                    .map(|d| top(d).to_string())
                    .filter(|d| *d != from),
            );
        }
        Graph { edges }
    }

    /// Strongly connected components with more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        struct State<'a> {
            g: &'a Graph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on: BTreeSet<&'a str>,
            next: usize,
            out: Vec<Vec<String>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a str) {
            s.index.insert(v, s.next);
            s.low.insert(v, s.next);
            s.next += 1;
            s.stack.push(v);
            s.on.insert(v);
            let g = s.g;
            for w in g.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
            if s.low[v] == s.index[v] {
                let mut component = Vec::new();
                while let Some(w) = s.stack.pop() {
                    s.on.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    s.out.push(component);
                }
            }
        }
        let mut s = State {
            g: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on: BTreeSet::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in self.edges.keys() {
            if !s.index.contains_key(v.as_str()) {
                visit(&mut s, v);
            }
        }
        s.out
    }
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut cycles = Vec::new();
    for src in crate_sources() {
        let g = graph(&src);
        let top = g.top_level();
        for (m, deps) in &top.edges {
            eprintln!(
                "{}: {m} -> {}",
                src.display(),
                deps.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        // Between files, and between top-level modules (folders folded).
        for cycle in g.cycles().into_iter().chain(top.cycles()) {
            cycles.push(format!("{}: {}", src.display(), cycle.join(" <-> ")));
        }
    }
    assert!(cycles.is_empty(), "module cycles: {cycles:#?}");
}

#[test]
fn the_core_crate_depends_on_nothing_heavy() {
    let manifest = std::fs::read_to_string(repo().join(CORE_CRATE).join("Cargo.toml"))
        .expect("the core crate's manifest");
    let mut in_dependencies = false;
    let mut offences = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', ' ']).next().unwrap_or(line);
        if !CORE_DEPENDENCIES.contains(&name) {
            offences.push(format!("the core depends on {name}"));
        }
    }
    let src = repo().join(CORE_CRATE).join("src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    for p in &paths {
        let text = without_tests(&std::fs::read_to_string(p).unwrap_or_default());
        for word in [
            "tokio::",
            "aws_sdk_",
            "aws_smithy",
            "axum::",
            "clap::",
            "async fn",
        ] {
            if text.contains(word) {
                offences.push(format!("{} uses {word}", module_of(&src, p)));
            }
        }
    }
    assert!(!paths.is_empty(), "no sources under {CORE_CRATE}/src");
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn planner_and_model_functions_fit_on_a_screen() {
    let src = repo().join(CORE_CRATE).join("src");
    let mut paths = Vec::new();
    files(&src.join("plan"), &mut paths);
    files(&src.join("model"), &mut paths);
    assert!(
        !paths.is_empty(),
        "no planner sources under {}",
        src.display()
    );
    let mut long = Vec::new();
    for p in paths {
        let m = module_of(&src, &p);
        if m.ends_with("tests") || m.ends_with("fixtures") {
            continue;
        }
        let text = without_tests(&std::fs::read_to_string(&p).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i].trim_start();
            let is_fn = (l.starts_with("fn ")
                || l.starts_with("pub fn ")
                || l.starts_with("pub(crate) fn "))
                && !l.ends_with(';');
            if !is_fn {
                i += 1;
                continue;
            }
            let name = l.split('(').next().unwrap_or(l).to_string();
            let mut depth = 0i32;
            let mut started = false;
            let mut j = i;
            while j < lines.len() {
                depth +=
                    lines[j].matches('{').count() as i32 - lines[j].matches('}').count() as i32;
                if lines[j].contains('{') {
                    started = true;
                }
                if started && depth <= 0 {
                    break;
                }
                j += 1;
            }
            let length = j + 1 - i;
            if length > MAX_FUNCTION_LINES {
                long.push(format!("{m}: {name} is {length} lines"));
            }
            i = j + 1;
        }
    }
    assert!(
        long.is_empty(),
        "longer than {MAX_FUNCTION_LINES} lines: {long:#?}"
    );
}
