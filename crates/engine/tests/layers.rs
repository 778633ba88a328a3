//! The engine's layers import one way: a file may use only its own layer and the layers
//! below it (see docs/architecture.md). This test reads the sources and fails on an upward
//! import (`crate::<module>` naming a higher layer, in code or in doc links), or on a
//! reference to a module that is not a layer.

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
