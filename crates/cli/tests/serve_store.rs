//! `vigil serve`'s store as an input: events sent over HEC, read back by `hunt`, `search` and
//! `backtest` (`--store DIR`, `store:DIR`) through the same readers as files, with the
//! metadata they were indexed with.

mod common;
mod serve_support;

use serve_support::{generated_token, have_curl, scratch, send_samples, start, stop};

const SEED: &str = "Windows MSIExec Remote Download";

/// The lines of a jsonl output, each parsed, sorted by their text.
fn jsonl(text: &str) -> Vec<serde_json::Value> {
    let mut v: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    v.sort_by_key(|x| x.to_string());
    v
}

fn run_ok(args: &[&str]) -> (String, String) {
    let out = common::vigil(args);
    assert!(out.status.success(), "vigil {}: {}", args.join(" "), common::stderr(&out));
    (common::stdout(&out), common::stderr(&out))
}

/// Same code, same results: the samples sent over HEC and backtested from the store give
/// exactly what backtesting the sample files gives, and the server's own scheduled run raised
/// those notables.
#[test]
fn backtest_over_the_store_equals_backtest_over_the_files_and_the_server() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data, &["--now", "2026-11-20T10:00:00Z", "--enable", SEED], 0);
    let token = generated_token(&data);
    send_samples(&s, &token);
    let answer = s.advance(&token, "2026-11-20T11:00:00Z");
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{answer}");
    stop(s);

    let store_arg = format!("store:{}", data.display());
    let range = ["--from", "2026-11-20T09:00:00Z", "--to", "2026-11-20T13:00:00Z", "--enable", SEED, "--format", "jsonl"];
    for alerts in [false, true] {
        let mut args = range.to_vec();
        if alerts {
            args.push("--alerts");
        }
        let (files, _) = run_ok(&[&["backtest"], &args[..], &["samples/"]].concat());
        let (store, err) = run_ok(&[&["backtest"], &args[..], &[store_arg.as_str()]].concat());
        let (files, store) = (jsonl(&files), jsonl(&store));
        assert!(!files.is_empty(), "the seed fires over samples/");
        assert_eq!(store.len(), files.len(), "{err}");
        for (f, s) in files.iter().zip(&store) {
            assert_eq!(without_location(f), without_location(s));
        }
        assert!(err.contains("0 missed as late"), "events arrived before the runs: {err}");
    }

    // The server's run at 11:00 raised the notables backtest raises for that run.
    let (bt, _) = run_ok(&[
        "backtest",
        "--from",
        "2026-11-20T11:00:00Z",
        "--to",
        "2026-11-20T11:00:01Z",
        "--enable",
        SEED,
        "--alerts",
        "--format",
        "jsonl",
        "--store",
        data.to_str().unwrap(),
    ]);
    let expected: Vec<String> = jsonl(&bt).into_iter().filter(|v| v["kind"] == "notable").map(|v| v["event_hash"].to_string()).collect();
    let risk = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let rule = ["ESCU - Windows MSIExec Remote Download - Rule"];
    let mut got: Vec<String> =
        risk.notables(i64::MIN, i64::MAX, Some(&rule)).unwrap().into_iter().map(|n| n.json["event_hash"].to_string()).collect();
    got.sort();
    let mut expected = expected;
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    assert_eq!(runs[0]["notables"].as_u64(), Some(expected.len() as u64));
}

/// Where an event was read from differs between a file and the store; nothing else may.
fn without_location(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    strip(&mut v);
    v
}

