//! End-to-end: Sigma rules through the `vigil` binary (`--sigma` on hunt, content check and
//! test), on the shipped synthetic samples and SigmaHQ's rules and regression data in
//! ../shared/sigma (skipped with a message when missing).

mod common;
use common::{shared, stderr, stdout, vigil};
use std::path::Path;

/// Synthetic rule (written for these tests): msiexec installing from a URL, on Sysmon 1 and
/// Security 4688 alike through mappings/sigma.toml.
const MSIEXEC_RULE: &str = r#"title: Synthetic MsiExec Remote Install
id: 0f6a8c5e-3b1d-4c2a-9e7f-1a2b3c4d5e6f
status: test
description: msiexec installs a package from a URL (synthetic test rule)
author: Vigil tests
date: 2026-12-04
tags:
    - attack.defense-evasion
    - attack.t1218.007
logsource:
    category: process_creation
    product: windows
detection:
    selection_img:
        Image|endswith: '\msiexec.exe'
    selection_cli:
        CommandLine|contains|windash: ' -i '
        CommandLine|contains:
            - 'http://'
            - 'https://'
    filter_null:
        CommandLine: null
    condition: all of selection_* and not filter_null
level: high
"#;

fn write_rules(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write rule");
    }
}

/// `vigil hunt --sigma RULES --format jsonl FILES...`
fn hunt_jsonl(rules: &str, files: &[&str]) -> std::process::Output {
    let mut args = vec!["hunt", "--sigma", rules, "--format", "jsonl"];
    args.extend_from_slice(files);
    vigil(&args)
}

fn jsonl(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("jsonl")).collect()
}

