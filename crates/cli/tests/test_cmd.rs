//! End-to-end tests of `vigil test` and `vigil replay` on a content directory built here: a
//! passing detection, one without a true positive in its data, one whose risk object the
//! search does not output, one with missing data, broken YAML and an undefined macro.

mod common;

use common::{repo, stderr, stdout, vigil};
use std::path::Path;

fn seed() -> String {
    std::fs::read_to_string(repo().join("crates/content/builtin/detections/endpoint/windows_msiexec_remote_download.yml")).expect("seed")
}

/// The file name contentctl requires for a detection name.
fn file_for(name: &str) -> String {
    name.to_lowercase().replace([' ', '-', '.', '/'], "_") + ".yml"
}

/// The seed detection renamed (with its filter macro), with its own id and `tests:` block.
fn detection(name: &str, id_tail: &str, tests: &str) -> String {
    let text = seed();
    let head = text.split("\ntests:").next().expect("tests block");
    let filter = file_for(name).replace(".yml", "_filter");
    head.replace("name: Windows MSIExec Remote Download", &format!("name: {name}"))
        .replace("windows_msiexec_remote_download_filter", &filter)
        .replace("id: 6aa49ff2-3c92-4586-83e0-d83eb693dfda", &format!("id: 6aa49ff2-3c92-4586-83e0-{id_tail}"))
        + "\ntests:\n"
        + tests
}

fn sysmon_test(data: &str, update: bool) -> String {
    let mut t = format!(
        "- name: True Positive Test\n  attack_data:\n  - data: {data}\n    source: XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\n    sourcetype: xmlwineventlog\n"
    );
    if update {
        t.push_str("    update_timestamp: true\n");
    }
    t
}

const URL: &str = "https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques";

/// Builds content/ and data/ in `dir`.
fn build(dir: &Path) {
    let det = dir.join("content/detections/endpoint");
    std::fs::create_dir_all(&det).unwrap();
    std::fs::create_dir_all(dir.join("content/datasets")).unwrap();
    let tp_dir = dir.join("data/attack_techniques/T1218.007/atomic_red_team");
    std::fs::create_dir_all(&tp_dir).unwrap();
    let sample = std::fs::read_to_string(repo().join("samples/sysmon_msiexec.xml")).unwrap();
    std::fs::write(tp_dir.join("windows-sysmon.log"), &sample).unwrap();
    // Only the near misses: no msiexec command line with a URL.
    let misses: String = sample
        .lines()
        .filter(|l| !(l.contains("<Event") && l.contains("msiexec") && l.contains("http")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(misses.matches("<Event").count() >= 4);
    std::fs::write(dir.join("content/datasets/near_misses.log"), misses).unwrap();

    let write = |file: &str, text: &str| std::fs::write(det.join(file), text).unwrap();
    write(
        &file_for("Vigil Test Pass"),
        &detection("Vigil Test Pass", "000000000001", &sysmon_test(&format!("{URL}/T1218.007/atomic_red_team/windows-sysmon.log"), true)),
    );
    write(&file_for("Vigil Test No Hit"), &detection("Vigil Test No Hit", "000000000002", &sysmon_test("datasets/near_misses.log", false)));
    write(
        &file_for("Vigil Test Risk Missing"),
        &detection(
            "Vigil Test Risk Missing",
            "000000000003",
            &sysmon_test(&format!("{URL}/T1218.007/atomic_red_team/windows-sysmon.log"), false),
        )
        .replace("  - field: user\n    type: user", "  - field: src_user\n    type: user"),
    );
    write(
        &file_for("Vigil Test Missing Data"),
        &detection("Vigil Test Missing Data", "000000000004", &sysmon_test(&format!("{URL}/T9999/nowhere/windows-sysmon.log"), false)),
    );
    write("e_broken.yml", "name: Vigil Test Broken\nid: 6aa49ff2-3c92-4586-83e0-000000000005\ntags:\n  product: [unclosed\nsearch: x\n");
    write(
        &file_for("Vigil Test Undefined Macro"),
        &detection("Vigil Test Undefined Macro", "000000000006", &sysmon_test("datasets/near_misses.log", false))
            .replace("`process_msiexec`", "`vigil_no_such_macro`"),
    );
}

fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file).unwrap().lines().position(|l| l.contains(needle)).expect("needle") + 1
}

