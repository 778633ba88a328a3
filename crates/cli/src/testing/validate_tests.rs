use super::*;
use vigil_content::ContentSet;
use vigil_normalize::Normalizer;

fn seed_text() -> &'static str {
    vigil_content::BUILTIN_DETECTION_FILES[0].1
}

fn check(text: &str, sources: Option<&HashSet<String>>) -> Validated {
    let content = ContentSet::builtin();
    let norm = Normalizer::builtin().expect("mappings");
    let mut planner = Planner::new(norm.catalog(), &content);
    let src = DetectionSource { file: PathBuf::from("det.yml"), text: text.to_string(), root: None };
    validate(&src, &mut planner, sources)
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
    assert!(!is_uuid("6aa49ff2-3c92-4586-83e0"));
    assert!(is_attack_id("T1218") && is_attack_id("T1218.007"));
    assert!(!is_attack_id("T12") && !is_attack_id("1218") && !is_attack_id("T1218.7"));
    assert!(is_date("2025-05-02") && !is_date("May 2"));
}

#[test]
fn broken_yaml_fails_with_its_line() {
    let v = check("name: x\nid: [unclosed\nsearch: y\n", None);
    assert_eq!(v.outcome.status, Status::Fail);
    // The parser notices the unclosed list on the next line.
    assert!(v.outcome.reason.starts_with("det.yml:3: yaml: invalid YAML"), "{}", v.outcome.reason);
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
        format!("det.yml:{}: id: `not-a-uuid` is not a UUID", line_of("id: not-a-uuid")),
        format!("det.yml:{}: version: must be an integer", line_of("version: ten")),
        "det.yml: known_false_positives: required key missing".to_string(),
        format!("det.yml:{}: tags.mitre_attack_id: `T1218.7` is not an ATT&CK", line_of("- T1218.7")),
    ];
    for e in expect {
        assert!(all.iter().any(|a| a.starts_with(&e)), "missing {e:?} in {all:#?}");
    }
}

#[test]
fn data_sources_checked_when_known() {
    let known: HashSet<String> = ["Sysmon EventID 1", "CrowdStrike ProcessRollup2"].map(String::from).into();
    let v = check(seed_text(), Some(&known));
    assert_eq!(v.outcome.status, Status::Fail);
    assert!(v.outcome.reason.contains("data_source: unknown data source `Cisco Network Visibility Module Flow Data`"), "{}", v.outcome.reason);
}

#[test]
fn undefined_macro_and_unsupported_spl() {
    let text = seed_text().replace("`process_msiexec`", "`no_such_macro`");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Fail);
    let line = text.lines().position(|l| l.contains("no_such_macro")).unwrap() + 1;
    assert!(v.outcome.reason.starts_with(&format!("det.yml:{line}: search:")), "{}", v.outcome.reason);
    assert!(v.outcome.reason.contains("no_such_macro"), "{}", v.outcome.reason);

    let text = seed_text().replace("| `windows_msiexec_remote_download_filter`", "| addtotals");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Pass, "{}", v.outcome);
    assert!(v.unsupported.is_some());
    assert!(v.outcome.details.iter().any(|d| d.starts_with("warning: search uses SPL")), "{:?}", v.outcome.details);
}

#[test]
fn risk_field_not_in_output() {
    let text = seed_text().replace("  - field: user\n", "  - field: src_user\n");
    let v = check(&text, None);
    assert_eq!(v.outcome.status, Status::Fail);
    let line = text.lines().position(|l| l.contains("field: src_user")).unwrap() + 1;
    assert!(
        v.outcome.reason.starts_with(&format!("det.yml:{line}: rba: risk object field `src_user` is not among the fields")),
        "{}",
        v.outcome.reason
    );
}
