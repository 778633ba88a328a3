use super::*;
use crate::testing::formats::{is_attack_id, is_date, is_http_url, is_uuid};
use crate::testing::schema::message_fields;
use vigil_content::ContentSet;
use vigil_normalize::Normalizer;

/// The seed's file name: contentctl requires the file to be named after the detection.
const SEED_FILE: &str = "windows_msiexec_remote_download.yml";

fn seed_text() -> &'static str {
    vigil_content::BUILTIN_DETECTION_FILES[0].1
}

fn check(text: &str, sources: Option<&HashSet<String>>) -> Validated {
    let content = ContentSet::builtin();
    let norm = Normalizer::builtin().expect("mappings");
    let mut planner = Planner::new(norm.catalog(), &content);
    let src = DetectionSource { file: PathBuf::from(SEED_FILE), text: text.to_string(), root: None };
    let known = Known { data_sources: sources.cloned(), stories: None };
    validate(&src, &mut planner, &content, &known)
}

#[test]
fn seed_passes() {
    let v = check(seed_text(), None);
    assert_eq!(v.outcome.status, Status::Pass, "{}", v.outcome);
    assert_eq!(v.outcome.name, "Windows MSIExec Remote Download");
    assert!(v.query.is_some() && v.detection.is_some());
}

#[test]
fn key_lines() {
    let t = "name: x\ntags:\n  # c\n  product:\n  - a\n  mitre_attack_id:\n  - T1\ntests:\n- name: t\n  attack_data:\n  - data: d\n";
    assert_eq!(key_line(t, &["name"]), Some(1));
    assert_eq!(key_line(t, &["tags", "mitre_attack_id"]), Some(6));
    assert_eq!(key_line(t, &["tests", "attack_data"]), Some(10));
    assert_eq!(key_line(t, &["tags", "name"]), None);
    assert_eq!(value_line(t, &["tags", "mitre_attack_id"], "T1"), Some(7));
}

#[test]
fn formats() {
    assert!(is_uuid("6aa49ff2-3c92-4586-83e0-d83eb693dfda"));
    // Python's uuid.UUID also reads these.
    assert!(is_uuid("6aa49ff23c92458683e0d83eb693dfda") && is_uuid("{6aa49ff2-3c92-4586-83e0-d83eb693dfda}"));
    assert!(!is_uuid("6aa49ff2-3c92-4586-83e0"));
    assert!(is_attack_id("T1218") && is_attack_id("T1218.007"));
    assert!(!is_attack_id("T12") && !is_attack_id("1218") && !is_attack_id("T1218.7"));
    // contentctl's pattern `^T\d{4}(.\d{3})?$` lets any character stand for the dot.
    assert!(is_attack_id("T1218x007"));
    assert!(is_date("2025-05-02") && !is_date("May 2") && !is_date("2025-13-02"));
    assert!(is_http_url("https://a.b/c d") && !is_http_url("not a url") && !is_http_url("https:///x"));
    assert_eq!(message_fields("on $dest$ by $user$, $a.b$ $ x$ $ok$"), ["dest", "user", "ok"]);
    assert_eq!(contentctl_lookup_names("| lookup update=true foo a | inputlookup bar | outputlookup baz | lookup  qux b"), ["foo", "qux"]);
}

#[test]
fn broken_yaml_fails_with_its_line() {
    let v = check("name: x\nid: [unclosed\nsearch: y\n", None);
    assert_eq!(v.outcome.status, Status::Fail);
    // The parser notices the unclosed list on the next line.
    assert!(v.outcome.reason.starts_with(&format!("{SEED_FILE}:3: yaml: invalid YAML")), "{}", v.outcome.reason);
}

#[test]
fn schema_problems_name_key_and_line() {
    let text = seed_text()
        .replace("id: 6aa49ff2-3c92-4586-83e0-d83eb693dfda", "id: not-a-uuid")
        .replace("  - T1218.007", "  - T1218.7")
        .replace("version: 10", "version: ten")
        .replace("known_false_positives:", "kfp:");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Fail);
    let all: Vec<String> = std::iter::once(v.outcome.reason.clone()).chain(v.outcome.details.clone()).collect();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap();
    let expect = [
        format!("{SEED_FILE}:{}: id: `not-a-uuid` is not a UUID", line_of("id: not-a-uuid")),
        format!("{SEED_FILE}:{}: version: must be a non-negative integer", line_of("version: ten")),
        format!("{SEED_FILE}: known_false_positives: required key missing"),
        format!("{SEED_FILE}:{}: tags.mitre_attack_id: `T1218.7` is not an ATT&CK", line_of("- T1218.7")),
    ];
    for e in expect {
        assert!(all.iter().any(|a| a.starts_with(&e)), "missing {e:?} in {all:#?}");
    }
}