#[test]
fn hunt_rows_carry_rule_and_event_fields_on_sysmon_and_4688() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path(), &[("msiexec.yml", MSIEXEC_RULE)]);
    let rules = dir.path().to_str().unwrap();
    let o = hunt_jsonl(rules, &["samples/sysmon_msiexec.xml", "samples/security_4688_msiexec.xml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> =
        jsonl(&stdout(&o)).into_iter().filter(|r| r["detection"] == "Synthetic MsiExec Remote Install").collect();
    assert!(!rows.is_empty(), "{}", stdout(&o));
    let channels: Vec<&str> = rows.iter().filter_map(|r| r["result"]["Channel"].as_str()).collect();
    assert!(channels.contains(&"Security"), "4688 through the field mapping: {channels:?}");
    assert!(channels.contains(&"Microsoft-Windows-Sysmon/Operational"), "{channels:?}");
    for r in &rows {
        let res = &r["result"];
        assert_eq!(res["sigma_id"], "0f6a8c5e-3b1d-4c2a-9e7f-1a2b3c4d5e6f");
        assert_eq!(res["sigma_level"], "high");
        assert_eq!(res["sigma_tags"], serde_json::json!(["attack.defense-evasion", "attack.t1218.007"]));
        let cli = res["CommandLine"].as_str().unwrap().to_lowercase();
        assert!(cli.contains("http") && cli.contains("msiexec"), "{cli}");
    }
    // The same rows as the seed ESCU detection finds on these files (true positives only).
    let seed = jsonl(&stdout(&vigil(&["hunt", "--format", "jsonl", "samples/sysmon_msiexec.xml", "samples/security_4688_msiexec.xml"])));
    assert_eq!(rows.len(), seed.len(), "sigma and the seed detection agree on the samples");
}

#[test]
fn broken_rules_are_reported_with_file_and_line_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let unknown_modifier = MSIEXEC_RULE.replace("Image|endswith", "Image|endswithh").replace("Synthetic MsiExec", "Bad Modifier");
    let no_mapping = MSIEXEC_RULE.replace("category: process_creation", "category: webserver").replace("Synthetic MsiExec", "Unmapped");
    write_rules(
        dir.path(),
        &[
            ("a_good.yml", MSIEXEC_RULE),
            ("b_yaml.yml", "title: Broken\nlogsource:\n  product: windows\ndetection: [\n"),
            ("c_schema.yml", "title: No Detection\nlevel: severe\nlogsource:\n  product: windows\n"),
            ("d_modifier.yml", &unknown_modifier),
            ("e_unmapped.yml", &no_mapping),
        ],
    );
    let rules = dir.path().to_str().unwrap();
    let o = vigil(&["content", "check", "--sigma", rules, "--problems"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let p = dir.path().display().to_string();
    for want in [
        format!("error       b_yaml: {p}/b_yaml.yml:5: YAML"), // the end of input, where the parser noticed
        format!("error       c_schema: {p}/c_schema.yml:1: detection: required key missing (and 1 more problems)"),
        format!("error       Bad Modifier Remote Install: {p}/d_modifier.yml:15: selection_img: `Image|endswithh`: unknown modifier"),
        format!(
            "unsupported Unmapped Remote Install: {p}/e_unmapped.yml:10: log source `product: windows, category: webserver` has no mapping"
        ),
    ] {
        assert!(out.contains(&want), "missing `{want}` in\n{out}");
    }
    assert!(!out.lines().any(|l| l.starts_with("ready")), "--problems lists only the rest:\n{out}");
    // hunt runs the good rule and reports the others, exit 0.
    let o = hunt_jsonl(rules, &["samples/sysmon_msiexec.xml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("sigma: 5 file(s), 1 rule(s) ready, 4 skipped"), "{}", stderr(&o));
    assert!(stdout(&o).contains("Synthetic MsiExec Remote Install"));
}

#[test]
fn sigmahq_regression_tests_pass() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared not present");
        return;
    };
    let sigma = shared.join("sigma");
    if !sigma.join("regression_data").is_dir() {
        eprintln!("skipped: ../shared/sigma/regression_data not present");
        return;
    }
    let junit = tempfile::NamedTempFile::new().unwrap();
    let dirs = ["rules", "rules-emerging-threats", "rules-threat-hunting"].map(|d| sigma.join(d).display().to_string());
    let mut args = vec!["test", "--junit", junit.path().to_str().unwrap()];
    for d in &dirs {
        args.extend(["--sigma", d.as_str()]);
    }
    let o = vigil(&args);
    let out = stdout(&o);
    let last = out.lines().last().unwrap_or("");
    let num =
        |word: &str| -> usize { last.split(", ").find_map(|p| p.strip_suffix(word)).and_then(|n| n.trim().parse().ok()).unwrap_or(0) };
    let (passed, failed) = (num(" passed"), num(" failed"));
    let rate = 100.0 * passed as f64 / (passed + failed).max(1) as f64;
    eprintln!("SigmaHQ regression tests: {passed} passed, {failed} failed ({rate:.1} %)");
    for l in out.lines().filter(|l| l.starts_with("FAIL")) {
        eprintln!("  {l}");
    }
    assert!(passed + failed >= 300, "expected every regression test to run: {last}\n{}", stderr(&o));
    assert!(rate >= 98.0, "pass rate {rate:.1} % below 98 %");
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    assert!(xml.contains("testsuite name=\"regression\""), "{xml}");
}

#[test]
fn one_pass_runs_escu_and_sigma_together() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared not present");
        return;
    };
    let (escu, rules, data) = (shared.join("escu"), shared.join("sigma/rules"), shared.join("data/real"));
    if !escu.is_dir() || !rules.is_dir() {
        eprintln!("skipped: ../shared/escu or ../shared/sigma/rules not present");
        return;
    }
    let (escu, rules, data) = (escu.to_str().unwrap(), rules.to_str().unwrap(), data.to_str().unwrap());
    let run = |args: &[&str]| {
        let o = vigil(args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        (jsonl(&stdout(&o)), stderr(&o))
    };
    let (both, err) = run(&["hunt", "--content", escu, "--sigma", rules, "--format", "jsonl", data]);
    let (alone, _) = run(&["hunt", "--sigma", rules, "--format", "jsonl", data]);
    let events = |e: &str| e.lines().find(|l| l.contains("events read")).map(str::to_string).unwrap_or_default();
    let read_line = events(&err);
    assert!(read_line.contains("events read"), "{err}");
    let sigma_rows = |rows: &[serde_json::Value]| rows.iter().filter(|r| r["result"]["sigma_id"].is_string()).count();
    assert!(sigma_rows(&both) > 0 && both.len() > sigma_rows(&both), "both libraries found something");
    assert_eq!(sigma_rows(&both), sigma_rows(&alone), "Sigma results do not depend on ESCU sharing the pass");
}

#[test]
fn alerts_raise_notables_and_risk_scored_by_level() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path(), &[("msiexec.yml", MSIEXEC_RULE)]);
    let o = vigil(&[
        "hunt",
        "--alerts",
        "--no-risk-db",
        "--sigma",
        dir.path().to_str().unwrap(),
        "--format",
        "jsonl",
        "samples/sysmon_msiexec.xml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let alerts: Vec<serde_json::Value> =
        jsonl(&stdout(&o)).into_iter().filter(|a| a["search_name"] == "Sigma - Synthetic MsiExec Remote Install - Rule").collect();
    let notable = alerts.iter().find(|a| a["kind"] == "notable").expect("a notable");
    assert_eq!(notable["rule_title"], "Synthetic MsiExec Remote Install");
    assert_eq!(notable["severity"], "high", "level high -> score 75 -> severity high");
    assert_eq!(notable["annotations"]["mitre_attack"], serde_json::json!(["T1218.007"]));
    let risk: Vec<(&str, f64)> = alerts
        .iter()
        .filter(|a| a["kind"] == "risk")
        .map(|a| (a["risk_object_type"].as_str().unwrap(), a["risk_score"].as_f64().unwrap()))
        .collect();
    assert!(risk.contains(&("system", 75.0)) && risk.contains(&("user", 75.0)), "{risk:?}");
}

/// A Sigma filter (synthetic) naming the rule: the rule then leaves out what it selects, with
/// the filter's fields renamed per source like the rule's (4688 `User` is SubjectUserName,
/// without the domain, so `\alice` does not filter those).
const ALICE_FILTER: &str = r#"title: Filter Alice
id: 7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 0f6a8c5e-3b1d-4c2a-9e7f-1a2b3c4d5e6f
    selection:
        User|endswith: '\alice'
    condition: selection
"#;

#[test]
fn filters_apply_to_the_rules_they_name() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path(), &[("msiexec.yml", MSIEXEC_RULE)]);
    let rules = dir.path().to_str().unwrap();
    let files = ["samples/sysmon_msiexec.xml", "samples/security_4688_msiexec.xml"];
    let channels = |o: &std::process::Output| -> Vec<String> {
        let mut c: Vec<String> = jsonl(&stdout(o))
            .iter()
            .filter(|r| r["result"]["sigma_id"] == "0f6a8c5e-3b1d-4c2a-9e7f-1a2b3c4d5e6f")
            .map(|r| r["result"]["Channel"].as_str().unwrap_or("").to_string())
            .collect();
        c.sort();
        c
    };
    let before = channels(&hunt_jsonl(rules, &files));
    write_rules(dir.path(), &[("filter.yml", ALICE_FILTER)]);
    let o = hunt_jsonl(rules, &files);
    assert!(stderr(&o).contains("1 filter(s) applied to 1 rule(s)"), "{}", stderr(&o));
    let after = channels(&o);
    assert!(before.iter().any(|c| c.contains("Sysmon")), "{before:?}");
    assert!(!after.iter().any(|c| c.contains("Sysmon")), "alice's Sysmon rows filtered: {after:?}");
    assert_eq!(after, before.into_iter().filter(|c| c == "Security").collect::<Vec<_>>());
}

/// Keyword rules over every Windows log (`product: windows` alone): the event text must hold a
/// literal of the keyword (the prefilter), and the keyword then matches a field value, in XML
/// and JSON alike (JSON doubles the backslash the value has).
#[test]
fn keywords_match_field_values_in_xml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "title: Synthetic Keywords\nlogsource:\n  product: windows\ndetection:\n  keywords:\n    - '\\System32\\msiexec.exe'\n    - 'no such keyword anywhere'\n  condition: keywords\n";
    write_rules(dir.path(), &[("kw.yml", rule)]);
    let o = hunt_jsonl(dir.path().to_str().unwrap(), &["samples/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files: std::collections::BTreeSet<String> = jsonl(&stdout(&o))
        .iter()
        .filter(|r| r["detection"] == "Synthetic Keywords")
        .filter_map(|r| r["result"]["source_file"].as_str().map(|f| f.rsplit('/').next().unwrap_or(f).to_string()))
        .collect();
    assert!(files.contains("sysmon_msiexec.xml") && files.contains("flat_json_msiexec.json"), "{files:?}");
}
