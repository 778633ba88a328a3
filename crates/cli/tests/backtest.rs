//! End-to-end: `vigil backtest` and `hunt/search --earliest/--latest` on constructed event sets
//! spanning hours and days, checked against Splunk's scheduler semantics.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const SEED: &str = "Windows MSIExec Remote Download";

/// One Sysmon EID 1 XmlWinEventLog line at `time` (ISO, UTC). `pid` identifies the event in
/// results (it is a by-field of the seed); `url` decides whether the seed fires.
fn sysmon(time: &str, pid: u32, url: bool) -> String {
    let cmd =
        if url { format!("msiexec.exe /q /i http://198.51.100.23/p{pid}.msi") } else { format!("msiexec.exe /i C:\\Temp\\p{pid}.msi /qn") };
    let utc = time.trim_end_matches('Z').replace('T', " ");
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{{5770385f-c22a-43e0-bf4c-06f5698ffbd9}}'/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='{time}'/><EventRecordID>{pid}</EventRecordID><Correlation/><Execution ProcessID='3376' ThreadID='4340'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WIN10-BT.attackrange.local</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'>-</Data><Data Name='UtcTime'>{utc}</Data><Data Name='ProcessGuid'>{{1b43529b-1b28-6a7f-be18-00000000{pid:04}}}</Data><Data Name='ProcessId'>{pid}</Data><Data Name='Image'>C:\\Windows\\System32\\msiexec.exe</Data><Data Name='OriginalFileName'>msiexec.exe</Data><Data Name='CommandLine'>{cmd}</Data><Data Name='CurrentDirectory'>C:\\Users\\alice\\</Data><Data Name='User'>ATTACKRANGE\\alice</Data><Data Name='IntegrityLevel'>High</Data><Data Name='Hashes'>SHA256=6E9A6F1E8D2C3B4A59687766554433221100FFEEDDCCBBAA99887766554433AA</Data><Data Name='ParentProcessGuid'>{{1b43529b-1144-6a7f-78dc-000000006300}}</Data><Data Name='ParentProcessId'>4420</Data><Data Name='ParentImage'>C:\\Windows\\System32\\cmd.exe</Data><Data Name='ParentCommandLine'>cmd.exe /c install.cmd</Data></EventData></Event>\n"
    )
}

fn write_events(dir: &Path, name: &str, events: &[(&str, u32, bool)]) -> String {
    let text: String = events.iter().map(|(t, pid, url)| sysmon(t, *pid, *url)).collect();
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write events");
    path.display().to_string()
}

fn jsonl(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

/// process_id -> every (detection, run_time, window_earliest, window_latest) that found it.
fn found(records: &[Value]) -> BTreeMap<String, Vec<[String; 4]>> {
    let mut m: BTreeMap<String, Vec<[String; 4]>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.get("kind").is_none()) {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let pid = r["result"]["process_id"].as_str().unwrap_or_default().to_string();
        m.entry(pid).or_default().push([s("detection"), s("run_time"), s("window_earliest"), s("window_latest")]);
    }
    m
}

fn hit(det: &str, run: &str, e: &str, l: &str) -> [String; 4] {
    [det, run, e, l].map(String::from)
}