#[test]
fn unknown_data_source_is_a_warning() {
    let known: HashSet<String> =
        ["Sysmon EventID 1", "CrowdStrike ProcessRollup2", "Windows Event Log Security 4688"].map(String::from).into();
    let v = check(seed_text(), Some(&known));
    assert_eq!(v.outcome.status, Status::Warn, "{}", v.outcome);
    assert!(
        v.outcome.reason.contains("data_source: unknown data source `Cisco Network Visibility Module Flow Data`"),
        "{}",
        v.outcome.reason
    );
    assert!(v.outcome.to_string().starts_with("WARN validation Windows MSIExec Remote Download: "), "{}", v.outcome);
    // No data_source at all: contentctl accepts it; Vigil warns.
    let text = seed_text().replace("data_source:\n- Cisco Network Visibility Module Flow Data\n- CrowdStrike ProcessRollup2\n- Sysmon EventID 1\n- Windows Event Log Security 4688\n", "");
    let v = check(&text, Some(&known));
    assert_eq!(v.outcome.status, Status::Warn, "{}", v.outcome);
}

#[test]
fn undefined_macro_and_unsupported_spl() {
    let text = seed_text().replace("`process_msiexec`", "`no_such_macro`");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Fail);
    let line = text.lines().position(|l| l.contains("no_such_macro")).unwrap() + 1;
    assert!(v.outcome.reason.starts_with(&format!("{SEED_FILE}:{line}: search:")), "{}", v.outcome.reason);
    assert!(v.outcome.reason.contains("no_such_macro"), "{}", v.outcome.reason);

    // Valid SPL Vigil does not run: a warning (the filter macro stays in the search).
    let text = seed_text().replace("| `security_content_ctime(lastTime)`", "| addtotals");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Warn, "{}", v.outcome);
    assert!(v.unsupported.is_some());
    assert!(v.outcome.reason.contains("search: uses SPL Vigil does not run"), "{}", v.outcome.reason);
}

#[test]
fn contentctl_rejections() {
    let fails = |from: &str, to: &str, expect: &str| {
        let text = seed_text().replacen(from, to, 1);
        assert_ne!(text, seed_text(), "{from:?} not in the seed");
        let v = check(&text, None);
        assert_eq!(v.outcome.status, Status::Fail, "{from:?} -> {to:?}: {}", v.outcome);
        let all = std::iter::once(&v.outcome.reason).chain(&v.outcome.details).cloned().collect::<Vec<_>>().join("\n");
        assert!(all.contains(expect), "{from:?} -> {to:?}: expected {expect:?} in\n{all}");
    };
    fails(
        "| `windows_msiexec_remote_download_filter`",
        "",
        "must contain the detection's filter macro `windows_msiexec_remote_download_filter`",
    );
    fails(
        "name: Windows MSIExec Remote Download",
        "name: Windows MSIExec Download",
        "the file must be named after the detection: `windows_msiexec_download.yml`",
    );
    fails("type: TTP", "type: Baseline", "type: `Baseline` is not one of TTP, Anomaly, Hunting, Correlation");
    fails("security_domain: endpoint", "security_domain: cloud", "security_domain: `cloud` is not one of");
    fails("drilldown_searches:", "other:", "needs 2 drilldown searches, it has 0");
    fails("%original_detection_search% |", "index=main |", "none of the drilldown searches contains %original_detection_search%");
    fails("tests:", "other:", "needs at least one test");
    fails("  - field: dest\n    type: system", "  - field: victim\n    type: system", "rba: field `victim` does not occur in the search");
    fails("on endpoint $dest$", "on endpoint $victim$", "`$victim$` names a field that does not occur in the search");
    fails("    type: system\n", "    type: host\n", "type `host` is not one of user, system, other");
    fails("status: production", "status: removed", "status: `removed` is not one of");
    fails("how_to_implement: The detection", "how_to_implement: abc\nx: The detection", "how_to_implement: needs at least 4 characters");
    fails("- https://thedfirreport.com", "- thedfirreport.com", "is not an http(s) URL");
    fails("  asset_type: Endpoint", "  asset_type: Laptop", "asset_type: `Laptop` is not one of");
    fails("    sourcetype: XmlWinEventLog", "    other: x", "without `sourcetype`");
    fails("| tstats", "| lookup no_such_lookup x | tstats", "lookup `no_such_lookup` is not defined in lookups/");
}

