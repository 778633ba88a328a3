//! `vigil serve` operations end to end, against the real binary on loopback: alert actions
//! (a webhook that fails on demand, a second `vigil serve` over HTTPS as the Splunk HEC, a
//! JSON-lines file), /metrics, reload (SIGHUP and POST), SIGTERM during runs, Correlation
//! detections after the event detections of their tick, and HTTPS.

mod common;
mod serve_support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value as J;
use serve_support::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEED_RULE: &str = "ESCU - Windows MSIExec Remote Download - Rule";
/// Segments stay plain text, so tests can read the store's files directly.
const NO_SEAL: &str = "[store]\nseal_idle_secs = 100000000\n";

/// A webhook receiver: answers 500 while `fail` is above zero (counting it down), else 200
/// and keeps the body and its `X-Test` header.
#[derive(Clone, Default)]
struct Hook {
    fail: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
}

async fn hook(State(h): State<Hook>, headers: HeaderMap, body: String) -> StatusCode {
    h.calls.fetch_add(1, Ordering::SeqCst);
    if h.fail.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1)).is_ok() {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let tag = headers.get("x-test").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    h.bodies.lock().unwrap().push((body, tag));
    StatusCode::OK
}

fn start_hook(fail: usize) -> (tokio::runtime::Runtime, String, Hook) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = Hook::default();
    state.fail.store(fail, Ordering::SeqCst);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(state.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    (rt, url, state)
}

/// A self-signed certificate for `localhost`: (cert.pem, key.pem) under `dir`.
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// The complete lines of a JSON-lines file the server may be appending to (a line still
/// being written, without its newline yet, is left for the next read).
fn lines(path: &Path) -> Vec<J> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn metrics(s: &Server) -> std::collections::BTreeMap<String, f64> {
    let (code, body) = s.request("GET", "/metrics", None, &[], None).unwrap();
    assert_eq!(code, 200);
    parse_metrics(&body)
}

