//! The engine's layers import one way: a file may use only its own layer and the layers
//! below it (see docs/architecture.md). This test reads the sources and fails on an upward
//! import (`crate::<module>` naming a higher layer, in code or in doc links), or on a
//! reference to a module that is not a layer.
//!
//! Imports also run one way inside every crate of the workspace: no module uses, directly or
//! through other modules, a module that uses it (the second test). A module is a source file
//! (`a/mod.rs` is `a`). It uses another when its code (not its comments, not its
//! `#[cfg(test)] mod tests`) names a path into it: `crate::x::y`, `super::y`, `self::y`, or
//! `child::y` in a parent. A path through a re-export (`pub use` in a `mod.rs`) counts for the
//! module that defines the item; the re-export itself is a use only when the re-exporting
//! module names the item elsewhere too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&str] = &["error", "expr", "store", "ops", "plan", "scan", "physical", "explain"];

fn rank(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module names a source refers to as `crate::name` or `crate::{name, ...}`.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.push((n + 1, name));
            }
        }
    }
    out
}

#[test]
fn imports_run_one_way_between_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or_default();
        let layer = top.trim_end_matches(".rs");
        if layer == "lib" {
            continue;
        }
        let Some(own) = rank(layer) else {
            problems.push(format!("{}: not in a layer ({LAYERS:?})", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line, name) in crate_refs(&text) {
            match rank(&name) {
                Some(r) if r <= own => {}
                Some(_) => problems.push(format!("{}:{line}: `{layer}` uses `crate::{name}`, a layer above it", rel.display())),
                None => problems.push(format!("{}:{line}: `crate::{name}` is not a layer; use its module path", rel.display())),
            }
        }
    }
    assert!(problems.is_empty(), "layering violations:\n{}", problems.join("\n"));
}

// Module cycles in every crate of the workspace.

/// Module path (`evtx::binxml`, `` for the crate root) -> its code.
type Modules = BTreeMap<String, String>;

/// The code of a source file: whole-line comments blanked, the unit-test module cut.
fn code(text: &str) -> String {
    let text = text.find("#[cfg(test)]\nmod tests").map_or(text, |i| &text[..i]);
    text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

fn modules(src: &Path) -> Modules {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut out = Modules::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src").with_extension("");
        let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        if parts == ["lib"] || parts == ["main"] {
            parts.clear();
        }
        out.insert(parts.join("::"), code(&std::fs::read_to_string(&f).expect("readable source")));
    }
    out
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}::{b}")
    }
}

fn ident_len(s: &str) -> usize {
    s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count()
}

/// Reads the use tree at `s` (`a::b`, `a::{b, c::{d}}`, `a as b`) under `prefix`: pushes its
/// leaf paths to `out`, returns the bytes read.
fn use_tree(s: &str, prefix: &str, out: &mut Vec<String>) -> usize {
    let space = |i: usize| s[i..].len() - s[i..].trim_start().len();
    let mut path = prefix.to_string();
    let mut i = space(0);
    loop {
        if s[i..].starts_with('{') {
            i += 1;
            loop {
                i += use_tree(&s[i..], &path, out);
                i += space(i);
                match s.as_bytes().get(i) {
                    Some(b',') => i += 1 + space(i + 1),
                    Some(b'}') => return i + 1,
                    _ => return i,
                }
                if s[i..].starts_with('}') {
                    return i + 1;
                }
            }
        }
        let rest = &s[i..];
        let n = if rest.starts_with('*') { 1 } else { ident_len(rest) };
        if n == 0 {
            out.push(path);
            return i;
        }
        path = join(&path, &rest[..n]);
        i += n;
        if s[i..].starts_with("::") {
            i += 2;
            continue;
        }
        out.push(path);
        // `item as alias`
        let after = i + space(i);
        if s[after..].starts_with("as ") {
            let at = after + 3 + space(after + 3);
            return at + ident_len(&s[at..]);
        }
        return i;
    }
}