#[test]
fn contentctl_acceptances_pass() {
    for (from, to) in [
        ("  mitre_attack_id:\n  - T1218.007\n", ""),
        ("  analytic_story:\n  - Windows System Binary Proxy Execution MSIExec\n", "  analytic_story: []\n"),
        ("version: 10", "version: '10'"),
        ("status: production", "status: experimental\nenabled_by_default: false"),
    ] {
        let text = seed_text().replacen(from, to, 1);
        assert_ne!(text, seed_text(), "{from:?} not in the seed");
        let v = check(&text, None);
        assert_eq!(v.outcome.status, Status::Pass, "{from:?} -> {to:?}: {}", v.outcome);
    }
    // Empty text contentctl accepts (pydantic's str): a warning.
    let text = seed_text().replace("author: Michael Haag, Splunk", "author: ''");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Warn, "{}", v.outcome);
    assert!(v.outcome.reason.ends_with("author: empty"), "{}", v.outcome);
    // Experimental and without tests or drilldowns: accepted.
    let text = seed_text().replace("status: production", "status: experimental").replace("drilldown_searches:", "x_drilldowns:");
    let text = text.split("\ntests:").next().unwrap().to_string();
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Pass, "{}", v.outcome);
}

#[test]
fn risk_field_not_in_output_is_a_warning() {
    // In the search text (contentctl's rule), not among the output fields (Vigil's).
    let text = seed_text().replace("  - field: user\n", "  - field: _time\n");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Warn, "{}", v.outcome);
    let line = text.lines().position(|l| l.contains("field: _time")).unwrap() + 1;
    assert!(
        v.outcome.reason.starts_with(&format!("{SEED_FILE}:{line}: rba: risk object field `_time` is not among the fields")),
        "{}",
        v.outcome.reason
    );
}

#[test]
fn duplicate_names_and_ids_fail() {
    let a = check(seed_text(), None);
    let mut b = check(seed_text(), None);
    b.outcome.file = "other.yml".into();
    let mut list = [a, b];
    duplicates(list.iter_mut());
    assert_eq!(list[0].outcome.status, Status::Pass);
    assert_eq!(list[1].outcome.status, Status::Fail);
    assert!(list[1].outcome.reason.contains("is also the name of windows_msiexec_remote_download.yml"), "{}", list[1].outcome);
    assert!(list[1].outcome.details[0].contains("id: also the id of"), "{:?}", list[1].outcome.details);
}

#[test]
fn stories_checked_when_known() {
    let content = ContentSet::builtin();
    let norm = Normalizer::builtin().expect("mappings");
    let mut planner = Planner::new(norm.catalog(), &content);
    let src = DetectionSource { file: PathBuf::from(SEED_FILE), text: seed_text().to_string(), root: None };
    let stories: HashSet<String> = ["Some Other Story".to_string()].into();
    let v = validate(&src, &mut planner, &content, &Known { data_sources: None, stories: Some(stories) });
    assert_eq!(v.outcome.status, Status::Fail, "{}", v.outcome);
    assert!(v.outcome.reason.contains("story `Windows System Binary Proxy Execution MSIExec` is not defined in stories/"), "{}", v.outcome);
}

#[test]
fn macros_named_in_the_search_text_must_be_defined() {
    // contentctl reads macro names from the text, quoted or not (Vigil does not expand a macro
    // inside a quoted string, but the content is still rejected).
    let text =
        seed_text().replace(r#"Processes.process IN ("*http://*", "*https://*")"#, r#"Processes.process IN ("*http://*", "`nope`")"#);
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Fail, "{}", v.outcome);
    assert!(v.outcome.reason.contains("macro `nope` is not defined in macros/"), "{}", v.outcome);
    // Commented out: not looked for.
    let text = seed_text().replace("| `drop_dm_object_name(Processes)`", "| `drop_dm_object_name(Processes)` ```| `nope` ```");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Pass, "{}", v.outcome);
}