#[test]
fn actions_deliver_alerts_with_retries_across_a_restart() {
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    // The Splunk HEC the notables are forwarded to: a second server, over HTTPS, with acks.
    let es_data = dir.path().join("es");
    let es_config = dir.path().join("es.toml");
    let tls = format!("[tls]\ncert = {cert:?}\nkey = {key:?}\n");
    std::fs::write(&es_config, format!("{NO_SEAL}{tls}[[tokens]]\ntoken = \"fwd\"\nname = \"vigil\"\nack = true\n")).unwrap();
    let es = start_with_ca(&es_data, &["--config", es_config.to_str().unwrap()], 0, Some(&cert));
    assert!(es.log_text().contains("listening on https://"));

    let (_rt, hook_url, hook) = start_hook(usize::MAX);
    let archive = dir.path().join("alerts.jsonl");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "{NO_SEAL}[scheduler]\nenable = [\"*MSIExec Remote Download\"]\n[[tokens]]\ntoken = \"tok\"\nname = \"senders\"\n\
             [[actions]]\nname = \"soc\"\ntype = \"webhook\"\nurl = \"{hook_url}\"\nalerts = [\"notable\"]\n\
             backoff_initial_secs = 0.1\nbackoff_max_secs = 0.4\nheaders = {{ X-Test = \"yes\" }}\n\
             [[actions]]\nname = \"es\"\ntype = \"splunk_hec\"\nurl = \"https://localhost:{}\"\ntoken = \"fwd\"\nca_file = {cert:?}\nack = true\n\
             [[actions]]\nname = \"archive\"\ntype = \"file\"\npath = {archive:?}\n",
            es.port
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let args = ["--config", config.to_str().unwrap(), "--now", "2026-11-20T10:00:00Z"];
    let s = start(&data, &args, 0);
    send_samples(&s, "tok");
    let answer = s.advance("tok", "2026-11-20T11:00:00Z");
    let run = &answer["runs"][0];
    assert!(run["notables"].as_u64() > Some(0), "{answer}");
    // The seed's alerts and the risk incident notables raised after the run.
    let (risk, notables) = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap().counts().unwrap();
    assert!(notables > run["notables"].as_u64().unwrap() as usize, "the seed's risk crosses an incident threshold");
    // The webhook takes notables; the HEC and the file take both.
    assert_eq!(run["actions_queued"].as_u64().unwrap() as usize, notables + 2 * (notables + risk), "{run}");

    // The file and the HEC deliver while the webhook keeps failing.
    wait_until("the archive file", 30, &s.log, || lines(&archive).len() == notables + risk);
    let kinds: Vec<String> = lines(&archive).iter().map(|a| a["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "notable").count(), notables);
    wait_until("the forwarded events in the ES server's store", 30, &s.log, || stored_meta(&es_data).len() == notables + risk);
    let meta = stored_meta(&es_data);
    let texts = stored_texts(&es_data);
    for (m, text) in meta.iter().zip(&texts) {
        assert_eq!((m["sourcetype"].as_str(), m["host"].is_string()), (Some("stash"), true), "{m}");
        assert!(text.starts_with("1795172400, "), "ES's stash text starts with the alert time: {text}");
        let source = m["source"].as_str().unwrap();
        assert!(text.contains(&format!("search_name=\"{source}\"")), "{text}");
    }
    assert!(meta.iter().any(|m| m["source"] == SEED_RULE));
    let index = |i: &str| meta.iter().filter(|m| m["index"] == i).count();
    assert_eq!((index("notable"), index("risk")), (notables, risk));
    wait_until("webhook retries", 30, &s.log, || hook.calls.load(Ordering::SeqCst) >= 3);
    // Counted once the HEC's ack came back.
    wait_until("the HEC deliveries counted", 30, &s.log, || {
        metrics(&s)["vigil_action_deliveries_total{action=\"es\"}"] == (notables + risk) as f64
    });
    let m = metrics(&s);
    assert!(m["vigil_action_failures_total{action=\"soc\"}"] >= 3.0, "{m:?}");
    assert_eq!(m["vigil_action_queue_depth{action=\"soc\"}"], notables as f64);
    assert!(s.log_text().contains(r#""action":"soc","event":"failed""#), "{}", s.log_text());
    // A failing action blocks neither ingest nor the scheduler.
    assert_eq!(s.post("/services/collector/event", "tok", r#"{"event":"still in"}"#).unwrap().0, 200);
    assert_eq!(s.advance("tok", "2026-11-20T12:00:00Z")["runs"].as_array().unwrap().len(), 1);
    assert!(s.stop().success());

    // Restarted with the webhook back (it fails twice more): the outbox delivers each
    // notable once, and nothing already delivered goes out again.
    hook.fail.store(2, Ordering::SeqCst);
    let s = start(&data, &["--config", config.to_str().unwrap(), "--now", "2026-11-20T12:00:30Z"], 1);
    wait_until("the webhook deliveries", 30, &s.log, || hook.bodies.lock().unwrap().len() == notables);
    let bodies = hook.bodies.lock().unwrap().clone();
    let hashes: BTreeSet<String> = bodies.iter().map(|(b, _)| serde_json::from_str::<J>(b).unwrap()["event_hash"].to_string()).collect();
    assert_eq!(hashes.len(), notables, "each notable once");
    assert!(bodies.iter().all(|(b, tag)| tag == "yes" && b.contains(r#""kind":"notable""#)));
    let m = metrics(&s);
    assert!(m["vigil_action_failures_total{action=\"soc\"}"] >= 2.0, "{m:?}");
    assert_eq!(m["vigil_action_queue_depth{action=\"soc\"}"], 0.0);
    assert_eq!(lines(&archive).len(), notables + risk, "nothing delivered twice");
    assert_eq!(stored_meta(&es_data).len(), notables + risk);
    assert!(s.stop().success());
    assert!(es.stop().success());
}

#[test]
fn metrics_count_ingest_runs_alerts_and_missed_ticks() {
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, format!("{NO_SEAL}[scheduler]\nmax_catch_up = 1\n[[tokens]]\ntoken = \"tok\"\nname = \"sysmon\"\n")).unwrap();
    let data = dir.path().join("data");
    let args = ["--config", config.to_str().unwrap(), "--enable", "Windows MSIExec Remote Download"];
    let s = start(&data, &[&args[..], &["--now", "2026-11-20T10:00:00Z"][..]].concat(), 0);
    let three = r#"{"event":"a","sourcetype":"t1"}{"event":"bb","sourcetype":"t1"}{"event":"ccc","sourcetype":"t1"}"#;
    assert_eq!(s.post("/services/collector/event", "tok", three).unwrap().0, 200);
    assert_eq!(s.post("/services/collector/event", "nope", three).unwrap().0, 403);
    send_samples(&s, "tok");
    let run = s.advance("tok", "2026-11-20T11:00:00Z")["runs"][0].clone();
    let (code, body) = s.request("GET", "/metrics", None, &["Accept: text/plain"], None).unwrap();
    assert_eq!(code, 200);
    let m = parse_metrics(&body);
    assert_eq!(m["vigil_hec_events_received_total{token=\"sysmon\",sourcetype=\"t1\"}"], 3.0);
    assert_eq!(m["vigil_hec_bytes_received_total{token=\"sysmon\",sourcetype=\"t1\"}"], 6.0);
    assert!(m["vigil_hec_events_received_total{token=\"sysmon\",sourcetype=\"XmlWinEventLog\"}"] > 0.0);
    assert_eq!(m["vigil_hec_errors_total{code=\"4\"}"], 1.0);
    assert!(m["vigil_hec_ack_latency_seconds_count"] >= 5.0);
    assert_eq!(m["vigil_hec_ack_latency_seconds_bucket{le=\"+Inf\"}"], m["vigil_hec_ack_latency_seconds_count"]);
    assert_eq!(m["vigil_runs_total{result=\"ok\"}"], 1.0);
    assert_eq!(m["vigil_run_duration_seconds_count"], 1.0);
    assert_eq!(m["vigil_alerts_total{kind=\"notable\"}"], run["notables"].as_f64().unwrap());
    assert_eq!(m["vigil_alerts_total{kind=\"risk\"}"], run["risk_events"].as_f64().unwrap());
    assert_eq!(m["vigil_scheduled_detections"], 1.0);
    assert_eq!(m["vigil_commit_queue_events"], 0.0);
    assert!(m["vigil_store_bytes"] > 0.0 && m["vigil_store_partitions"] >= 1.0);
    assert!(body.contains("# TYPE vigil_hec_ack_latency_seconds histogram"));
    assert!(s.stop().success());

    // Down from 11:00 to 14:30: three ticks passed, max_catch_up = 1 runs one of them.
    let s = start(&data, &[&args[..], &["--now", "2026-11-20T14:30:00Z"][..]].concat(), 1);
    wait_until("the catch-up run", 30, &s.log, || lines(&data.join("runs.jsonl")).len() == 2);
    let m = metrics(&s);
    assert_eq!((m["vigil_scheduler_missed_ticks_total"], m["vigil_scheduler_skipped_ticks_total"]), (3.0, 2.0));
    assert_eq!(m["vigil_late_events_total"], 0.0);
    assert!(s.stop().success());
}

/// A filter-macro layer and a schedule override applied by SIGHUP, an unchanged config kept by
/// POST /vigil/reload, a broken config refused, and events sent throughout all stored.
#[test]
fn reload_applies_content_and_config_without_losing_events() {
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("filters");
    std::fs::create_dir_all(layer.join("macros")).unwrap();
    let config = dir.path().join("vigil.toml");
    let base = format!("content = [{layer:?}]\n{NO_SEAL}[scheduler]\nenable = [\"windows msiexec*\"]\n[[tokens]]\ntoken = \"tok\"\n");
    std::fs::write(&config, &base).unwrap();
    let data = dir.path().join("data");
    let s = start(&data, &["--config", config.to_str().unwrap(), "--now", "2026-11-20T10:00:00Z"], 0);
    send_samples(&s, "tok");
    assert_eq!(s.advance("tok", "2026-11-20T11:00:00Z")["runs"][0]["error"], J::Null);
    let store = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let dests = |from: &str, to: &str| -> Vec<String> {
        let t = |iso: &str| vigil_time::parse_iso8601_utc(iso).unwrap();
        let mut d: Vec<String> = store
            .notables(t(from), t(to), Some(&[SEED_RULE]))
            .unwrap()
            .iter()
            .map(|n| n.json["dest"].as_str().unwrap().to_string())
            .collect();
        d.sort();
        d
    };
    let before = dests("2026-11-20T11:00:00Z", "2026-11-20T11:00:01Z");
    assert!(before.len() > 1, "{before:?}");
    let dropped = before[0].clone();

    // Events keep coming during the reloads; every acknowledged one must be stored.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (stop, s) = (stop.clone(), s.client.clone());
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) || n < 200 {
                let body: String = (n..n + 10).map(|i| format!(r#"{{"time":1795165200,"event":"reload-test {i}"}}"#)).collect();
                if s.post("/services/collector/event", "tok", &body).is_some_and(|(c, _)| c == 200) {
                    acked.extend(n..n + 10);
                }
                n += 10;
            }
            acked
        })
    };
    // SIGHUP: a filter macro from the content layer, a longer window from an override.
    std::fs::write(
        layer.join("macros/windows_msiexec_remote_download_filter.yml"),
        format!("name: windows_msiexec_remote_download_filter\ndefinition: search dest!=\"{dropped}\"\n"),
    )
    .unwrap();
    let over = "[[scheduler.override]]\ndetection = \"Windows MSIExec Remote Download\"\nearliest = \"-130m@m\"\n";
    std::fs::write(&config, format!("{base}{over}")).unwrap();
    s.signal("HUP");
    wait_until("the SIGHUP reload", 30, &s.log, || s.log_text().contains("vigil serve: reloaded:"));
    assert!(s.log_text().contains("0 schedule(s) unchanged, 1 new or changed, 1 removed"), "{}", s.log_text());
    // Unchanged: the schedule is kept.
    let (code, body) = s.request("POST", "/vigil/reload", Some("tok"), &[], None).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("1 schedule(s) unchanged, 0 new or changed, 0 removed"), "{body}");
    // Broken: refused, the running configuration stays.
    std::fs::write(&config, format!("{base}{over}[scheduler.bogus\n")).unwrap();
    let (code, body) = s.request("POST", "/vigil/reload", Some("tok"), &[], None).unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("vigil.toml"), "{body}");
    stop.store(true, Ordering::SeqCst);
    let acked = sender.join().unwrap();

    // The 12:00 run sees 09:50..11:50 (the override) through the new filter.
    let run = s.advance("tok", "2026-11-20T12:00:00Z")["runs"][0].clone();
    assert_eq!(run["window_earliest"], "2026-11-20T09:50:00Z", "{run}");
    // The same results as at 11:00 less the filtered host (the risk index keeps one copy of
    // each alert, so the run's counts tell).
    let kept = before.iter().filter(|d| **d != dropped).count();
    assert!(kept < before.len());
    assert_eq!((run["results"].as_u64(), run["notables"].as_u64()), (Some(kept as u64), Some(kept as u64)), "{run}");
    let m = metrics(&s);
    assert_eq!((m["vigil_reloads_total{result=\"ok\"}"], m["vigil_reloads_total{result=\"error\"}"]), (2.0, 1.0));
    assert!(s.stop().success());
    let stored: BTreeSet<u64> =
        stored_texts(&data).iter().filter_map(|t| t.strip_prefix("reload-test ")).map(|i| i.parse().unwrap()).collect();
    assert!(acked.len() >= 200);
    assert!(acked.iter().all(|i| stored.contains(i)), "{} acknowledged, {} stored", acked.len(), stored.len());
}

/// SIGTERM while a clock move runs hundreds of ticks: the run under way finishes, the server
/// exits 0, and the next start runs the remaining ticks, none twice.
#[test]
fn sigterm_finishes_the_run_under_way_and_the_rest_run_at_the_next_start() {
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "{NO_SEAL}[scheduler]\nmax_catch_up = 100000\nenable = [\"Windows MSIExec Remote Download\"]\n\
             [[scheduler.override]]\ndetection = \"Windows MSIExec Remote Download\"\ncron = \"* * * * *\"\n[[tokens]]\ntoken = \"tok\"\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let s = start(&data, &["--config", config.to_str().unwrap(), "--now", "2026-11-20T10:00:00Z"], 0);
    send_samples(&s, "tok");
    let client = s.client.clone();
    let mover = std::thread::spawn(move || client.request("POST", "/vigil/clock?to=2026-11-20T22:00:00Z", Some("tok"), &[], None));
    let runs_log = data.join("runs.jsonl");
    wait_until("the first runs", 60, &s.log, || std::fs::read_to_string(&runs_log).unwrap_or_default().lines().count() >= 5);
    let status = s.stop();
    assert!(status.success(), "{status:?}");
    let (code, body) = mover.join().unwrap().expect("the clock request is answered before the server exits");
    assert_eq!(code, 200);
    let answered = serde_json::from_str::<J>(&body).unwrap()["runs"].as_array().unwrap().len();
    let first = lines(&runs_log);
    assert_eq!(answered, first.len(), "every run finished is recorded, none half");
    assert!(first.len() < 720, "stopped before all 720 ticks ran");

    let s = start(&data, &["--config", config.to_str().unwrap(), "--now", "2026-11-20T22:00:00Z"], 1);
    wait_until("the remaining ticks", 120, &s.log, || lines(&runs_log).len() >= 720);
    assert!(s.stop().success());
    let times: Vec<String> = lines(&runs_log).iter().map(|r| r["scheduled_time"].as_str().unwrap().to_string()).collect();
    assert_eq!(times.len(), 720);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    assert_eq!((times[0].as_str(), times[719].as_str()), ("2026-11-20T10:01:00Z", "2026-11-20T22:00:00Z"));
}

/// A Correlation detection whose window reaches past its tick sees the risk events the seed
/// raised at the same tick: it runs after them, over the risk index.
#[test]
fn correlation_runs_over_the_risk_index_after_the_event_detections_of_its_tick() {
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let dir = tempfile::tempdir().unwrap();
    let layer = correlation_layer(dir.path());
    let data = dir.path().join("data");
    let args = ["--content", layer.to_str().unwrap(), "--enable", "Windows MSIExec Remote Download", "--now", "2026-11-20T10:00:00Z"];
    let s = start(&data, &args, 0);
    assert!(s.log_text().contains("(over the risk index): Test Host Risk Correlation"), "{}", s.log_text());
    let token = generated_token(&data);
    send_samples(&s, &token);
    let answer = s.advance(&token, "2026-11-20T11:00:00Z");
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{answer}");
    assert_eq!(runs[0]["detections"][0], "Windows MSIExec Remote Download");
    assert_eq!(runs[1]["detections"][0], "Test Host Risk Correlation");
    let seed_risk = runs[0]["risk_events"].as_u64().unwrap();
    assert_eq!(runs[1]["events_scanned"].as_u64(), Some(seed_risk), "the correlation read this tick's risk events");
    assert!(runs[1]["notables"].as_u64().unwrap() > 0, "{answer}");
    assert!(s.stop().success());

    let store = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let all = store.notables(i64::MIN, i64::MAX, None).unwrap();
    let corr: Vec<_> = all.iter().filter(|n| n.search_name == "ESCU - Test Host Risk Correlation - Rule").collect();
    assert_eq!(corr.len() as u64, runs[1]["notables"].as_u64().unwrap());
    for n in corr {
        let events = n.json["contributing_risk_events"].as_array().expect("contributing risk events");
        assert!(!events.is_empty());
        let object = n.json["risk_object"].as_str().unwrap().to_lowercase();
        for e in events {
            assert_eq!(e["search_name"], SEED_RULE);
            assert_eq!(e["normalized_risk_object"].as_str(), Some(object.as_str()));
        }
        assert_eq!(n.json["rule_title"], format!("Risk on {}", n.json["risk_object"].as_str().unwrap()));
    }
}

#[test]
fn https_with_a_configured_certificate() {
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let config = dir.path().join("vigil.toml");
    let limits = "[limits]\nheader_timeout_secs = 1\n";
    std::fs::write(&config, format!("{NO_SEAL}{limits}[tls]\ncert = {cert:?}\nkey = {key:?}\n[[tokens]]\ntoken = \"tok\"\n")).unwrap();
    let data = dir.path().join("data");
    let s = start_with_ca(&data, &["--config", config.to_str().unwrap()], 0, Some(&cert));
    let health = s.request("GET", "/services/collector/health", None, &[], None).unwrap();
    assert_eq!(health, (200, r#"{"text":"HEC is healthy","code":17}"#.into()));
    assert_eq!(s.post("/services/collector/event", "tok", r#"{"event":"over tls"}"#).unwrap().0, 200);
    // Plain HTTP on the TLS port gets no HTTP answer; a client not trusting the CA fails.
    let plain = Client { port: s.port, cacert: None };
    assert_eq!(plain.request("GET", "/services/collector/health", None, &[], None), None);
    let untrusted = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", &format!("https://localhost:{}/services/collector/health", s.port)])
        .status()
        .unwrap();
    assert!(!untrusted.success());
    // A client that connects and never starts its handshake is closed after header_timeout_secs.
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    assert_eq!(std::io::Read::read(&mut stalled, &mut [0u8; 16]).unwrap_or(0), 0);
    assert!(started.elapsed() < Duration::from_secs(5), "stalled handshake kept for {:?}", started.elapsed());
    let m = metrics(&s);
    assert!(m["vigil_connections_dropped_total{reason=\"tls_handshake\"}"] >= 1.0, "{m:?}");
    assert!(s.stop().success());
    assert_eq!(stored_texts(&data), ["over tls"]);
}