/// How often `word` occurs in `text` as a whole word.
fn word_count(text: &str, word: &str) -> usize {
    let b = text.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    text.match_indices(word)
        .filter(|(i, _)| (*i == 0 || !is_ident(b[i - 1])) && b.get(i + word.len()).is_none_or(|c| !is_ident(*c)))
        .count()
}

/// Whether the line holding byte `at` of `text` is a re-export.
fn is_reexport(text: &str, at: usize) -> bool {
    let line = text[..at].rsplit('\n').next().unwrap_or_default().trim_start();
    line.starts_with("pub use ") || (line.starts_with("pub(") && line.split_once(") use ").is_some_and(|(v, _)| !v.contains(' ')))
}

/// Adds the leaf paths named at byte `at` of `text`: a re-export is marked as one, and counts
/// as a use too when the module's code names the item elsewhere.
fn push_leaves(text: &str, at: usize, leaves: Vec<String>, out: &mut Vec<(String, bool)>) {
    let re = is_reexport(text, at);
    for leaf in leaves {
        let name = leaf.rsplit("::").next().unwrap_or_default();
        if re && word_count(text, name) > 1 {
            out.push((leaf.clone(), false));
        }
        out.push((leaf, re));
    }
}

/// The paths module `m` names: (full path, whether by re-export).
fn references(m: &str, text: &str, all: &Modules) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let boundary = |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
    let parts: Vec<&str> = if m.is_empty() { Vec::new() } else { m.split("::").collect() };
    let children: Vec<&str> = all
        .keys()
        .filter_map(|c| c.strip_prefix(m).map(|r| r.trim_start_matches("::")))
        .filter(|c| !c.is_empty() && !c.contains("::"))
        .collect();
    let mut i = 0;
    while i < text.len() {
        if !text.is_char_boundary(i) || !boundary(i) {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        let (prefix, len) = if rest.starts_with("crate::") {
            (String::new(), "crate::".len())
        } else if rest.starts_with("self::") {
            (m.to_string(), "self::".len())
        } else if rest.starts_with("super::") {
            let mut ups = 0;
            let mut len = 0;
            while rest[len..].starts_with("super::") {
                ups += 1;
                len += "super::".len();
            }
            (parts[..parts.len().saturating_sub(ups)].join("::"), len)
        } else if let Some(child) = children.iter().find(|c| rest.starts_with(*c) && rest[c.len()..].starts_with("::")) {
            // `child::item` in the parent: read the whole path from the child's name.
            let mut leaves = Vec::new();
            let n = use_tree(rest, m, &mut leaves);
            push_leaves(text, i, leaves, &mut out);
            i += n.max(child.len());
            continue;
        } else {
            i += 1;
            continue;
        };
        let mut leaves = Vec::new();
        let n = use_tree(&rest[len..], &prefix, &mut leaves);
        push_leaves(text, i, leaves, &mut out);
        i += len + n.max(1);
    }
    out
}

/// The use graph of a crate's modules: module -> (module it uses -> a path naming it).
fn graph(all: &Modules) -> BTreeMap<String, BTreeMap<String, String>> {
    let refs: BTreeMap<&str, Vec<(String, bool)>> = all.iter().map(|(m, t)| (m.as_str(), references(m, t, all))).collect();
    // module -> (item name -> path it re-exports)
    let reexports: BTreeMap<&str, BTreeMap<String, String>> = refs
        .iter()
        .map(|(m, r)| {
            (*m, r.iter().filter(|(_, re)| *re).map(|(p, _)| (p.rsplit("::").next().unwrap_or_default().to_string(), p.clone())).collect())
        })
        .collect();
    let resolve = |path: &str| -> Option<String> {
        let mut path = path.to_string();
        for _ in 0..8 {
            let parts: Vec<&str> = path.split("::").collect();
            let k = (0..=parts.len()).rev().find(|&k| all.contains_key(&parts[..k].join("::")))?;
            let module = parts[..k].join("::");
            match parts.get(k).and_then(|item| reexports.get(module.as_str())?.get(*item)) {
                Some(target) if *target != path => path = target.clone(),
                _ => return Some(module),
            }
        }
        None
    };
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = all.keys().map(|m| (m.clone(), BTreeMap::new())).collect();
    for (m, r) in &refs {
        for (path, re) in r {
            if *re {
                continue;
            }
            if let Some(target) = resolve(path).filter(|t| !t.is_empty() && t != m) {
                edges.get_mut(*m).expect("known module").entry(target).or_insert_with(|| path.clone());
            }
        }
    }
    edges
}

