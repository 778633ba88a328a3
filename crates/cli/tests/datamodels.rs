//! End to end: the Authentication, Change, Network_Resolution and Endpoint.Services mappings
//! under ESCU detections (synthetic true positives in tests/data/synthetic, real logs in
//! ../shared/data/real), and Correlation detections over the risk events real detections raise.

mod common;

use common::{shared, stderr, stdout, vigil};
use serde_json::Value as J;
use std::collections::BTreeSet;

const SYNTHETIC: &str = "crates/cli/tests/data/synthetic";

fn jsonl(out: &str) -> Vec<J> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonl line {l}: {e}"))).collect()
}

/// Result rows of one ESCU detection over `path`.
fn escu_results(escu: &str, detection: &str, path: &str) -> Vec<J> {
    let o = vigil(&["hunt", "--content", escu, "--detection", detection, "--format", "jsonl", path]);
    assert!(o.status.success(), "{detection}: {}", stderr(&o));
    jsonl(&stdout(&o)).into_iter().map(|r| r["result"].clone()).collect()
}

/// ESCU content and the real EVTX attack samples.
fn escu_and_attack_samples() -> Option<(String, String)> {
    let samples = shared()?.join("data/real/evtx-attack-samples");
    Some((escu()?, samples.to_string_lossy().into_owned()))
}

fn escu() -> Option<String> {
    let s = shared()?;
    Some(s.join("escu").to_string_lossy().into_owned())
}

#[test]
fn password_spray_from_one_source_fires_on_authentication() {
    let Some(escu) = escu() else {
        return eprintln!("skipped: ../shared not present");
    };
    let path = format!("{SYNTHETIC}/security_4625_password_spray.xml");
    let rows = escu_results(&escu, "Detect Password Spray Attack Behavior From Source", &path);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["src"], "203.0.113.66");
    assert_eq!(r["app"], "win:remote");
    assert_eq!((r["user_dc"].as_str(), r["failure"].as_str(), r["success"].as_str()), (Some("12"), Some("12"), Some("0")));
    assert_eq!(r["failed_user"].as_array().map(Vec::len), Some(12));
    // One source per user: the per-user variant needs ten sources for a user.
    assert!(escu_results(&escu, "Detect Password Spray Attack Behavior On User", &path).is_empty());
}

#[test]
fn account_changes_fire_on_change() {
    let Some(escu) = escu() else {
        return eprintln!("skipped: ../shared not present");
    };
    let path = format!("{SYNTHETIC}/security_change_dsrm_lockouts.xml");
    let dsrm = escu_results(&escu, "Windows AD DSRM Password Reset", &path);
    assert_eq!(dsrm.len(), 1, "{dsrm:?}");
    assert_eq!(dsrm[0]["dest"], "DC01.attackrange.local");
    assert_eq!(dsrm[0]["user"], "mallory");
    assert_eq!(dsrm[0]["action"], "modified");
    let lockouts = escu_results(&escu, "Detect Excessive User Account Lockouts", &path);
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_eq!((lockouts[0]["user"].as_str(), lockouts[0]["count"].as_str()), (Some("bob"), Some("6")));
    assert_eq!(lockouts[0]["result"], "A user account was locked out");
    let by_dest = escu_results(&escu, "Detect Excessive Account Lockouts From Endpoint", &path);
    assert_eq!(by_dest.len(), 1);
    assert_eq!(by_dest[0]["dest"], "DC01.attackrange.local");
}

