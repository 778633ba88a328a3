//! End-to-end: Sigma correlation rules (sigma-correlation-rules-specification) through the
//! `vigil` binary, over SYNTHETIC logs (tests/data/synthetic/security_logon_bruteforce.xml;
//! the scenario and what each rule must find are in tests/data/synthetic/README.md) and the
//! rules in tests/data/sigma_correlation (the specification's own example among them).

mod common;
use common::{golden, stderr, stdout, vigil};

const RULES: &str = "crates/cli/tests/data/sigma_correlation";
const LOGS: &str = "crates/cli/tests/data/synthetic/security_logon_bruteforce.xml";

fn rows(o: &std::process::Output) -> Vec<serde_json::Value> {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    stdout(o).lines().map(|l| serde_json::from_str(l).expect("jsonl")).collect()
}

/// The correlation hits among the output rows, one line each, sorted.
fn hits(rows: &[serde_json::Value]) -> Vec<String> {
    let mut out: Vec<String> = rows.iter().filter(|r| r["result"]["sigma_correlation"].is_string()).map(|r| r.to_string()).collect();
    out.sort();
    out
}

fn of<'a>(rows: &'a [serde_json::Value], title: &str) -> Vec<&'a serde_json::Value> {
    rows.iter().filter(|r| r["detection"] == title).map(|r| &r["result"]).collect()
}

#[test]
fn correlations_find_what_the_scenario_holds() {
    let rows = rows(&vigil(&["hunt", "--sigma", RULES, "--format", "jsonl", LOGS]));
    golden("sigma_correlation.jsonl", &(hits(&rows).join("\n") + "\n"));

    // The specification's example: failed logons then a success of the same account.
    let ordered = of(&rows, "Correlation - Multiple Failed Logins Followed by Successful Login");
    assert_eq!(ordered.len(), 1, "only svc_backup (carol: too few failures; dave: success first): {ordered:?}");
    assert_eq!(ordered[0]["TargetUserName"], "svc_backup");
    assert_eq!(ordered[0]["_time"], "2026-11-21T02:05:10.123+00:00", "completed by the successful logon");
    assert_eq!(ordered[0]["sigma_level"], "high");

    let spray = of(&rows, "Synthetic - Failed NTLM Logons For Many Accounts From One Address");
    assert_eq!(spray.len(), 1, "{spray:?}");
    assert_eq!((&spray[0]["IpAddress"], &spray[0]["value_count"]), (&"203.0.113.66".into(), &"6".into()));

    // Sliding windows: bob's three failures straddle 05:00 and still count as one minute.
    let burst = of(&rows, "Synthetic - Three Failed Logons In A Minute");
    let bob: Vec<_> = burst.iter().filter(|r| r["TargetUserName"] == "bob").collect();
    assert_eq!(bob.len(), 1, "{burst:?}");
    assert_eq!(bob[0]["_time"], "2026-11-21T05:00:20.123+00:00");

    // Aliases: the logon's IpAddress is the connection's DestinationIp.
    let callback = of(&rows, "Synthetic - Network Logon Then Connection Back To Its Source");
    assert_eq!(callback.len(), 1, "{callback:?}");
    assert_eq!(callback[0]["remote_ip"], "198.51.100.23");
    assert_eq!(callback[0]["sigma_rules"], serde_json::json!(["successful_login", "outbound_4444"]));

    // generate: true runs the callback's rules on their own (both connections, every logon);
    // rules only named by correlations without it do not.
    assert_eq!(of(&rows, "Synthetic - Outbound Connection To Port 4444").len(), 2);
    assert_eq!(of(&rows, "Successful login").len(), 3);
    assert!(of(&rows, "Synthetic - Failed Network Logon").is_empty());
    assert!(of(&rows, "Single failed login").is_empty());
    assert!(of(&rows, "Multiple failed logons").is_empty(), "an inner correlation only feeds the outer one");
}

#[test]
fn correlations_agree_across_threads_and_file_pieces() {
    let one = rows(&vigil(&["hunt", "--threads", "1", "--sigma", RULES, "--format", "jsonl", LOGS]));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["hunt", "--threads", "2", "--sigma", RULES, "--format", "jsonl", LOGS])
        .current_dir(common::repo())
        .env("VIGIL_PIECE_BYTES", "4096")
        .output()
        .expect("run vigil");
    assert_eq!(hits(&one), hits(&rows(&out)));
}

#[test]
fn detection_selects_correlations_by_title_id_or_file() {
    for name in
        ["Synthetic - Three Failed Logons In A Minute", "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b", "mr_failed_burst", "mr_failed_burst.yml"]
    {
        let rows = rows(&vigil(&["hunt", "--sigma", RULES, "--detection", name, "--format", "jsonl", LOGS]));
        let titles: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| r["detection"].as_str()).collect();
        assert_eq!(titles.into_iter().collect::<Vec<_>>(), ["Synthetic - Three Failed Logons In A Minute"], "{name}");
    }
}