#[test]
fn verdicts_messages_counts_exit_code_and_junit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    build(dir);
    let content = dir.join("content");
    let junit = dir.join("report.xml");
    let o = vigil(&[
        "test",
        "--content",
        content.to_str().unwrap(),
        "--data-dir",
        dir.join("data").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with(' ')).collect();
    let det = content.join("detections/endpoint");

    let has = |prefix: &str| assert!(lines.iter().any(|l| l.starts_with(prefix)), "no line starting {prefix:?} in\n{out}");
    // Passing detection, its data found through --data-dir by the URL's path after datasets/.
    for kind in ["validation", "unit", "integration"] {
        assert!(lines.contains(&format!("PASS {kind} Vigil Test Pass").as_str()), "{kind}\n{out}");
    }
    // No true positive in the data.
    has("PASS validation Vigil Test No Hit");
    assert!(lines.contains(&"FAIL unit Vigil Test No Hit: 0 results"), "{out}");
    assert!(out.contains("events read from"), "{out}");
    assert!(out.contains("normalized to Endpoint.Processes"), "{out}");
    has("SKIP integration Vigil Test No Hit: unit test did not pass");
    // Risk object not in the search: contentctl's rule fails, naming file, key and line;
    // Vigil's stricter one (not among the output fields) is a warning below it; unit says
    // which rule failed and shows rows.
    let f = det.join(file_for("Vigil Test Risk Missing"));
    let line = line_of(&f, "field: src_user");
    has(&format!("FAIL validation Vigil Test Risk Missing: {}:{line}: rba: field `src_user` does not occur in the search", f.display()));
    let warning =
        format!("    warning: {}:{line}: rba: risk object field `src_user` is not among the fields the search outputs", f.display());
    assert!(out.lines().any(|l| l.starts_with(&warning)), "{out}");
    has("FAIL unit Vigil Test Risk Missing: risk object field `src_user` is missing in 2 of 2 results");
    assert!(out.contains("    result: "), "{out}");
    // Missing data: skipped, naming where it was looked for.
    has(&format!(
        "SKIP unit Vigil Test Missing Data: data not found: {}",
        dir.join("data/attack_techniques/T9999/nowhere/windows-sysmon.log").display()
    ));
    has("PASS validation Vigil Test Missing Data");
    // Broken YAML: the file, its line.
    let f = det.join("e_broken.yml");
    has(&format!("FAIL validation {}: {}:5: yaml: invalid YAML", f.display(), f.display()));
    // Undefined macro: the line of the macro in the file.
    let f = det.join(file_for("Vigil Test Undefined Macro"));
    has(&format!("FAIL validation Vigil Test Undefined Macro: {}:{}: search:", f.display(), line_of(&f, "vigil_no_such_macro")));
    assert!(out.contains("vigil_no_such_macro"), "{out}");
    has("SKIP unit Vigil Test Undefined Macro: the search does not plan");

    assert_eq!(lines.last(), Some(&"5 passed, 5 failed, 6 skipped"), "{out}");

    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.starts_with("<?xml"), "{x}");
    assert!(x.contains("<testsuites name=\"vigil test\" tests=\"16\" failures=\"5\" skipped=\"6\""), "{x}");
    assert_eq!(x.matches("<testcase ").count(), 16);
    assert_eq!(x.matches("<failure ").count(), 5);
    assert!(x.contains("<failure message=\"0 results\" type=\"unit\">"), "{x}");
}

#[test]
fn only_passing_tests_exit_zero_and_detection_selects() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let content = tmp.path().join("content");
    let data = tmp.path().join("data");
    let o =
        vigil(&["test", "--content", content.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "--detection", "vigil test pass"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some("3 passed, 0 failed"));

    let o = vigil(&["test", "--content", content.to_str().unwrap(), "--detection", "No Such Detection"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no detection named `No Such Detection`"));
}

#[test]
fn builtin_content_passes_from_any_directory() {
    let o = vigil(&["test"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert_eq!(
        out,
        "PASS validation Windows MSIExec Remote Download\nPASS unit Windows MSIExec Remote Download\nPASS integration Windows MSIExec Remote Download\n3 passed, 0 failed\n"
    );
    // The seed's data is compiled in: the current directory does not matter.
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vigil")).arg("test").current_dir(tmp.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn replay_shifts_latest_event_keeping_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shifted.xml");
    let o = vigil(&[
        "replay",
        "samples/sysmon_msiexec.xml",
        "--source",
        "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
        "--sourcetype",
        "XmlWinEventLog",
        "--shift-to",
        "2030-01-01T00:00:00Z",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = std::fs::read_to_string(repo().join("samples/sysmon_msiexec.xml")).unwrap();
    let after = std::fs::read_to_string(&out).unwrap();
    assert_eq!(before.lines().count(), after.lines().count());
    assert!(after.contains("SystemTime='2030-01-01T00:00:00.0000000Z'") || after.contains("SystemTime='2030-01-01T00:00:00"), "{after}");
    assert!(!after.contains("SystemTime='2030-01-01T00:00:01"));
    // Still the same events to Vigil: the seed finds its two true positives.
    let o = vigil(&["hunt", "--format", "jsonl", out.to_str().unwrap()]);
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    // The latest event is a near miss at the target; the true positives keep their offsets.
    assert!(stdout(&o).contains("\"firstTime\":\"2029-12-31T23:"), "{}", stdout(&o));

    // JSON lines to stdout: CrowdStrike epoch milliseconds.
    let o = vigil(&[
        "replay",
        "samples/crowdstrike_msiexec.json",
        "--source",
        "crowdstrike",
        "--sourcetype",
        "crowdstrike:events:sensor",
        "--shift-to",
        "1900000000",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"timestamp\":\"1900000000000\""), "{}", stdout(&o));

    let o = vigil(&["replay", "samples/sysmon_msiexec.xml", "--source", "s", "--sourcetype", "t", "--shift-to", "yesterday-ish"]);
    assert_eq!(o.status.code(), Some(2));
    let o = vigil(&["replay", "--help"]);
    assert!(stdout(&o).contains("no continuous"), "{}", stdout(&o));
}