#[test]
fn dns_query_of_an_ioc_domain_fires_on_network_resolution() {
    let Some(escu) = escu() else {
        return eprintln!("skipped: ../shared not present");
    };
    let rows = escu_results(&escu, "3CX Supply Chain Attack Network Indicators", &format!("{SYNTHETIC}/sysmon_22_3cx_dns.xml"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["query"], "akamaicontainer.com");
    assert_eq!(rows[0]["src"], "WIN10-ART-04.attackrange.local");
    assert_eq!(rows[0]["IPs"], "203.0.113.45", "the answer without its ::ffff: prefix");
}

/// Rows of an ad-hoc search, as JSON objects.
fn search(spl: &str, path: &str) -> Vec<J> {
    let o = vigil(&["search", spl, "--format", "jsonl", path]);
    assert!(o.status.success(), "{}", stderr(&o));
    jsonl(&stdout(&o)).into_iter().map(|r| r["result"].clone()).collect()
}

fn count(rows: &[J]) -> u64 {
    rows.iter().filter_map(|r| r["count"].as_str()?.parse::<u64>().ok()).sum()
}

#[test]
fn child_datasets_partition_real_authentication_and_changes() {
    let Some(s) = shared() else {
        return eprintln!("skipped: ../shared not present");
    };
    let real = s.join("data/real").to_string_lossy().into_owned();
    let all = count(&search("| tstats count from datamodel=Authentication", &real));
    let ok = count(&search("| tstats count from datamodel=Authentication.Successful_Authentication", &real));
    let failed = count(&search("| tstats count from datamodel=Authentication where nodename=Authentication.Failed_Authentication", &real));
    assert!(all > 1000 && failed > 0, "real logons mapped: {all}, failures {failed}");
    assert_eq!(ok + failed, all, "success and failure split every logon");
    let privileged = search("| tstats count from datamodel=Authentication.Privileged_Authentication by Authentication.signature_id", &real);
    assert_eq!(privileged.iter().map(|r| r["Authentication.signature_id"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["4672"]);
    // Accounts_Created is the 4720s (users) and 4731s (groups) of the samples.
    let created = search(
        "| tstats count from datamodel=Change.All_Changes where nodename=All_Changes.Account_Management.Accounts_Created by All_Changes.result_id All_Changes.Account_Management.src_user",
        &real,
    );
    let ids: BTreeSet<&str> = created.iter().filter_map(|r| r["All_Changes.result_id"].as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["4720", "4731"]));
    assert!(created.iter().all(|r| r["All_Changes.Account_Management.src_user"].as_str().is_some_and(|u| u != "unknown")));
}

#[test]
fn services_running_a_shell_found_in_real_system_logs() {
    let Some(s) = shared() else {
        return eprintln!("skipped: ../shared not present");
    };
    let real = s.join("data/real").to_string_lossy().into_owned();
    let rows = search(
        r#"| tstats count from datamodel=Endpoint.Services where Services.service_path IN ("*cmd.exe*", "*%COMSPEC%*", "*powershell*") by Services.dest Services.service_name Services.service_path Services.service_exec Services.start_mode | `drop_dm_object_name(Services)`"#,
        &real,
    );
    let names: BTreeSet<&str> = rows.iter().filter_map(|r| r["service_name"].as_str()).collect();
    assert_eq!(names, BTreeSet::from(["WinPwnage", "spoolfool", "spoolsv"]), "{rows:?}");
    for r in &rows {
        let path = r["service_path"].as_str().unwrap_or_default();
        let first = path.split(' ').next().unwrap_or_default();
        assert_eq!(r["service_exec"].as_str(), first.rsplit('\\').next(), "{r}");
        assert!(r["start_mode"].as_str().is_some_and(|m| m.ends_with("start")), "{r}");
    }
}

#[test]
fn living_off_the_land_correlation_over_real_risk_events() {
    let Some((escu, real)) = escu_and_attack_samples() else {
        return eprintln!("skipped: ../shared not present");
    };
    let o = vigil(&["hunt", "--content", &escu, "--alerts", "--no-risk-db", "--format", "jsonl", &real]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("correlation detection(s) over"), "{}", stderr(&o));
    let all = jsonl(&stdout(&o));
    let lotl: Vec<&J> = all.iter().filter(|a| a["search_name"] == "ESCU - Living Off The Land Detection - Rule").collect();
    assert!(!lotl.is_empty(), "the LOLBin samples raise enough Living Off The Land risk on one host");
    for n in lotl {
        assert_eq!(n["kind"], "notable");
        let object = n["orig_risk_object"].as_str().expect("risk_object");
        let sources: BTreeSet<&str> = n["orig_source"].as_array().expect("source values").iter().filter_map(J::as_str).collect();
        assert!(sources.len() >= 5, "where source_count >= 5");
        let events = n["contributing_risk_events"].as_array().expect("contributing risk events");
        assert_eq!(events.len().to_string(), n["orig_risk_event_count"].as_str().unwrap_or_default());
        let mut seen = BTreeSet::new();
        for e in events {
            assert_eq!(e["kind"], "risk");
            assert_eq!(e["risk_object"].as_str().map(str::to_lowercase), Some(object.to_lowercase()));
            assert_eq!(e["risk_object_type"], "system");
            assert!(e["annotations"]["analytic_story"].as_array().is_some_and(|s| s.iter().any(|x| x == "Living Off The Land")));
            let name = e["search_name"].as_str().unwrap_or_default();
            seen.insert(name);
            // Every contributing risk event is also one this run emitted.
            assert!(all.iter().any(|a| a["kind"] == "risk" && a["event_hash"] == e["event_hash"]));
        }
        assert_eq!(seen, sources);
    }
}

#[test]
fn backtest_correlation_reads_the_risk_events_of_earlier_runs() {
    let Some((escu, real)) = escu_and_attack_samples() else {
        return eprintln!("skipped: ../shared not present");
    };
    let args = [
        "backtest",
        "--content",
        &escu,
        "--alerts",
        "--from",
        "2019-07-19T00:00:00Z",
        "--to",
        "2019-07-20T00:00:00Z",
        "--format",
        "jsonl",
        &real,
    ];
    let o = vigil(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = jsonl(&stdout(&o));
    let lotl: Vec<&J> = all.iter().filter(|a| a["search_name"] == "ESCU - Living Off The Land Detection - Rule").collect();
    assert!(!lotl.is_empty(), "{}", stderr(&o));
    let secs = |iso: &str| vigil_time_secs(iso);
    for n in lotl {
        let (earliest, latest, run) = (
            secs(n["window_earliest"].as_str().unwrap()),
            secs(n["window_latest"].as_str().unwrap()),
            secs(n["run_time"].as_str().unwrap()),
        );
        let events = n["contributing_risk_events"].as_array().expect("contributing risk events");
        let sources: BTreeSet<&str> = events.iter().filter_map(|e| e["search_name"].as_str()).collect();
        assert!(sources.len() >= 5, "{sources:?}");
        for e in events {
            let t = e["_time"].as_f64().expect("_time");
            assert!(t >= earliest && t < latest && t <= run, "risk event at {t} outside the run's window {earliest}..{latest}");
            // ...and raised by an earlier run of this backtest.
            assert!(all
                .iter()
                .any(|a| a["kind"] == "risk" && a["event_hash"] == e["event_hash"] && secs(a["run_time"].as_str().unwrap()) <= run));
        }
    }
}

/// Epoch seconds of an ISO 8601 UTC time (`2019-07-19T17:00:00Z`).
fn vigil_time_secs(iso: &str) -> f64 {
    vigil_time::parse_iso8601_utc(iso).unwrap_or_else(|| panic!("bad time {iso}")) as f64 / 1e6
}

#[test]
fn risk_from_index_feeds_correlations_with_earlier_runs_risk() {
    let Some((escu, real)) = escu_and_attack_samples() else {
        return eprintln!("skipped: ../shared not present");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("risk.db").to_string_lossy().into_owned();
    let empty = dir.path().join("no-logs");
    std::fs::create_dir(&empty).expect("mkdir");
    let hunt = |path: &str, from_index: bool| {
        let mut args = vec!["hunt", "--content", &escu, "--alerts", "--risk-db", &db, "--format", "jsonl", path];
        if from_index {
            args.push("--risk-from-index");
        }
        let o = vigil(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        jsonl(&stdout(&o))
    };
    let lotl = |all: &[J]| -> BTreeSet<String> {
        all.iter()
            .filter(|a| a["search_name"] == "ESCU - Living Off The Land Detection - Rule")
            .map(|a| a["event_hash"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let first = lotl(&hunt(&real, false));
    assert!(!first.is_empty());
    // No logs this time: only the index's risk events, recorded by the first run, feed it.
    let again = hunt(&empty.to_string_lossy(), true);
    assert!(again.iter().all(|a| a["kind"] == "notable"), "no log, no new risk event");
    assert_eq!(lotl(&again), first);
    // Without --risk-from-index the same empty run has no risk to correlate.
    assert!(lotl(&hunt(&empty.to_string_lossy(), false)).is_empty());
}
