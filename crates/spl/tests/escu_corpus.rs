//! Expands and parses every ESCU endpoint detection search, and reports what fails.
//!
//! Reads `/work/shared/escu` (or `$VIGIL_ESCU`); skips with a note when absent. The YAML is
//! read with a tiny scalar reader (top-level `key: value` scalars in plain, single-quoted,
//! double-quoted or block style, and `arguments:` lists), enough for ESCU's files, so the SPL
//! crate needs no YAML dependency.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use vigil_spl::ast::{CommandKind, SearchExpr};
use vigil_spl::{expand_macros, parse, ErrorKind, ExpandLimits, MacroDef, MacroSource, SUPPORTED_COMMANDS};

fn escu_dir() -> Option<PathBuf> {
    let p = std::env::var_os("VIGIL_ESCU").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/escu"));
    p.join("macros").is_dir().then_some(p)
}

/// Folds the lines of a flow scalar: a line break plus indentation becomes one space; an empty
/// line becomes a newline.
fn fold(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut pending_newlines = 0;
    for (i, line) in lines.iter().enumerate() {
        let t = if i == 0 { line.trim_end() } else { line.trim() };
        if t.is_empty() && i > 0 {
            pending_newlines += 1;
            continue;
        }
        if i > 0 {
            if pending_newlines > 0 {
                out.push_str(&"\n".repeat(pending_newlines));
            } else {
                out.push(' ');
            }
        }
        pending_newlines = 0;
        out.push_str(t);
    }
    out
}

/// The scalar value of top-level `key:` in a YAML document, if present.
fn yaml_scalar(doc: &str, key: &str) -> Option<String> {
    let lines: Vec<&str> = doc.lines().collect();
    let prefix = format!("{key}:");
    let idx = lines.iter().position(|l| l.starts_with(&prefix))?;
    let first = lines[idx][prefix.len()..].trim_start();
    // Continuation lines: indented (or empty) lines after the key.
    let mut rest: Vec<&str> = Vec::new();
    for l in &lines[idx + 1..] {
        if l.starts_with(' ') || l.trim().is_empty() {
            rest.push(l);
        } else {
            break;
        }
    }
    while rest.last().is_some_and(|l| l.trim().is_empty()) {
        rest.pop();
    }
    let (first, rest) = if first.is_empty() && !rest.is_empty() { (rest[0].trim_start(), rest[1..].to_vec()) } else { (first, rest) };
    if first.starts_with('|') || first.starts_with('>') {
        let body: Vec<&str> = rest.iter().map(|l| l.trim()).collect();
        return Some(if first.starts_with('|') { body.join("\n") } else { fold(&body) });
    }
    let mut all = vec![first];
    all.extend(rest.iter().copied());
    let joined = fold(&all);
    if let Some(body) = joined.strip_prefix('\'') {
        let body = body.trim_end().strip_suffix('\'')?;
        return Some(body.replace("''", "'"));
    }
    if let Some(body) = joined.strip_prefix('"') {
        let body = body.trim_end().strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(' ') => {}
                Some(o) => out.push(o),
                None => {}
            }
        }
        return Some(out);
    }
    Some(joined)
}

/// `arguments:` as a block list of names.
fn yaml_list(doc: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}:");
    let mut out = Vec::new();
    let mut inside = false;
    for l in doc.lines() {
        if l.starts_with(&prefix) {
            inside = true;
            let inline = l[prefix.len()..].trim();
            if let Some(items) = inline.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                out.extend(
                    items.split(',').map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string()).filter(|s| !s.is_empty()),
                );
                return out;
            }
            continue;
        }
        if inside {
            let t = l.trim();
            if let Some(item) = t.strip_prefix("- ") {
                out.push(item.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
            } else if !(l.starts_with(' ') || t.is_empty()) {
                break;
            }
        }
    }
    out
}

struct Macros(HashMap<(String, usize), MacroDef>, MacroDef);

impl MacroSource for Macros {
    fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef> {
        // Each detection's `<name>_filter` is not shipped; its default is `search *`.
        self.0.get(&(name.to_string(), arity)).or_else(|| (arity == 0 && name.ends_with("_filter")).then_some(&self.1))
    }
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "yml")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn load_macros(root: &Path) -> Macros {
    let mut m = HashMap::new();
    for f in yml_files(&root.join("macros")) {
        let Ok(doc) = std::fs::read_to_string(&f) else { continue };
        let (Some(name), Some(definition)) = (yaml_scalar(&doc, "name"), yaml_scalar(&doc, "definition")) else { continue };
        let args = yaml_list(&doc, "arguments");
        m.insert((name.clone(), args.len()), MacroDef { name, args, definition });
    }
    // From the CIM app, not ESCU.
    let d = MacroDef { name: "drop_dm_object_name".into(), args: vec!["object".into()], definition: "rename $object$.* AS *".into() };
    m.insert((d.name.clone(), 1), d);
    let filter = MacroDef { name: "_filter".into(), args: vec![], definition: "search *".into() };
    Macros(m, filter)
}

