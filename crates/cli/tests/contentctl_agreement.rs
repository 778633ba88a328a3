//! `vigil test` validation agrees with Splunk's contentctl, per detection, on the unmodified
//! ESCU content in ../shared/escu and on the synthetic variants of
//! `tests/contentctl/mutations.tsv` (which exercise contentctl's rejections). contentctl's
//! verdicts are committed in `tests/contentctl/escu_verdicts.tsv`, made by
//! `tests/contentctl/verdicts.py` (see its header to regenerate), so the test needs no Python.
//!
//! Agreement: contentctl `reject` ⇔ Vigil FAIL; `warn` (an undefined data source) ⇔ Vigil WARN;
//! `accept` ⇔ Vigil PASS or WARN (Vigil's stricter checks are warnings).

mod common;

use common::{repo, shared, stderr, vigil};
use std::collections::BTreeMap;
use std::path::Path;

fn contentctl_dir() -> std::path::PathBuf {
    repo().join("crates/cli/tests/contentctl")
}

/// contentctl's verdict per file (relative to a content directory's detections/).
fn expected() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(contentctl_dir().join("escu_verdicts.tsv")).expect("escu_verdicts.tsv");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut cols = line.splitn(3, '\t');
        let (file, verdict, msg) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""), cols.next().unwrap_or(""));
        assert!(matches!(verdict, "accept" | "warn" | "reject"), "bad verdict line {line:?}");
        out.insert(file.to_string(), (verdict.to_string(), msg.to_string()));
    }
    out
}

/// The value of a top-level `key: value` line.
fn top_level<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": "))).unwrap_or_else(|| panic!("no {key}"))
}

/// The synthetic variants, built as verdicts.py builds them (see mutations.tsv's header).
fn build_mutants(escu: &Path, out: &Path) -> usize {
    let spec = std::fs::read_to_string(contentctl_dir().join("mutations.tsv")).expect("mutations.tsv");
    std::fs::create_dir_all(out).unwrap();
    let mut n = 0;
    for line in spec.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "bad mutation line {line:?}");
        let (id, base) = (cols[0], cols[1]);
        let unescape = |s: &str| s.replace("\\n", "\n");
        let mut text = std::fs::read_to_string(escu.join("detections/endpoint").join(base)).expect("base detection");
        let (name, uuid) = (top_level(&text, "name").to_string(), top_level(&text, "id").to_string());
        let stem = name.to_lowercase().replace([' ', '-', '.', '/'], "_");
        text = text
            .replacen(&format!("name: {name}\n"), &format!("name: Mutant {id}\n"), 1)
            .replacen(&format!("id: {uuid}\n"), &format!("id: 00000000-0000-4000-8000-0000000000{id}\n"), 1)
            .replace(&format!("`{stem}_filter`"), &format!("`mutant_{id}_filter`"));
        let find = unescape(cols[2]);
        if !find.is_empty() {
            assert_eq!(text.matches(&find).count(), 1, "mutation {id}: {find:?} must occur once");
            text = text.replacen(&find, &unescape(cols[3]), 1);
        }
        std::fs::write(out.join(format!("mutant_{id}.yml")), text).unwrap();
        n += 1;
    }
    n
}

/// Vigil's validation verdict per file, from the JUnit report: PASS, WARN or FAIL.
fn vigil_verdicts(junit: &str) -> BTreeMap<String, (String, String)> {
    let suite = junit.split("<testsuite name=\"validation\"").nth(1).expect("validation suite");
    let suite = suite.split("</testsuite>").next().unwrap_or("");
    let mut out = BTreeMap::new();
    for case in suite.split("<testcase ").skip(1) {
        let attr = |name: &str| case.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string();
        let file = attr("classname");
        let rel = file.split("/detections/").nth(1).unwrap_or(&file).to_string();
        let (verdict, why) = if case.contains("<failure ") {
            ("FAIL", case.split("<failure message=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or(""))
        } else if case.contains("<system-out>") {
            ("WARN", case.split("<system-out>").nth(1).and_then(|r| r.split('\n').next()).unwrap_or(""))
        } else {
            ("PASS", "")
        };
        out.insert(rel, (verdict.to_string(), why.to_string()));
    }
    out
}

fn agrees(contentctl: &str, vigil: &str) -> bool {
    matches!((contentctl, vigil), ("reject", "FAIL") | ("warn", "WARN") | ("accept", "PASS" | "WARN"))
}

#[test]
fn vigil_test_validation_agrees_with_contentctl() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared is missing");
        return;
    };
    let escu = shared.join("escu");
    let tmp = tempfile::tempdir().unwrap();
    let mutants = tmp.path().join("mutants");
    let built = build_mutants(&escu, &mutants.join("detections/mutants"));
    let junit = tmp.path().join("report.xml");
    let o =
        vigil(&["test", "--content", escu.to_str().unwrap(), "--content", mutants.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let report = std::fs::read_to_string(&junit).expect("junit report");
    let ours = vigil_verdicts(&report);
    let theirs = expected();
    assert_eq!(theirs.keys().filter(|k| k.starts_with("mutants/")).count(), built, "mutations.tsv and escu_verdicts.tsv differ");

    let mut disagreements = Vec::new();
    for (file, (verdict, msg)) in &theirs {
        match ours.get(file) {
            None => disagreements.push(format!("{file}: contentctl {verdict}, Vigil did not validate it")),
            Some((v, why)) if !agrees(verdict, v) => disagreements.push(format!("{file}: contentctl {verdict} ({msg}), Vigil {v} ({why})")),
            Some(_) => {}
        }
    }
    for file in ours.keys().filter(|f| !theirs.contains_key(*f)) {
        disagreements.push(format!("{file}: validated by Vigil, not in escu_verdicts.tsv (regenerate it)"));
    }
    let agree = theirs.len() - disagreements.iter().filter(|d| !d.contains("not in escu_verdicts")).count();
    eprintln!("contentctl and vigil agree on {agree} of {} detections", theirs.len());
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}
