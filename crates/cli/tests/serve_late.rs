//! Late events end to end, with the test clock: events that arrive after the run whose window
//! holds them are counted and listed (`GET /vigil/late`, `late.jsonl`, the next run record),
//! and with `late_events = "rerun"` that run is evaluated again, raising only new alerts.

mod common;
mod serve_support;

use serve_support::{generated_token, get_json, have_curl, scratch, send_samples, start, stop};
use std::path::Path;
use std::time::{Duration, Instant};

const SEED: &str = "Windows MSIExec Remote Download";
const RULE: &str = "ESCU - Windows MSIExec Remote Download - Rule";

fn runs(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("runs.jsonl")).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Waits until `runs.jsonl` holds a record `pick` accepts.
fn wait_run(data: &Path, pick: &dyn Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = runs(data).into_iter().find(|r| pick(r)) {
            return r;
        }
        assert!(Instant::now() < deadline, "no such run record in {:?}", runs(data));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn seed_notables(data: &Path) -> Vec<String> {
    let risk = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let mut v: Vec<String> =
        risk.notables(i64::MIN, i64::MAX, Some(&[RULE])).unwrap().into_iter().map(|n| n.json["event_hash"].to_string()).collect();
    v.sort();
    v
}

/// `vigil backtest` of the 11:00 tick over the server's store: alerts' event hashes and stderr.
fn backtest_11(data: &Path, extra: &[&str]) -> (Vec<String>, String) {
    let store = format!("store:{}", data.display());
    let mut args = vec!["backtest", "--from", "2026-11-20T11:00:00Z", "--to", "2026-11-20T11:00:01Z", "--enable", SEED, "--alerts"];
    args.extend(["--format", "jsonl", &store]);
    args.extend(extra);
    let out = common::vigil(&args);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let mut hashes: Vec<String> = common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "notable")
        .map(|v| v["event_hash"].to_string())
        .collect();
    hashes.sort();
    (hashes, common::stderr(&out))
}

#[test]
fn late_events_are_counted_listed_and_on_the_next_run_record() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let (_dir, data, _) = scratch("");
    let s = start(&data, &["--now", "2026-11-20T10:00:00Z", "--enable", SEED], 0);
    let token = generated_token(&data);
    // The 11:00 run (window 09:50-10:50) runs before the 10:15-10:25 samples arrive.
    let first = s.advance(&token, "2026-11-20T11:00:00Z");
    assert_eq!(first["runs"][0]["events_scanned"], 0, "{first}");
    send_samples(&s, &token);
    let late = get_json(s.port, "/vigil/late", &token);
    let total = late["total"].as_u64().unwrap();
    assert!(total >= 10, "every sample event is late: {late}");
    assert_eq!(late["by_detection"][SEED], total);
    assert_eq!(late["pending_reruns"], 0);
    let recent = late["recent"].as_array().unwrap();
    assert!(recent.iter().all(|e| e["window_run_time"] == "2026-11-20T11:00:00Z" && e["detections"][0] == SEED), "{late}");
    assert_eq!(
        get_json(s.port, &format!("/vigil/late?detection={}&limit=2", SEED.replace(' ', "%20")), &token)["recent"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let next = s.advance(&token, "2026-11-20T12:00:00Z");
    let run = &next["runs"][0];
    assert_eq!((run["scheduled_time"].as_str(), run["late_events"].as_u64()), (Some("2026-11-20T12:00:00Z"), Some(total)), "{next}");
    stop(s);
    assert!(seed_notables(&data).is_empty(), "Splunk would miss them, and so does the schedule");
    assert_eq!(std::fs::read_to_string(data.join("late.jsonl")).unwrap().lines().count() as u64, total);
    // Backtest over the same store agrees on what was missed.
    let (notables, err) = backtest_11(&data, &[]);
    assert!(notables.is_empty());
    assert!(err.contains(&format!("{total} missed as late")), "{err}");
}

#[test]
fn rerun_mode_evaluates_the_missed_run_again_raising_only_new_alerts() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let (_dir, data, config) = scratch("[scheduler]\nlate_events = \"rerun\"\n");
    let s = start(&data, &["--now", "2026-11-20T10:00:00Z", "--enable", SEED, "--config", &config], 0);
    let token = generated_token(&data);
    s.advance(&token, "2026-11-20T11:00:00Z");
    send_samples(&s, &token);
    let rerun = wait_run(&data, &|r| r["rerun"] == true);
    assert_eq!(rerun["scheduled_time"], "2026-11-20T11:00:00Z");
    assert!(rerun.get("error").is_none(), "{rerun}");
    let notables = rerun["notables"].as_u64().unwrap();
    assert!(notables > 0, "{rerun}");
    assert_eq!(rerun["new_alerts"].as_u64(), Some(notables + rerun["risk_events"].as_u64().unwrap()));
    let raised = seed_notables(&data);
    assert_eq!(raised.len() as u64, notables);
    // The same events late again: the run is evaluated again, nothing new is raised.
    send_samples(&s, &token);
    let again = wait_run(&data, &|r| r["rerun"] == true && r["new_alerts"] == 0);
    assert_eq!(again["notables"].as_u64(), Some(notables));
    let late = get_json(s.port, "/vigil/late", &token);
    assert!(late["recent"][0]["rerun"][0] == "2026-11-20T11:00:00Z", "{late}");
    stop(s);
    assert_eq!(seed_notables(&data), raised, "deduplicated by the risk index");
    // The rerun is what backtest gives when arrival times are ignored (every event seen).
    let (expected, _) = backtest_11(&data, &["--arrival-field", "no_such_field"]);
    assert_eq!(raised, expected);
}