/// Command names in a pipeline, found textually (top-level `|` outside quotes/brackets).
fn command_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut in_q = false;
    let mut esc = false;
    let mut seg = String::new();
    let mut segs = Vec::new();
    for c in text.chars() {
        if in_q {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_q = false;
            }
        } else if c == '"' {
            in_q = true;
        } else if c == '[' {
            depth += 1;
        } else if c == ']' {
            depth -= 1;
        } else if c == '|' && depth <= 0 {
            segs.push(std::mem::take(&mut seg));
            continue;
        }
        seg.push(c);
    }
    segs.push(seg);
    for (i, s) in segs.iter().enumerate() {
        let w = s.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        if i == 0 {
            if !w.is_empty() {
                names.push("search".into());
            }
        } else {
            names.push(w);
        }
    }
    names
}

fn bare_terms(e: &SearchExpr, out: &mut Vec<String>) {
    match e {
        SearchExpr::Term(v) => out.push(v.text.clone()),
        SearchExpr::And(v) | SearchExpr::Or(v) => v.iter().for_each(|e| bare_terms(e, out)),
        SearchExpr::Not(e) => bare_terms(e, out),
        _ => {}
    }
}

#[test]
fn yaml_reader_basics() {
    let doc = "name: x\nsearch: '| a ''b''\n  c'\nother: 1\n";
    assert_eq!(yaml_scalar(doc, "search").as_deref(), Some("| a 'b' c"));
    let doc = "search:\n  \"`x` | y\n  z\"\nhow: 1\n";
    assert_eq!(yaml_scalar(doc, "search").as_deref(), Some("`x` | y z"));
    assert_eq!(yaml_list("arguments:\n  - field\n  - b\nname: x\n", "arguments"), vec!["field", "b"]);
}

#[test]
fn escu_endpoint_corpus() {
    let Some(root) = escu_dir() else {
        eprintln!("note: /work/shared/escu not found (set VIGIL_ESCU); skipping the ESCU corpus test");
        return;
    };
    let macros = load_macros(&root);
    let mut files = yml_files(&root.join("detections").join("endpoint"));
    // Two detections in the 2025 format (block-scalar searches, newer macros).
    files.extend(yml_files(&root.join("newer_format")));
    let (mut ok, mut total) = (0, 0);
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown_macros: BTreeMap<String, usize> = BTreeMap::new();
    let mut syntax_supported = Vec::new();
    let mut syntax_other = 0;
    let mut supported_total = 0;
    let mut tstats_terms = Vec::new();
    for f in &files {
        let Ok(doc) = std::fs::read_to_string(f) else { continue };
        let Some(search) = yaml_scalar(&doc, "search") else { continue };
        total += 1;
        let file = f.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let expanded = match expand_macros(&search, &macros, &ExpandLimits::default()) {
            Ok(t) => t,
            Err(e) => {
                if let ErrorKind::UnknownMacro(m) = &e.kind {
                    *unknown_macros.entry(m.clone()).or_default() += 1;
                } else {
                    println!("EXPAND {file}: {}", e.render(&search, &file));
                }
                continue;
            }
        };
        let all_supported = command_names(&expanded).iter().all(|n| SUPPORTED_COMMANDS.contains(&n.as_str()));
        if all_supported {
            supported_total += 1;
        }
        match parse(&expanded) {
            Ok(p) => {
                ok += 1;
                // VIGIL_DUMP=<substring of file name> prints the parsed pipeline.
                if std::env::var("VIGIL_DUMP").is_ok_and(|d| !d.is_empty() && file.contains(&d)) {
                    println!("DUMP {file}\n{expanded}\n{p:#?}");
                }
                // tstats has no _raw: a bare term in its filter usually means a mis-parse.
                for c in &p.commands {
                    if let CommandKind::Tstats(t) = &c.kind {
                        let mut terms = Vec::new();
                        bare_terms(&t.filter, &mut terms);
                        if !terms.is_empty() {
                            tstats_terms.push(format!("{file}: {terms:?}"));
                        }
                    }
                }
            }
            Err(e) => match &e.kind {
                ErrorKind::UnsupportedCommand(c) => *unsupported.entry(c.clone()).or_default() += 1,
                _ if all_supported => syntax_supported.push(format!("{file}: {}", e.render(&expanded, &file))),
                _ => {
                    syntax_other += 1;
                    println!("OTHER {file}: {}", e.render(&expanded, &file));
                }
            },
        }
    }
    println!("ESCU endpoint searches: {total}, parsed: {ok}");
    println!("searches whose commands are all supported: {supported_total}, of which syntax errors: {}", syntax_supported.len());
    println!("syntax errors in searches that also use unsupported commands: {syntax_other}");
    let mut top: Vec<_> = unsupported.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    println!("unsupported commands (first error per search): {top:?}");
    println!("unknown macros: {unknown_macros:?}");
    println!("tstats filters with bare terms: {}", tstats_terms.len());
    for s in &tstats_terms {
        println!("TERM {s}");
    }
    for s in &syntax_supported {
        println!("SYNTAX {s}\n");
    }
    assert!(total > 0, "no detections found");
    assert!(supported_total > 0, "no search uses only supported commands");
    let good = supported_total - syntax_supported.len();
    assert!(good * 100 >= supported_total * 90, "only {good} of {supported_total} searches with supported commands parse");
}
