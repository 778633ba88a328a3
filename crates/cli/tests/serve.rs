//! `vigil serve` end to end: the real binary, a real HTTP client (curl), SIGKILL during a
//! steady send, and the store read back through the readers.

mod common;
mod serve_support;

use serve_support::{
    assert_same_notables, backtest_seed_tick, generated_token, have_curl, send_samples, start, stored_ids, stored_seed_notables, Client,
    SEED,
};
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// POSTs `body` with curl; returns (HTTP status, body), or None when the request failed.
fn post(port: u16, path: &str, token: &str, headers: &[&str], body: &str) -> Option<(u16, String)> {
    Client { port, cacert: None }.request("POST", path, Some(token), headers, Some(body))
}

#[test]
fn acknowledged_events_survive_sigkill_exactly_once() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = Arc::new(AtomicU16::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    // Segments sealed (zstd) as soon as they are idle, so kills also land during seals.
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[store]\nseal_idle_secs = 0\n").unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let first = start(&data, &args, 0);
    port.store(first.port, Ordering::SeqCst);
    let token = std::fs::read_to_string(data.join("hec_token")).unwrap().trim().to_string();

    // The sender: batches of 20 events with unique ids, never resent; an id counts as
    // acknowledged only when the server answered success.
    let sender = {
        let (port, stop, acked, token) = (port.clone(), stop.clone(), acked.clone(), token.clone());
        std::thread::spawn(move || {
            let mut next = 0u64;
            let mut failed = 0u32;
            while !stop.load(Ordering::SeqCst) && next < 200_000 {
                let p = port.load(Ordering::SeqCst);
                if p == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let ids: Vec<u64> = (next..next + 20).collect();
                next += 20;
                let body: String = ids
                    .iter()
                    .map(|i| format!(r#"{{"time":{}.25,"event":{{"test_id":"{i}","msg":"steady send"}}}}"#, 1_700_000_000 + i * 7))
                    .collect();
                match post(p, "/services/collector/event", &token, &[], &body) {
                    Some((200, b)) if b.contains(r#""code":0"#) => acked.lock().unwrap().extend(ids),
                    _ => failed += 1,
                }
            }
            failed
        })
    };

    let mut server = first;
    let kills = 5;
    for round in 1..=kills {
        // Let some requests through, then kill in the middle of the send.
        let target = acked.lock().unwrap().len() + 400;
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(7 * round as u64));
        port.store(0, Ordering::SeqCst);
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        server = start(&data, &args, round);
        port.store(server.port, Ordering::SeqCst);
    }
    stop.store(true, Ordering::SeqCst);
    let failed = sender.join().unwrap();
    // SIGTERM: a clean stop, exit 0.
    let term = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}\n{}", std::fs::read_to_string(&server.log).unwrap());

    // Opening repairs torn tails: start once more (and stop) before reading.
    let mut last = start(&data, &args, kills + 1);
    let log = std::fs::read_to_string(&last.log).unwrap();
    last.child.kill().unwrap();
    last.child.wait().unwrap();

    let acked = acked.lock().unwrap().clone();
    let (stored, sealed) = stored_ids(&data);
    assert!(sealed > 0, "no segment was sealed during the send");
    assert!(acked.len() >= 1000, "too few acknowledged events to mean anything: {}", acked.len());
    let missing: Vec<u64> = acked.iter().copied().filter(|i| !stored.contains_key(i)).collect();
    assert!(missing.is_empty(), "{} acknowledged event(s) lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    let twice: Vec<(&u64, &usize)> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "events stored more than once: {twice:?}");
    let acked_set: HashSet<u64> = acked.iter().copied().collect();
    eprintln!(
        "{} acknowledged, {} stored ({} stored but never acknowledged: in flight at a kill), {failed} request(s) failed, {sealed} sealed segment(s); {}",
        acked_set.len(),
        stored.len(),
        stored.len() - acked_set.len(),
        log.lines().find(|l| l.contains("store")).unwrap_or("")
    );
}

#[test]
fn hec_protocol_over_http_acks_errors_and_raw() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        "[[tokens]]\ntoken = \"acktoken\"\nindexes = [\"main\", \"win\"]\nack = true\nsourcetype = \"XmlWinEventLog\"\n\n[[tokens]]\ntoken = \"plain\"\n\n[limits]\nmax_event_bytes = 5000\n",
    )
    .unwrap();
    let mut s = start(&data, &["--config", config.to_str().unwrap()], 0);
    let ev = "/services/collector/event";
    let chan = "X-Splunk-Request-Channel: 0aa1b2c3-0000-4000-8000-000000000001";
    // Ack enabled: a channel is required; the answer carries an ackId that becomes true.
    assert_eq!(
        post(s.port, ev, "acktoken", &[], r#"{"event":"a"}"#).unwrap(),
        (400, r#"{"text":"Data channel is missing","code":10}"#.into())
    );
    let (code, body) = post(s.port, ev, "acktoken", &[chan], r#"{"event":"a","index":"win"}"#).unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"text":"Success","code":0,"ackId":0}"#));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = post(s.port, "/services/collector/ack", "acktoken", &[chan], r#"{"acks":[0]}"#).unwrap();
        assert_eq!(code, 200, "{body}");
        if body == r#"{"acks":{"0":true}}"# {
            break;
        }
        assert_eq!(body, r#"{"acks":{"0":false}}"#);
        assert!(Instant::now() < deadline, "ack 0 never became true");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(post(s.port, "/services/collector/ack", "plain", &[chan], r#"{"acks":[0]}"#).unwrap().0, 400);
    // Errors, with the number of the bad event.
    assert_eq!(
        post(s.port, ev, "acktoken", &[chan], r#"{"event":"a","index":"other"}"#).unwrap().1,
        r#"{"text":"Incorrect index","code":7,"invalid-event-number":0}"#
    );
    assert_eq!(
        post(s.port, ev, "plain", &[], r#"{"event":"a"} {"event":"b"} {"event""#).unwrap().1,
        r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#
    );
    assert_eq!(post(s.port, ev, "nope", &[], r#"{"event":"a"}"#).unwrap(), (403, r#"{"text":"Invalid token","code":4}"#.into()));
    assert_eq!(post(s.port, ev, "plain", &[], " ").unwrap(), (400, r#"{"text":"No data","code":5}"#.into()));
    let big = format!(r#"{{"event":"{}"}}"#, "x".repeat(6000));
    assert_eq!(post(s.port, ev, "plain", &[], &big).unwrap().0, 400);
    // A gzip body (curl compresses the file with gzip(1) first).
    let gz = dir.path().join("body.gz");
    let mut gzip = Command::new("gzip").args(["-c"]).stdin(Stdio::piped()).stdout(std::fs::File::create(&gz).unwrap()).spawn().unwrap();
    std::io::Write::write_all(gzip.stdin.as_mut().unwrap(), br#"{"event":"zipped","sourcetype":"gz"}"#).unwrap();
    drop(gzip.stdin.take());
    assert!(gzip.wait().unwrap().success());
    let gz_arg = format!("@{}", gz.display());
    assert_eq!(post(s.port, ev, "plain", &["Content-Encoding: gzip"], &gz_arg).unwrap(), (200, r#"{"text":"Success","code":0}"#.into()));
    // /raw: line-broken, metadata from the query string; the seed's Sysmon sample.
    let sample = std::fs::read_to_string(common::repo().join("samples/sysmon_msiexec.xml")).unwrap();
    let raw = "/services/collector/raw?sourcetype=XmlWinEventLog&host=ws1";
    assert_eq!(post(s.port, raw, "plain", &[], &sample).unwrap(), (200, r#"{"text":"Success","code":0}"#.into()));
    let health = Command::new("curl").args(["-s", &format!("http://127.0.0.1:{}/services/collector/health", s.port)]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), r#"{"text":"HEC is healthy","code":17}"#);
    s.child.kill().unwrap();
    s.child.wait().unwrap();

    // The raw events are in the store, readable like the sample file, with their metadata.
    let root = vigil_serve::store_dir(&data);
    let mut from_store = 0;
    for seg in vigil_serve::store::segments(&root, vigil_time::Window::ALL).unwrap() {
        vigil_read::read_file(&seg, &vigil_read::ReadOptions::default(), &mut |ev| {
            from_store += usize::from(ev.sourcetype == "XmlWinEventLog" && ev.get("EventCode").is_some())
        });
    }
    let mut from_file = 0;
    vigil_read::read_file(&common::repo().join("samples/sysmon_msiexec.xml"), &vigil_read::ReadOptions::default(), &mut |_| from_file += 1);
    assert_eq!(from_store, from_file);
    let metas: String = vigil_serve::store::segments(&root, vigil_time::Window::ALL)
        .unwrap()
        .iter()
        .map(|s| std::fs::read_to_string(s.with_file_name("events.meta")).unwrap())
        .collect();
    assert_eq!(metas.matches(r#""host":"ws1""#).count(), from_file, "{metas}");
    assert!(metas.contains(r#""index":"win""#) && metas.contains("\"_indextime\":"), "{metas}");
}

/// The shipped seed samples sent over HEC (`/raw` for XML lines, `/event` envelopes around the
/// JSON lines), the test clock moved to the seed's next tick: the seed's notables are the ones
/// `vigil backtest` raises for that tick over the same files.
#[test]
fn seed_samples_over_hec_raise_the_notables_backtest_raises() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let seed = SEED;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data, &["--now", "2026-11-20T10:00:00Z", "--enable", seed], 0);
    let token = generated_token(&data);
    send_samples(&s, &token);
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", "-H", &format!("Authorization: Splunk {token}")])
        .arg(format!("http://127.0.0.1:{}/vigil/clock?to=2026-11-20T11:00:00Z", s.port))
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{answer}");
    let run = &runs[0];
    assert_eq!(run["scheduled_time"], "2026-11-20T11:00:00Z");
    assert_eq!(
        (run["window_earliest"].as_str(), run["window_latest"].as_str()),
        (Some("2026-11-20T09:50:00Z"), Some("2026-11-20T10:50:00Z"))
    );
    assert!(run.get("error").is_none(), "{run}");
    assert!(s.stop().success());

    // The same tick, backtested over the files.
    let (expected, expected_risk) = backtest_seed_tick(&["samples/"]);
    assert!(!expected.is_empty(), "the seed raises notables over samples/");
    // 2026-11-20T11:00:00Z: the server stamps notables with the run time, as ES does.
    assert_same_notables(&stored_seed_notables(&data, 1795172400), &expected);
    assert_eq!(run["notables"].as_u64(), Some(expected.len() as u64));
    assert_eq!(run["risk_events"].as_u64(), Some(expected_risk as u64));

    // Down from 11:00 to 14:30: on start the missed ticks are run, the latest max_catch_up.
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[scheduler]\nmax_catch_up = 2\n").unwrap();
    let s = start(&data, &["--now", "2026-11-20T14:30:00Z", "--enable", seed, "--config", config.to_str().unwrap()], 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let times = loop {
        let runs = std::fs::read_to_string(data.join("runs.jsonl")).unwrap();
        let times: Vec<String> = runs
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["scheduled_time"].as_str().unwrap().to_string())
            .collect();
        if times.len() >= 3 || Instant::now() > deadline {
            break times;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(times, ["2026-11-20T11:00:00Z", "2026-11-20T13:00:00Z", "2026-11-20T14:00:00Z"]);
    let log_path = s.log.clone();
    assert!(s.stop().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("1 missed tick(s) of `0 * * * *`"), "{log}");
}

#[test]
fn sigma_rules_from_the_config_run_on_their_schedule_as_backtest_runs_them() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    // SYNTHETIC logs and rules (tests/data/synthetic/README.md): the brute force of 02:00-02:06.
    let rules = common::repo().join("crates/cli/tests/data/sigma_correlation");
    let logs = common::repo().join("crates/cli/tests/data/synthetic/security_logon_bruteforce.xml");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, format!("[sigma]\npaths = [{:?}]\n", rules.display().to_string())).unwrap();
    let s = start(&data, &["--now", "2026-11-21T02:00:00Z", "--config", config.to_str().unwrap()], 0);
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        log.contains("`0 * * * *` earliest=-70m@m latest=-10m@m: ") && log.contains("Synthetic - Three Failed Logons In A Minute"),
        "{log}"
    );
    let token = std::fs::read_to_string(data.join("hec_token")).unwrap().trim().to_string();
    let text = std::fs::read_to_string(&logs).unwrap();
    let answer = post(s.port, "/services/collector/raw?sourcetype=XmlWinEventLog", &token, &[], &text);
    assert_eq!(answer.unwrap().0, 200);
    let answer = s.advance(&token, "2026-11-21T03:00:00Z");
    let runs = answer["runs"].as_array().unwrap();
    let sigma_run = runs.iter().find(|r| r["scheduled_time"] == "2026-11-21T03:00:00Z").expect("the 03:00 run");
    assert!(sigma_run.get("error").is_none(), "{sigma_run}");
    assert!(s.stop().success());

    // The same tick backtested over the file: the same notables.
    let bt = common::vigil(&[
        "backtest",
        "--sigma",
        rules.to_str().unwrap(),
        "--from",
        "2026-11-21T03:00:00Z",
        "--to",
        "2026-11-21T03:00:01Z",
        "--alerts",
        "--format",
        "jsonl",
        logs.to_str().unwrap(),
    ]);
    assert!(bt.status.success(), "{}", common::stderr(&bt));
    // Correlation notables whole; a rule's notables by rule and event time (the server's
    // copy of the event has every add-on field, backtest's only those its searches read).
    let strip = |mut v: serde_json::Value| {
        if v["orig_sigma_correlation"].is_null() {
            return format!("{} at {}", v["search_name"], v["orig__time"]);
        }
        for k in ["run_time", "window_earliest", "window_latest", "_time"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v.to_string()
    };
    let mut expected: Vec<String> = common::stdout(&bt)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "notable")
        .map(strip)
        .collect();
    let store = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let mut got: Vec<String> = store
        .notables(i64::MIN, i64::MAX, None)
        .unwrap()
        .into_iter()
        .map(|n| n.json)
        .filter(|v| v["search_name"].as_str().is_some_and(|s| s.starts_with("Sigma - ")))
        .map(strip)
        .collect();
    got.sort();
    expected.sort();
    assert!(
        expected.iter().any(|n| n.contains("Multiple Failed Logins Followed by Successful Login") && n.contains("svc_backup")),
        "{expected:?}"
    );
    assert_eq!(got, expected);
    assert_eq!(sigma_run["notables"].as_u64(), Some(expected.len() as u64));
}
