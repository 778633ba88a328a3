//! Cluster mode under failure, and its operations, on a real Kafka-compatible broker (Tansu,
//! see cluster.rs): 3 workers and 2 reducers over a day of generated events, one of each
//! killed with SIGKILL mid-stream and restarted, alerts in PostgreSQL shown by an API process,
//! against `vigil backtest`; `vigil cluster status` and the roles' /metrics.

mod apiserver;
mod cluster_support;
mod common;
mod serve_support;

use cluster_support::*;
use serve_support::wait_until;
use std::path::Path;
use std::process::Command;

/// benchgen's day (its events start at 2026-03-02T00:00:00Z).
const GEN_DAY: (&str, &str) = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");

/// Result files in the reducers' shared data directory.
fn runs_done(reducer_data: &Path) -> usize {
    cluster_results(reducer_data).0
}

/// A day of generated events (about 3000, a seed true positive every 50th on hosts all over
/// the fleet) produced by kafka-python into 6 partitions, keyed by host and stamped with their
/// own time; 3 workers, 2 reducers sharing the alert store. Once the reducers finished a few
/// runs and the first half is produced, one worker and one reducer are killed with SIGKILL;
/// the second half is produced, both come back, a record stamped the next day in every
/// partition closes the day: every run is finished (results byte-identical to backtest over
/// the same file) and the alert store (PostgreSQL) holds backtest's notables, none twice, as
/// a `--role api` process lists them.
#[test]
fn three_workers_two_reducers_one_of_each_killed_mid_stream_equal_backtest() {
    let Some((bin, python)) = broker_and_python() else { return };
    if !serve_support::have_curl() {
        return eprintln!("skipped: curl not found");
    }
    let Some(schema) = vigil_alert::scratch::ScratchSchema::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let gen = Command::new(benchgen())
        .args(["--out", corpus.to_str().unwrap(), "--size-mb", "4", "--files", "1", "--tp-every", "50", "--max-gap-us", "57600000"])
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let file = corpus.join("corpus_000.xml");
    // benchgen: `events=<n> bytes=...` (an event may span lines: 4672's privilege lists).
    let manifest = String::from_utf8_lossy(&gen.stdout).into_owned();
    let events: usize = manifest.split_whitespace().find_map(|w| w.strip_prefix("events=")).unwrap().parse().unwrap();
    assert!(events > 2000, "{manifest}");

    let (_broker, brokers) = start_broker(&bin, dir.path());
    let alerts = format!("[alerts]\npostgres = \"{}\"\n", schema.url());
    let config = write_config_for(GEN_DAY, dir.path(), &brokers, 6, &format!("session_timeout_ms = 10000\n{alerts}"));
    // The clock starts at the day's start: records, not the clock, close the day's windows.
    let now = GEN_DAY.0;
    let half = events / 2;
    assert_eq!(produce_xml_events(&python, &brokers, 6, &file, 0, half), half);
    let mut workers: Vec<Proc> = (0..3).map(|i| start_role("worker", &format!("worker{i}"), dir.path(), &config, now)).collect();
    let mut reducers: Vec<Proc> = (0..2).map(|i| start_role("reducer", &format!("reducer{i}"), dir.path(), &config, now)).collect();
    let data = dir.path().join("reducer-data");
    wait_for("4 runs finished", 120, &workers.iter().chain(&reducers).collect::<Vec<_>>(), || runs_done(&data) >= 4);

    // Mid-stream (the second half of the day is not produced yet): a worker that owns
    // partitions and a reducer that finished runs.
    let before = runs_done(&data);
    assert!(before < 20, "{before} runs finished with half of the day produced");
    let victim = workers.iter().position(|w| w.log_text().contains("window(s) closed")).expect("a worker closed windows");
    workers.remove(victim).kill9();
    let victim = reducers.iter().position(|r| r.log_text().contains("partial(s) merged")).expect("a reducer finished a run");
    reducers.remove(victim).kill9();
    assert_eq!(produce_xml_events(&python, &brokers, 6, &file, half, events), events - half);
    // The dead come back once their groups have moved on without them (their sessions timed
    // out): Tansu 0.6 may otherwise keep a dead member, and its partitions, in a group it
    // re-forms when the new one joins.
    let members = |group: usize| -> usize {
        let out = common::vigil(&["cluster", "status", "--json", "--config", config.to_str().unwrap()]);
        let s: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap_or_default();
        s["groups"][group]["members"].as_array().map_or(usize::MAX, Vec::len)
    };
    wait_for("the groups without the dead", 120, &workers.iter().chain(&reducers).collect::<Vec<_>>(), || {
        members(0) == 2 && members(1) == 1
    });
    workers.push(start_role("worker", "worker-restarted", dir.path(), &config, now));
    reducers.push(start_role("reducer", "reducer-restarted", dir.path(), &config, now));
    produce_with_kafka_python(&python, &brokers, 6, "2026-03-03T00:30:00Z", &[], true);
    wait_for("24 runs finished", 180, &workers.iter().chain(&reducers).collect::<Vec<_>>(), || runs_done(&data) >= 24);

    let resumed = workers.iter().any(|w| w.log_text().contains("resumed from its checkpoint"));
    assert!(resumed, "the killed worker's partitions resumed from its checkpoints");
    let logs = || workers.iter().chain(&reducers).map(|p| format!("{}:\n{}", p.log.display(), p.log_text())).collect::<String>();
    let (runs, got) = cluster_results(&data);
    assert_eq!(runs, 24, "one result file per hourly run of the day");
    let input = file.to_str().unwrap();
    let expected = backtest_results_of(GEN_DAY, input);
    assert!(expected.lines().count() > 20, "backtest finds the seeded true positives:\n{expected}");
    assert_eq!(got, expected, "cluster results differ from backtest\n{}", logs());
    let api = apiserver::start_with(&["--config", config.to_str().unwrap(), "--role", "api"]);
    let jar = dir.path().join("jar").to_string_lossy().into_owned();
    api.login(&jar, "analyst", "analyst-password");
    let (code, v) = api.json(&["-b", &jar], &format!("/api/v1/notables?count=1000&detection={}", SEED.replace(' ', "%20")));
    assert_eq!(code, 200, "{v}");
    let listed = comparable(v["notables"].as_array().unwrap().iter().map(|n| n["notable"].clone()));
    let expected_notables = backtest_notables_of(GEN_DAY, input);
    assert!(expected_notables.len() > 10, "{expected_notables:?}");
    assert_eq!(listed, expected_notables, "the API lists backtest's notables, each once\n{}", logs());
    let hosts: std::collections::HashSet<&str> =
        expected.lines().filter_map(|l| l.split("\"dest\":\"").nth(1)?.split('"').next()).collect();
    assert!(hosts.len() > 10, "true positives on many hosts: {hosts:?}");
}