/// The cycles of the graph: for each module on one, a path back to it.
fn cycles(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for start in edges.keys() {
        if seen.contains(start) {
            continue;
        }
        // Breadth-first from `start`'s targets back to `start`.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue: std::collections::VecDeque<&str> = edges[start].keys().map(|k| k.as_str()).collect();
        for k in edges[start].keys() {
            parent.insert(k, start);
        }
        while let Some(at) = queue.pop_front() {
            if at == start {
                let mut cycle = vec![start.clone()];
                let mut cur = parent[start.as_str()];
                while cur != start {
                    cycle.push(cur.to_string());
                    cur = parent[cur];
                }
                cycle.push(start.clone());
                cycle.reverse();
                seen.extend(cycle.iter().cloned());
                found.push(cycle);
                break;
            }
            for next in edges.get(at).into_iter().flat_map(|e| e.keys()) {
                if !parent.contains_key(next.as_str()) {
                    parent.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&crates).expect("crates dir").flatten().map(|e| e.path().join("src")).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for src in &dirs {
        let all = modules(src);
        checked += all.len();
        let edges = graph(&all);
        for cycle in cycles(&edges) {
            let steps: Vec<String> = cycle.windows(2).map(|w| format!("{} uses {}", w[0], edges[&w[0]][&w[1]])).collect();
            let krate = src.parent().and_then(|c| c.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            problems.push(format!("crates/{krate}: {}", steps.join(", ")));
        }
    }
    assert!(dirs.len() >= 10 && checked > 100, "only {checked} modules in {} crates found under {}", dirs.len(), crates.display());
    assert!(problems.is_empty(), "modules that import each other:\n{}", problems.join("\n"));
}

/// The analysis itself: it sees the cycles it is meant to see, and not re-exports.
#[test]
fn finds_cycles_through_any_path_form() {
    let set = |files: &[(&str, &str)]| -> Modules { files.iter().map(|(m, t)| (m.to_string(), code(t))).collect() };
    let has_cycle = |files: &[(&str, &str)]| !cycles(&graph(&set(files))).is_empty();
    // Siblings through `crate::` and `super::`, in use trees.
    assert!(has_cycle(&[("", "mod a; mod b;"), ("a", "use crate::b::{x, y::Z};"), ("b", "use super::a::f;")]));
    // Parent and child: `child::f()` in the parent, `super::T` in the child.
    assert!(has_cycle(&[("", ""), ("p", "fn g() { c::f() }"), ("p::c", "use super::T;")]));
    // Three modules round.
    assert!(has_cycle(&[("", ""), ("a", "use crate::b::X;"), ("b", "use crate::c::Y;"), ("c", "fn f() { crate::a::z() }")]));
    // One way only; a re-export in the parent is not a use of the child; comments and unit
    // tests do not count.
    assert!(!has_cycle(&[("", ""), ("p", "pub use c::T;\npub(crate) use c::{U, V};"), ("p::c", "use super::W;")]));
    assert!(!has_cycle(&[
        ("", ""),
        ("a", "use crate::b::X;"),
        ("b", "/// see [`crate::a`]\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::a::Y;\n}")
    ]));
    // A re-exported item the parent also uses itself.
    assert!(has_cycle(&[("", ""), ("p", "pub use c::T;\nfn f(t: T) {}"), ("p::c", "use super::W;")]));
    // A use through the parent's re-export is a use of the child that defines the item.
    assert!(has_cycle(&[("", ""), ("p", "pub use c::T;"), ("p::c", "use crate::q::Z;"), ("q", "use crate::p::T;")]));
}