/// The seed's schedule: cron `0 * * * *`, `-70m@m` .. `-10m@m`.
#[test]
fn hourly_seed_hits_land_at_splunk_run_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_events(
        dir.path(),
        "sysmon.xml",
        &[
            ("2026-11-20T10:15:01.1234567Z", 1001, true),  // 11:00 run (09:50-10:50)
            ("2026-11-20T10:55:00.0000000Z", 1002, true),  // 12:00 run (10:50-11:50)
            ("2026-11-20T09:50:00.0000000Z", 1003, true),  // earliest is inclusive: 11:00
            ("2026-11-20T10:50:00.0000000Z", 1004, true),  // latest is exclusive: 12:00, not 11:00
            ("2026-11-20T10:49:59.9999999Z", 1005, true),  // 11:00
            ("2026-11-21T03:20:00.0000000Z", 1006, true),  // next day: 04:00 run (02:50-03:50)
            ("2026-11-20T10:20:00.0000000Z", 1007, false), // near miss: no URL
            ("2026-11-18T12:00:00.0000000Z", 1008, true),  // before every window
            ("2026-11-21T23:30:00.0000000Z", 1009, true),  // its run (2026-11-22T01:00) is past --to
        ],
    );
    let o = vigil(&[
        "backtest",
        "--from",
        "2026-11-20T00:00:00Z",
        "--to",
        "2026-11-22T00:00:00Z",
        "--detection",
        SEED,
        "--format",
        "jsonl",
        &input,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = found(&jsonl(&stdout(&o)));
    let expected: BTreeMap<String, Vec<[String; 4]>> = [
        ("1001", hit(SEED, "2026-11-20T11:00:00Z", "2026-11-20T09:50:00Z", "2026-11-20T10:50:00Z")),
        ("1002", hit(SEED, "2026-11-20T12:00:00Z", "2026-11-20T10:50:00Z", "2026-11-20T11:50:00Z")),
        ("1003", hit(SEED, "2026-11-20T11:00:00Z", "2026-11-20T09:50:00Z", "2026-11-20T10:50:00Z")),
        ("1004", hit(SEED, "2026-11-20T12:00:00Z", "2026-11-20T10:50:00Z", "2026-11-20T11:50:00Z")),
        ("1005", hit(SEED, "2026-11-20T11:00:00Z", "2026-11-20T09:50:00Z", "2026-11-20T10:50:00Z")),
        ("1006", hit(SEED, "2026-11-21T04:00:00Z", "2026-11-21T02:50:00Z", "2026-11-21T03:50:00Z")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v]))
    .collect();
    assert_eq!(f, expected);
    let err = stderr(&o);
    assert!(err.contains("48 scheduled run(s)"), "{err}");
    assert!(err.contains("6 result(s) from 3 detection run(s)"), "{err}");
    assert!(err.contains("2 event(s) in no window"), "{err}");

    // The same in CSV and table form, stamped the same way.
    let csv = stdout(&vigil(&[
        "backtest",
        "--from",
        "2026-11-20T11:00:00Z",
        "--to",
        "2026-11-20T12:00:00Z",
        "--detection",
        SEED,
        "--format",
        "csv",
        &input,
    ]));
    let mut lines = csv.lines();
    assert!(lines.next().unwrap_or_default().starts_with("detection,run_time,window_earliest,window_latest,"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows.iter().all(|r| r.starts_with(&format!("{SEED},2026-11-20T11:00:00Z,2026-11-20T09:50:00Z,2026-11-20T10:50:00Z,"))),
        "{csv}"
    );
    let table =
        stdout(&vigil(&["backtest", "--from", "2026-11-20T11:00:00Z", "--to", "2026-11-20T12:00:00Z", "--detection", SEED, &input]));
    assert!(
        table.contains(&format!(
            "== {SEED} | run 2026-11-20T11:00:00Z | window 2026-11-20T09:50:00Z .. 2026-11-20T10:50:00Z (3 results) =="
        )),
        "{table}"
    );
}

/// --from is inclusive and --to exclusive for run times; relative --from/--to use --now.
#[test]
fn range_bounds_are_run_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input =
        write_events(dir.path(), "s.xml", &[("2026-11-20T10:15:01.0000000Z", 1001, true), ("2026-11-20T10:55:00.0000000Z", 1002, true)]);
    let run = |from: &str, to: &str| {
        let o = vigil(&[
            "backtest",
            "--from",
            from,
            "--to",
            to,
            "--now",
            "2026-11-20T12:30:00Z",
            "--detection",
            SEED,
            "--format",
            "jsonl",
            &input,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        found(&jsonl(&stdout(&o))).into_iter().map(|(pid, h)| format!("{pid}@{}", h[0][1])).collect::<Vec<_>>()
    };
    assert_eq!(run("2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"), ["1001@2026-11-20T11:00:00Z"]);
    assert_eq!(run("2026-11-20T11:00:01Z", "2026-11-20T12:00:01Z"), ["1002@2026-11-20T12:00:00Z"]);
    // -2h@h at 12:30 is 10:00; @h is 12:00 (exclusive): runs 10:00 and 11:00
    assert_eq!(run("-2h@h", "@h"), ["1001@2026-11-20T11:00:00Z"]);
    assert_eq!(run("1795165200", "1795172400"), Vec::<String>::new()); // 09:00 .. 11:00 (epoch)
}

/// A detection with its own `deployment:`: every 30 minutes over the last 35 minutes. The
/// windows overlap by five minutes, so an event in the overlap is found twice, correctly.
#[test]
fn own_deployment_with_overlapping_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = dir.path().join("content");
    std::fs::create_dir_all(content.join("detections/endpoint")).expect("mkdir");
    std::fs::write(
        content.join("detections/endpoint/half_hourly.yml"),
        r#"name: Half Hourly MSIExec URL
id: 4f0e6a2c-1b7e-4d8e-9c3a-2b1d0e9f8a7b
version: 1
type: TTP
description: msiexec with a URL, every 30 minutes.
search: '| tstats count min(_time) as firstTime max(_time) as lastTime from datamodel=Endpoint.Processes where `process_msiexec` Processes.process IN ("*http://*", "*https://*") by Processes.dest Processes.process_id | `drop_dm_object_name(Processes)` | `half_hourly_msiexec_url_filter`'
deployment:
  scheduling:
    cron_schedule: '*/30 * * * *'
    earliest_time: -35m
    latest_time: now
    schedule_window: auto
"#,
    )
    .expect("write detection");
    let input = write_events(
        dir.path(),
        "s.xml",
        &[
            ("2026-11-20T10:27:00.0000000Z", 2001, true), // 10:30 (09:55-10:30) and 11:00 (10:25-11:00)
            ("2026-11-20T10:40:00.0000000Z", 2002, true), // 11:00 only
            ("2026-11-20T10:30:00.0000000Z", 2003, true), // 11:00 only (10:30 run's latest is exclusive)
            ("2026-11-20T10:25:00.0000000Z", 2004, true), // both (11:00 run's earliest is inclusive)
        ],
    );
    let content = content.display().to_string();
    let o = vigil(&[
        "backtest",
        "--content",
        &content,
        "--from",
        "2026-11-20T10:00:00Z",
        "--to",
        "2026-11-20T12:00:00Z",
        "--format",
        "jsonl",
        &input,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let det = "Half Hourly MSIExec URL";
    let w1030 = hit(det, "2026-11-20T10:30:00Z", "2026-11-20T09:55:00Z", "2026-11-20T10:30:00Z");
    let w1100 = hit(det, "2026-11-20T11:00:00Z", "2026-11-20T10:25:00Z", "2026-11-20T11:00:00Z");
    let f = found(&jsonl(&stdout(&o)));
    assert_eq!(f["2001"], [w1030.clone(), w1100.clone()]);
    assert_eq!(f["2002"], std::slice::from_ref(&w1100));
    assert_eq!(f["2003"], std::slice::from_ref(&w1100));
    assert_eq!(f["2004"], [w1030, w1100]);
    assert_eq!(f.len(), 4);
    // The built-in seed is disabled by default: not run, and said so.
    let err = stderr(&o);
    assert!(err.contains("disabled by default") && err.contains(SEED), "{err}");
    assert!(err.contains("4 scheduled run(s)"), "{err}");

    // Enabling the seed runs both schedules in the same single pass.
    let o = vigil(&[
        "backtest",
        "--content",
        &content,
        "--enable",
        SEED,
        "--from",
        "2026-11-20T10:00:00Z",
        "--to",
        "2026-11-20T12:00:00Z",
        "--format",
        "jsonl",
        &input,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = found(&jsonl(&stdout(&o)));
    let seed_runs: Vec<&[String; 4]> = f.values().flatten().filter(|h| h[0] == SEED).collect();
    assert_eq!(seed_runs.len(), 4, "{f:?}"); // all four events in the 11:00 run's 09:50-10:50
    assert!(seed_runs.iter().all(|h| h[1] == "2026-11-20T11:00:00Z"));
    let err = stderr(&o);
    assert!(err.contains("2 detection(s) in 2 schedule(s), 6 scheduled run(s)"), "{err}");
}

/// Flat Windows JSON with an arrival time: a run sees only what had arrived by its run time.
fn json_event(time: &str, pid: u32, arrival_key: &str, arrival: &str) -> String {
    let t = time.trim_end_matches('Z');
    serde_json::json!({
        "@timestamp": time, "TimeCreated": time, "UtcTime": t.replace('T', " "),
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "WIN10-BT", "Image": "C:\\Windows\\System32\\msiexec.exe", "OriginalFileName": "msiexec.exe",
        "CommandLine": format!("msiexec.exe /q /i https://198.51.100.23/p{pid}.msi"), "ProcessId": pid.to_string(),
        "ParentImage": "C:\\Windows\\System32\\cmd.exe", "ParentCommandLine": "cmd.exe", "ParentProcessId": "4420",
        "User": "ATTACKRANGE\\alice", "IntegrityLevel": "High", arrival_key: arrival,
    })
    .to_string()
}

#[test]
fn late_events_are_reported_as_missed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = [
        json_event("2026-11-20T10:15:01Z", 3001, "_indextime", "1795170000"), // arrived 10:20: on time for 11:00
        json_event("2026-11-20T10:40:00Z", 3002, "_indextime", "1795172700"), // arrived 11:05, run was 11:00: missed
        json_event("2026-11-20T10:45:00Z", 3003, "_indextime", "2026-11-20T10:58:00Z"), // on time
        json_event("2026-11-20T10:48:00Z", 3004, "_indextime", "1795172400"), // arrived exactly at 11:00: seen
    ];
    let path = dir.path().join("late.json");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let input = path.display().to_string();
    let o = vigil(&[
        "backtest",
        "--from",
        "2026-11-20T10:00:00Z",
        "--to",
        "2026-11-20T13:00:00Z",
        "--detection",
        SEED,
        "--format",
        "jsonl",
        &input,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = jsonl(&stdout(&o));
    let f = found(&records);
    let pids: Vec<&str> = f.keys().map(String::as_str).collect();
    assert_eq!(pids, ["3001", "3003", "3004"], "{records:#?}");
    assert!(f.values().flatten().all(|h| h[1] == "2026-11-20T11:00:00Z"));
    let missed: Vec<&Value> = records.iter().filter(|r| r["kind"] == "missed").collect();
    assert_eq!(missed.len(), 1, "{records:#?}");
    assert_eq!(missed[0]["detection"], SEED);
    assert_eq!(missed[0]["event_time"], "2026-11-20T10:40:00Z");
    assert_eq!(missed[0]["arrival_time"], "2026-11-20T11:05:00Z");
    assert_eq!(missed[0]["window_run_time"], "2026-11-20T11:00:00Z");
    let err = stderr(&o);
    assert!(err.contains("1 event(s) arrived after every run whose window held them"), "{err}");
    assert!(
        err.contains("event 2026-11-20T10:40:00Z arrived 2026-11-20T11:05:00Z (5m00s late for the run at 2026-11-20T11:00:00Z)"),
        "{err}"
    );

    // --arrival-field names another field; without it the data has no arrival time.
    let lines = [json_event("2026-11-20T10:40:00Z", 3002, "ingest", "2026-11-20T11:05:00Z")];
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let args =
        ["backtest", "--from", "2026-11-20T10:00:00Z", "--to", "2026-11-20T13:00:00Z", "--detection", SEED, "--format", "jsonl", &input];
    let plain = jsonl(&stdout(&vigil(&args)));
    assert_eq!(plain.len(), 1);
    assert!(plain[0].get("kind").is_none());
    let mut with_field = args.to_vec();
    with_field.extend(["--arrival-field", "ingest"]);
    let late = jsonl(&stdout(&vigil(&with_field)));
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["kind"], "missed");
}

#[test]
fn hunt_and_search_restricted_to_a_time_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_events(
        dir.path(),
        "s.xml",
        &[
            ("2026-11-20T09:49:59.0000000Z", 4001, true),
            ("2026-11-20T09:50:00.0000000Z", 4002, true),
            ("2026-11-20T10:15:01.0000000Z", 4003, true),
            ("2026-11-20T10:50:00.0000000Z", 4004, true),
            ("2026-11-21T10:15:00.0000000Z", 4005, true),
        ],
    );
    let pids = |args: &[&str]| {
        let o = vigil(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut p: Vec<String> =
            jsonl(&stdout(&o)).iter().map(|r| r["result"]["process_id"].as_str().unwrap_or_default().to_string()).collect();
        p.sort();
        (p, stderr(&o))
    };
    // The seed's window for the 11:00 run, relative to --now.
    let (p, err) =
        pids(&["hunt", "--format", "jsonl", "--earliest", "-70m@m", "--latest", "-10m@m", "--now", "2026-11-20T11:00:00Z", &input]);
    assert_eq!(p, ["4002", "4003"]);
    assert!(err.contains("3 events outside it"), "{err}");
    // Absolute bounds: earliest inclusive, latest exclusive; either may be left open.
    let (p, _) = pids(&["hunt", "--format", "jsonl", "--earliest", "2026-11-20T10:50:00Z", &input]);
    assert_eq!(p, ["4004", "4005"]);
    let (p, _) = pids(&["hunt", "--format", "jsonl", "--latest", "2026-11-20T09:50:00Z", &input]);
    assert_eq!(p, ["4001"]);
    let (p, _) = pids(&["hunt", "--format", "jsonl", "--earliest", "@d", "--now", "2026-11-21T12:00:00Z", &input]);
    assert_eq!(p, ["4005"]);
    let o = vigil(&[
        "search",
        "--format",
        "jsonl",
        "--earliest",
        "1795168200",
        "--latest",
        "2026-11-21T00:00:00Z",
        "| tstats count from datamodel=Endpoint.Processes by Processes.process_id",
        &input,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&stdout(&o));
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["result"]["Processes.process_id"].as_str()).collect();
    assert_eq!(ids, ["4002", "4003", "4004"], "{rows:?}"); // 1795168200 = 09:50:00
}

#[test]
fn usage_errors_are_clear() {
    let check = |args: &[&str], needle: &str| {
        let o = vigil(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    };
    check(&["backtest", "--from", "-1x", "--to", "now", "samples/"], "--from: ");
    check(&["backtest", "--from", "2026-11-21T00:00:00Z", "--to", "2026-11-20T00:00:00Z", "samples/"], "must be before --to");
    check(&["backtest", "--from", "0", "--to", "2026-11-20T00:00:00Z", "--detection", SEED, "samples/"], "more than 100000 scheduled runs");
    check(&["backtest", "--from", "-1d", "--to", "now", "--detection", "No Such", "samples/"], "no detection matches `No Such`");
    check(&["backtest", "--from", "-1d", "--to", "now", "samples/"], "disabled by default");
    check(&["hunt", "--earliest", "-1h", "--latest", "-2h", "samples/"], "after --latest");
    check(&["hunt", "--now", "-1h", "samples/"], "--now: ");
}

#[test]
fn alerts_per_run_carry_the_run_and_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_events(dir.path(), "sysmon.xml", &[("2026-11-20T10:15:01.1234567Z", 1001, true)]);
    let o = vigil(&[
        "backtest",
        "--from",
        "2026-11-20T09:00:00Z",
        "--to",
        "2026-11-20T13:00:00Z",
        "--detection",
        SEED,
        "--alerts",
        "--format",
        "jsonl",
        &input,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = jsonl(&stdout(&o));
    // One result in the 11:00 run: one notable and two risk events (user, dest), all stamped.
    assert_eq!(records.len(), 3, "{records:#?}");
    let kinds: Vec<&str> = records.iter().map(|r| r["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "notable").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "risk").count(), 2);
    for r in &records {
        assert_eq!(r["run_time"], "2026-11-20T11:00:00Z", "{r}");
        assert_eq!(r["window_earliest"], "2026-11-20T09:50:00Z");
        assert_eq!(r["window_latest"], "2026-11-20T10:50:00Z");
        assert_eq!(r["search_name"], "ESCU - Windows MSIExec Remote Download - Rule");
    }
    let risk = records.iter().find(|r| r["risk_object_type"] == "user").expect("user risk");
    assert_eq!(risk["risk_score"], 35);
    assert_eq!(risk["risk_object"], "ATTACKRANGE\\alice");
}