/// `vigil cluster status` and the roles' /metrics, over 1 worker and 1 reducer on 3 partitions:
/// the samples stamped 10:30 close the ticks 00:00 .. 10:00 (11 runs) and leave 11:00 open.
#[test]
fn cluster_status_and_metrics_show_members_partitions_lag_and_the_oldest_open_window() {
    let Some((bin, python)) = broker_and_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config(dir.path(), &brokers, 3, "");
    produce_with_kafka_python(&python, &brokers, 3, "2026-11-20T10:30:00Z", &samples(), false);
    let now = "2026-11-20T10:30:00Z";
    let (wport, rport) = (free_port(), free_port());
    let worker = start_role_with("worker", "worker", dir.path(), &config, now, &["--listen", &format!("127.0.0.1:{wport}")]);
    let reducer = start_role_with("reducer", "reducer", dir.path(), &config, now, &["--listen", &format!("127.0.0.1:{rport}")]);
    let data = dir.path().join("reducer-data");
    wait_runs(&reducer, &data, 11, 180);

    // Every partition closed 11 windows (published, checkpointed, committed); lag from the
    // client's statistics (every 5 s, for the partitions with records) reaches 0.
    let scrape = |port| http_get(port, "/metrics").unwrap_or_default();
    let lags = |m: &str| m.lines().filter(|l| l.starts_with("vigil_cluster_consumer_lag{")).map(|l| l.ends_with(" 0")).collect::<Vec<_>>();
    wait_until("the worker's partials and lag", 60, &worker.log, || {
        let m = scrape(wport);
        let lags = lags(&m);
        metric(&m, "vigil_cluster_partials_published_total") == Some(33.0) && !lags.is_empty() && lags.iter().all(|zero| *zero)
    });
    let m = scrape(wport);
    assert!(metric(&m, "vigil_cluster_checkpoints_written_total").unwrap() >= 3.0, "{m}");
    assert_eq!(metric(&m, "vigil_cluster_partial_bytes_count"), Some(33.0), "{m}");
    assert_eq!(metric(&m, "vigil_cluster_window_close_delay_seconds_count"), Some(33.0), "{m}");
    assert!(metric(&m, "vigil_cluster_rebalances_total{change=\"assigned\"}").unwrap() >= 1.0, "{m}");
    let m = scrape(rport);
    assert_eq!(metric(&m, "vigil_cluster_runs_finished_total"), Some(11.0), "{m}");
    assert_eq!(metric(&m, "vigil_cluster_merge_seconds_count"), Some(11.0), "{m}");
    assert_eq!(metric(&m, "vigil_cluster_pending_runs"), Some(0.0), "{m}");

    // The status: committed where checkpointed, by this worker; the 11:00 window open.
    let status = || common::vigil(&["cluster", "status", "--json", "--config", config.to_str().unwrap()]);
    let mut s = serde_json::Value::Null;
    wait_until("status: every partition read committed at its checkpoint", 60, &reducer.log, || {
        let out = status();
        assert!(out.status.success(), "{}", common::stderr(&out));
        s = serde_json::from_str(&common::stdout(&out)).unwrap();
        let parts = s["topics"][0]["partitions"].as_array().unwrap().clone();
        parts.iter().any(|p| p["checkpoint_offset"].as_i64() > Some(0))
            && parts.iter().filter(|p| p["checkpoint_offset"].as_i64() > Some(0)).all(|p| p["committed"] == p["checkpoint_offset"])
    });
    let groups = s["groups"].as_array().unwrap();
    assert_eq!((groups[0]["role"].as_str(), groups[0]["name"].as_str()), (Some("workers"), Some("vigil-workers")));
    assert_eq!((groups[1]["role"].as_str(), groups[1]["name"].as_str()), (Some("reducers"), Some("vigil-reducers")));
    for (g, topic) in [(&groups[0], "vigil-events"), (&groups[1], "vigil-partials")] {
        let members = g["members"].as_array().unwrap();
        assert_eq!(members.len(), 1, "{s:#}");
        assert!(!members[0]["member_id"].as_str().unwrap().is_empty(), "{s:#}");
        // Kafka reports the assignment; Tansu 0.6 answers member ids only.
        let a = &members[0]["assignment"];
        assert!(*a == serde_json::json!({}) || *a == serde_json::json!({ topic: [0, 1, 2] }), "{s:#}");
    }
    let events = &s["topics"][0];
    assert_eq!(events["name"], "vigil-events");
    let writer = format!("vigil-workers-{}", worker.child.id());
    for p in events["partitions"].as_array().unwrap().iter().filter(|p| p["checkpoint_offset"].as_i64() > Some(0)) {
        assert_eq!(p["checkpointed_by"].as_str(), Some(writer.as_str()), "{s:#}");
    }
    let eleven = vigil_time::parse_iso8601_utc("2026-11-20T11:00:00Z").unwrap();
    assert_eq!(s["oldest_open_window"][1], eleven, "the 11:00 window holds the samples and is open:\n{s:#}");

    let out = common::vigil(&["cluster", "status", "--config", config.to_str().unwrap()]);
    let text = common::stdout(&out);
    for line in [
        "workers (group vigil-workers, Stable): 1 member(s)",
        "reducers (group vigil-reducers, Stable): 1 member(s)",
        "topic vigil-events (group vigil-workers):",
        "topic vigil-partials (group vigil-reducers):",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    assert!(text.lines().any(|l| l.starts_with("oldest open window: 2026-11-20T11:00:00Z (partition ")), "{text}");
}