#[test]
fn broken_correlations_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = "title: Names A Missing Rule\ncorrelation:\n  type: event_count\n  rules: [no_such_rule]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 2}\n---\ntitle: Percentile\ncorrelation:\n  type: value_percentile\n  rules: [x]\n  group-by: [ComputerName]\n  timespan: 24h\n  condition: {field: Image, lte: 1}\n---\ntitle: Bad Span\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: soon\n";
    std::fs::write(dir.path().join("mr_broken.yml"), text).unwrap();
    let o = vigil(&["content", "check", "--sigma", dir.path().to_str().unwrap(), "--problems"]);
    let out = stdout(&o);
    assert!(
        out.contains("error       Names A Missing Rule:")
            && out.contains("mr_broken.yml:1: correlation: rule `no_such_rule` is not loaded"),
        "{out}"
    );
    assert!(out.contains("error       Percentile:") && out.contains("mr_broken.yml:9: correlation: rule `x` is not loaded"), "{out}");
    assert!(out.contains("error       Bad Span:") && out.contains("timespan `soon`"), "{out}");
    // hunt skips them and runs nothing else: a usage error, not a crash.
    let o = vigil(&["hunt", "--sigma", dir.path().to_str().unwrap(), LOGS]);
    assert!(stderr(&o).contains("0 rule(s) ready, 3 skipped"), "{}", stderr(&o));
}

#[test]
fn correlation_alerts_carry_level_and_risk_on_the_group() {
    let rows = rows(&vigil(&[
        "hunt",
        "--sigma",
        RULES,
        "--detection",
        "Synthetic - Failed NTLM Logons For Many Accounts From One Address",
        "--alerts",
        "--format",
        "jsonl",
        LOGS,
    ]));
    let text = rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n");
    assert!(text.contains("Sigma - Synthetic - Failed NTLM Logons For Many Accounts From One Address - Rule"), "{text}");
    assert!(text.contains("T1110.003"), "ATT&CK tag as annotation: {text}");
    assert!(text.contains("heidi") && text.contains("DC01.attackrange.local"), "risk on the window's users and host: {text}");
}

#[test]
fn backtest_runs_sigma_on_its_default_schedule_per_window() {
    let o =
        vigil(&["backtest", "--sigma", RULES, "--from", "2026-11-21T02:00:00Z", "--to", "2026-11-21T07:00:00Z", "--format", "jsonl", LOGS]);
    let all = rows(&o);
    // Hourly at :00 over -70m@m..-10m@m: every hit of hunt lands in exactly one run here.
    let hunt = rows_of_hunt();
    assert_eq!(all.len(), hunt.len(), "{}", stderr(&o));
    let bob: Vec<_> = all.iter().filter(|r| r["result"]["TargetUserName"] == "bob").collect();
    assert_eq!(bob.len(), 1);
    assert_eq!(
        (bob[0]["run_time"].as_str(), bob[0]["window_earliest"].as_str(), bob[0]["window_latest"].as_str()),
        (Some("2026-11-21T06:00:00Z"), Some("2026-11-21T04:50:00Z"), Some("2026-11-21T05:50:00Z"))
    );
    assert!(stderr(&o).contains("in 1 schedule(s), 5 scheduled run(s)"), "{}", stderr(&o));
    // Another schedule, and a rule named by file: only it runs, every 30 minutes.
    let o = vigil(&[
        "backtest",
        "--sigma",
        RULES,
        "--detection",
        "mr_spray_distinct_accounts",
        "--sigma-cron",
        "*/30 * * * *",
        "--sigma-earliest",
        "-30m",
        "--sigma-latest",
        "now",
        "--from",
        "2026-11-21T04:00:00Z",
        "--to",
        "2026-11-21T05:00:00Z",
        "--format",
        "jsonl",
        LOGS,
    ]);
    let rows = rows(&o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["run_time"].as_str(), rows[0]["result"]["IpAddress"].as_str()),
        (Some("2026-11-21T04:30:00Z"), Some("203.0.113.66"))
    );
}

fn rows_of_hunt() -> Vec<serde_json::Value> {
    rows(&vigil(&["hunt", "--sigma", RULES, "--format", "jsonl", LOGS]))
}

#[test]
fn value_percentile_finds_the_rare_values_of_a_group() {
    // 36 failed logons on DC01 within a day: svc_backup 12, dave 11, bob 4, carol 4, and one
    // each for alice, erin, frank, grace, heidi (2.8 % each; the rule asks for at most 3 %).
    let rows = rows(&vigil(&["hunt", "--sigma", RULES, "--sigma", "crates/cli/tests/data/sigma_percentile", "--format", "jsonl", LOGS]));
    let rare = of(&rows, "Synthetic - Account With Few Of A Host's Failed Logons");
    let got: Vec<(&str, &str, &str)> = rare
        .iter()
        .map(|r| {
            (
                r["ComputerName"].as_str().unwrap_or(""),
                r["TargetUserName"].as_str().unwrap_or(""),
                r["value_percentile"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let host = "DC01.attackrange.local";
    let share = "2.7777777777777777";
    assert_eq!(
        got,
        [(host, "alice", share), (host, "erin", share), (host, "frank", share), (host, "grace", share), (host, "heidi", share)],
        "{rare:?}"
    );
    assert!(rare.iter().all(|r| r["sigma_correlation"] == "value_percentile" && r["user"] == r["TargetUserName"]), "{rare:?}");
}