fn strip(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            for k in ["source_file", "record", "orig_source_file", "orig_record"] {
                o.remove(k);
            }
            o.values_mut().for_each(strip);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

/// HEC metadata wins over what the readers derive; `_indextime` is the arrival; a time range
/// opens only the hours it overlaps.
#[test]
fn hec_metadata_wins_indextime_is_kept_and_time_ranges_prune() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let (_dir, data, config) = scratch("[[tokens]]\ntoken = \"t1\"\nname = \"lab\"\n");
    let s = start(&data, &["--now", "2026-11-20T10:00:00Z", "--config", &config], 0);
    let sysmon = std::fs::read_to_string(common::repo().join("samples/sysmon_msiexec.xml")).unwrap();
    let line = sysmon.lines().find(|l| l.contains("<Event")).unwrap();
    let escaped = serde_json::to_string(line).unwrap();
    // 1. envelope time and host given: they win over SystemTime and <Computer>.
    // 2. nothing given: the reader's time, host and source.
    // 3. a JSON event with a sourcetype and indexed fields, two hours later.
    let body = format!(
        r#"{{"event":{escaped},"time":1795167000.5,"host":"given-host"}}{{"event":{escaped}}}{{"event":{{"k":"v"}},"time":1795176000,"sourcetype":"app:json","fields":{{"env":"lab","team":["a","b"]}}}}"#
    );
    assert_eq!(s.post("/services/collector/event", "t1", &body).unwrap().0, 200);
    stop(s);

    let search = "search index=main | table _time _indextime host source sourcetype env team";
    let store_arg = format!("store:{}", data.display());
    let (out, _) = run_ok(&["search", search, &store_arg, "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = jsonl(&out).into_iter().map(|r| r["result"].clone()).collect();
    assert_eq!(rows.len(), 3, "{out}");
    let by_host = |h: &str| rows.iter().find(|r| r["host"] == h).unwrap_or_else(|| panic!("no row for host {h}: {out}"));
    let given = by_host("given-host");
    assert_eq!(given["_time"], "2026-11-20T09:30:00.500+00:00", "{given}");
    assert_eq!(given["source"], "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
    // The test clock started at 10:00: that is every event's arrival.
    assert!(given["_indextime"].as_str().unwrap().starts_with("17951688"), "{given}");
    let derived = by_host("WIN10-ART-04.attackrange.local");
    assert!(derived["_time"].as_str().unwrap().starts_with("2026-11-20T10:"), "{derived}");
    let app = rows.iter().find(|r| r["sourcetype"] == "app:json").unwrap();
    assert_eq!((app["source"].as_str(), app["env"].as_str()), (Some("http:lab"), Some("lab")), "{app}");
    assert_eq!(app["team"], serde_json::json!(["a", "b"]));
    assert_eq!(app["_time"], "2026-11-20T12:00:00.000+00:00");

    // Three hours hold events; a range over one of them opens one file.
    let (out, err) = run_ok(&[
        "search",
        search,
        "--store",
        data.to_str().unwrap(),
        "--earliest",
        "2026-11-20T12:00:00Z",
        "--latest",
        "2026-11-20T13:00:00Z",
        "--format",
        "jsonl",
        "--verbose",
    ]);
    assert!(err.contains("1 event file(s) overlap the time range"), "{err}");
    assert!(err.contains("vigil: 1 file,"), "{err}");
    assert_eq!(jsonl(&out).len(), 1, "{out}");
    let (_, err) = run_ok(&["search", search, "--store", data.to_str().unwrap(), "--verbose"]);
    assert!(err.contains("3 event file(s) overlap the time range"), "{err}");
}

/// Retention while serving: a sealed partition past `max_age` goes at once; one that ages past
/// it while the server runs (the test clock moved two days) goes too; younger ones stay.
#[test]
fn retention_deletes_old_sealed_partitions_while_serving() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let (_dir, data, config) = scratch("[store]\nseal_idle_secs = 0\nmax_age = \"2d\"\n");
    let s = start(&data, &["--now", "2026-11-20T12:00:00Z", "--config", &config], 0);
    let token = generated_token(&data);
    let t = |iso: &str| vigil_time::parse_iso8601_utc(iso).unwrap() / 1_000_000;
    let body: String = ["2026-11-10T05:10:00Z", "2026-11-19T05:10:00Z", "2026-11-20T11:10:00Z"]
        .iter()
        .map(|iso| format!(r#"{{"time":{},"event":"at {iso}"}}"#, t(iso)))
        .collect();
    assert_eq!(s.post("/services/collector/event", &token, &body).unwrap().0, 200);
    let store = vigil_serve::store_dir(&data);
    let partitions = || {
        let mut v: Vec<String> =
            std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    let wait_for = |want: &[&str]| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while partitions() != want && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(partitions(), want);
    };
    wait_for(&["2026-11-19T05", "2026-11-20T11"]);
    s.advance(&token, "2026-11-21T07:00:00Z");
    wait_for(&["2026-11-20T11"]);
    let log = s.log.clone();
    stop(s);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(log.matches("retention: deleted partition").count(), 2, "{log}");
}
