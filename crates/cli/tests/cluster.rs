//! Cluster mode end to end, on a real Kafka-compatible broker (Tansu, memory storage, on a free
//! loopback port, killed at the end): `vigil serve --role ingest|worker|reducer` processes,
//! events sent over HEC with curl or produced by kafka-python, compared with `vigil backtest`
//! over the same files. Tansu and kafka-python are installed by `.ci/run`; in CI (`CI` set)
//! their absence fails these tests, elsewhere they say they skipped.

mod apiserver;
mod cluster_support;
mod common;
mod serve_support;

use cluster_support::*;
use serve_support::{correlation_layer, generated_token, have_curl, send_files, send_samples, start, wait_until};
use std::path::PathBuf;

/// HEC -> ingest role -> 3 partitions -> 1 worker -> partials -> 1 reducer. The worker and
/// the reducer are killed with SIGKILL after the first half of the events (windows open,
/// checkpointed every 5 records), the second half is sent, both restart with the clock past
/// the day: the day's results are byte-identical to `vigil backtest`, and the risk index
/// holds backtest's notables, none twice.
#[test]
fn hec_into_kafka_worker_and_reducer_killed_and_restarted_equal_backtest() {
    let Some(bin) = tansu() else {
        eprintln!("skipped: tansu not found (cargo install tansu --locked --features dynostore)");
        return;
    };
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    // The dead members leave the groups after 10 s (librdkafka's default: 45 s).
    let config = write_config(dir.path(), &brokers, 3, "session_timeout_ms = 10000\n");
    // Events arrive at 10:30 (the samples happened 10:15-10:25): the 11:00 run sees them.
    let ingest_data = dir.path().join("ingest-data");
    let ingest = start(&ingest_data, &["--role", "ingest", "--now", "2026-11-20T10:30:00Z", "--config", config.to_str().unwrap()], 0);
    let token = generated_token(&ingest_data);
    let files = samples();
    let (first, second) = files.split_at(files.len() / 2);
    send_files(&ingest, &token, first);

    let reducer_data = dir.path().join("reducer-data");
    let worker = start_role("worker", "worker0", dir.path(), &config, "2026-11-20T10:30:00Z");
    let reducer = start_role("reducer", "reducer0", dir.path(), &config, "2026-11-20T10:30:00Z");
    // Ticks 00:00 .. 10:00 close (records stamped 10:30 were read); 11:00 stays open.
    wait_runs(&reducer, &reducer_data, 11, 120);
    assert!(worker.log_text().contains("window(s) closed"), "{}", worker.log_text());
    worker.kill9();
    reducer.kill9();
    let killed = std::time::Instant::now();

    send_files(&ingest, &token, second);
    // No member is left to see the dead ones go: Tansu 0.6 drops a dead member when another
    // joins after its session ran out; joining earlier, the new one waits for the dead forever.
    after_session(killed, 10_000);
    let worker = start_role("worker", "worker1", dir.path(), &config, "2026-11-21T01:00:00Z");
    let reducer = start_role("reducer", "reducer1", dir.path(), &config, "2026-11-21T01:00:00Z");
    wait_runs(&reducer, &reducer_data, 24, 180);
    let wlog = worker.log_text();
    assert!(wlog.contains("resumed from its checkpoint"), "the restarted worker resumes from checkpoints:\n{wlog}");

    let (runs, got) = cluster_results(&reducer_data);
    assert_eq!(runs, 24, "one result file per hourly run of the day");
    let expected = backtest_results();
    assert!(expected.contains(SEED), "backtest finds the seed over samples/");
    assert_eq!(got, expected, "cluster results differ from backtest\nworker:\n{wlog}\nreducer:\n{}", reducer.log_text());
    let notables = stored_notables(&reducer_data);
    assert!(!notables.is_empty());
    assert_eq!(notables, backtest_notables(), "the risk index holds backtest's notables, each once");
    ingest.kill();
}

/// A producer nobody here wrote: kafka-python writes the sample lines (key = file, timestamp =
/// 10:30 of the samples' day) into the events topic; a worker and a reducer give backtest's
/// results.
#[test]
fn kafka_python_producer_events_give_backtest_results() {
    let Some((bin, python)) = broker_and_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config(dir.path(), &brokers, 3, "");
    let produced = produce_with_kafka_python(&python, &brokers, 3, "2026-11-20T10:30:00Z", &samples(), false);
    assert!(produced > 10, "{produced} records");

    let reducer_data = dir.path().join("reducer-data");
    let _worker = start_role("worker", "worker", dir.path(), &config, "2026-11-21T01:00:00Z");
    let reducer = start_role("reducer", "reducer", dir.path(), &config, "2026-11-21T01:00:00Z");
    wait_runs(&reducer, &reducer_data, 24, 180);
    assert_eq!(cluster_results(&reducer_data).1, backtest_results());
}

/// 6 partitions, 3 workers, 1 reducer. Once the workers closed the windows before the events'
/// hour, one worker is killed with SIGKILL and never comes back: the group gives its partitions
/// to the others, which resume from its checkpoints. A record stamped the next day in every
/// partition then closes the day: results byte-identical to backtest, notables once.
#[test]
#[ignore = "Tansu 0.6 can keep the dead member in the group: timed out in 3 of 20 runs on 2026-12-06, all under CPU load (8 of 8 idle runs passed); in the one examined, the rebalance after \
            the kill gave the live workers their own partitions back and left the dead one's two unassigned for the \
            test's 240 s (no 'resumed' for them on any live worker); a Kafka broker evicts it after session_timeout_ms. \
            three_workers_two_reducers_one_of_each_killed_mid_stream_equal_backtest covers a killed worker's partitions"]
fn a_dead_workers_partitions_resume_from_checkpoints_on_the_others() {
    let Some((bin, python)) = broker_and_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config(dir.path(), &brokers, 6, "session_timeout_ms = 10000\n");
    produce_with_kafka_python(&python, &brokers, 6, "2026-11-20T10:30:00Z", &samples(), false);
    let now = "2026-11-20T10:30:00Z";
    let mut workers: Vec<Proc> = (0..3).map(|i| start_role("worker", &format!("worker{i}"), dir.path(), &config, now)).collect();
    let reducer_data = dir.path().join("reducer-data");
    let reducer = start_role("reducer", "reducer", dir.path(), &config, now);
    wait_runs(&reducer, &reducer_data, 11, 180);
    // The victim: a worker that owns partitions (and wrote their checkpoints).
    let victim = workers.iter().position(|w| w.log_text().contains("window(s) closed")).expect("a worker closed windows");
    let victim_log = workers[victim].log.clone();
    workers.remove(victim).kill9();
    produce_with_kafka_python(&python, &brokers, 6, "2026-11-21T00:30:00Z", &[], true);
    wait_runs(&reducer, &reducer_data, 24, 240);
    let resumed = workers.iter().any(|w| w.log_text().contains("resumed from its checkpoint"));
    assert!(resumed, "the others took over the dead worker's partitions from its checkpoints");
    let logs = || {
        let workers: Vec<String> = workers.iter().map(Proc::log_text).collect();
        let victim = std::fs::read_to_string(&victim_log).unwrap_or_default();
        format!("killed worker:\n{victim}\nworkers:\n{}\nreducer:\n{}", workers.join("\n--\n"), reducer.log_text())
    };
    assert_eq!(cluster_results(&reducer_data).1, backtest_results(), "{}", logs());
    assert_eq!(stored_notables(&reducer_data), backtest_notables());
}

/// The shared alert store: 1 worker and 2 reducers (one group) with `[alerts] postgres`, and a
/// `vigil serve --role api` process over the same store: the API lists backtest's notables,
/// each once, whichever reducer finished which run.
#[test]
fn reducers_share_a_postgres_alert_store_that_an_api_process_shows() {
    let Some(bin) = tansu() else {
        eprintln!("skipped: tansu not found (cargo install tansu --locked --features dynostore)");
        return;
    };
    let Some(python) = kafka_python() else { return };
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let Some(schema) = vigil_alert::scratch::ScratchSchema::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config(dir.path(), &brokers, 3, &format!("[alerts]\npostgres = \"{}\"\n", schema.url()));
    produce_with_kafka_python(&python, &brokers, 3, "2026-11-20T10:30:00Z", &samples(), false);
    let now = "2026-11-21T01:00:00Z";
    let _worker = start_role("worker", "worker", dir.path(), &config, now);
    let data: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("reducer{i}-data"))).collect();
    let reducers: Vec<Proc> =
        data.iter().enumerate().map(|(i, d)| start_role_in("reducer", &format!("reducer{i}"), dir.path(), d, &config, now, &[])).collect();
    // Every hourly run of the day finished by one reducer or the other.
    let run_names = || -> std::collections::BTreeSet<String> {
        let files = data.iter().filter_map(|d| std::fs::read_dir(d.join("results")).ok()).flatten().filter_map(|e| e.ok());
        files.map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".jsonl")).collect()
    };
    wait_until("24 runs finished by the reducers", 240, &reducers[0].log, || run_names().len() >= 24);
    for r in &reducers {
        assert!(r.log_text().contains("alert store postgres://"), "{}", r.log_text());
        assert!(!r.log_text().contains("risk.db"), "{}", r.log_text());
    }

    let api = apiserver::start_with(&["--config", config.to_str().unwrap(), "--role", "api"]);
    let jar = dir.path().join("jar").to_string_lossy().into_owned();
    api.login(&jar, "analyst", "analyst-password");
    // A second API process on the same config shares the users and the session just opened
    // (its own data directory has no users).
    let other = apiserver::start_adding_users(&["--config", config.to_str().unwrap(), "--role", "api"], false);
    let (code, v) = other.json(&["-b", &jar], "/api/v1/auth/session");
    assert_eq!((code, v["user"].as_str()), (200, Some("analyst")), "{v}");
    let listed = || {
        let (code, v) = api.json(&["-b", &jar], &format!("/api/v1/notables?count=1000&detection={}", SEED.replace(' ', "%20")));
        assert_eq!(code, 200, "{v}");
        comparable(v["notables"].as_array().unwrap().iter().map(|n| n["notable"].clone()))
    };
    let expected = backtest_notables();
    assert!(!expected.is_empty());
    // A run's results file is written before its alerts are recorded: wait for the last ones.
    wait_until("the API to list backtest's notables", 60, &api.log, || listed().len() >= expected.len());
    assert_eq!(listed(), expected, "the API lists backtest's notables, each once");
}

/// Correlation detections in the cluster: the reducer runs them over its alert store once the
/// event runs up to their tick are finished, and raises the notables a single node raises for
/// the same events (`vigil serve`, the events arriving at the same time).
#[test]
fn correlation_notables_of_the_reducer_equal_a_single_nodes() {
    let Some((bin, python)) = broker_and_python() else { return };
    if !have_curl() {
        return eprintln!("skipped: curl not found");
    }
    const CORRELATION: &str = "Test Host Risk Correlation";
    let dir = tempfile::tempdir().unwrap();
    let layer = correlation_layer(dir.path());
    let layer = layer.to_str().unwrap();
    let extra = ["--content", layer, "--enable", CORRELATION];
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config(dir.path(), &brokers, 3, "");
    assert!(produce_with_kafka_python(&python, &brokers, 3, "2026-11-20T10:30:00Z", &samples(), false) > 10);
    let reducer_data = dir.path().join("reducer-data");
    let _worker = start_role_with("worker", "worker", dir.path(), &config, "2026-11-21T01:00:00Z", &extra);
    let reducer = start_role_with("reducer", "reducer", dir.path(), &config, "2026-11-21T01:00:00Z", &extra);
    // 24 runs of the seed's schedule, 24 of the correlation's.
    wait_runs(&reducer, &reducer_data, 48, 180);
    let rlog = reducer.log_text();
    assert!(rlog.contains("risk event(s) read"), "{rlog}");

    // One node: the same events arrive at 10:30, the clock then runs to the end of the day.
    let node_data = dir.path().join("node-data");
    let node = start(&node_data, &["--content", layer, "--enable", SEED, "--enable", CORRELATION, "--now", "2026-11-20T10:30:00Z"], 0);
    let token = generated_token(&node_data);
    send_samples(&node, &token);
    node.advance(&token, "2026-11-20T23:00:00Z");
    assert!(node.stop().success());

    let rule = [format!("ESCU - {CORRELATION} - Rule")];
    let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
    let notables = |data: &std::path::Path| {
        let store = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
        let mut v: Vec<String> = store.notables(i64::MIN, i64::MAX, Some(&rule)).unwrap().into_iter().map(|n| n.json.to_string()).collect();
        v.sort();
        v
    };
    let (cluster, node) = (notables(&reducer_data), notables(&node_data));
    assert!(!node.is_empty(), "the single node raised correlation notables");
    assert_eq!(cluster, node, "reducer log:\n{rlog}");
    eprintln!("{} correlation notable(s), the same from the reducer and from one node", node.len());
}

/// Sigma rules in the cluster: workers and reducers load `--sigma` as `vigil serve` does
/// (SYNTHETIC brute-force logs and correlation rules, tests/data), each event produced by
/// kafka-python at its own time; the day's results are `vigil backtest --sigma`'s over the
/// file, but for where a raw event was read (`source_file`, `record`).
#[test]
fn sigma_rules_in_the_cluster_give_backtests_results() {
    let Some((bin, python)) = broker_and_python() else { return };
    let repo = common::repo();
    let rules = repo.join("crates/cli/tests/data/sigma_correlation");
    let logs = repo.join("crates/cli/tests/data/synthetic/security_logon_bruteforce.xml");
    let day = ("2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config_for(day, dir.path(), &brokers, 3, "");
    assert!(produce_xml_events(&python, &brokers, 3, &logs, 0, 100_000) > 10);
    let extra = ["--sigma", rules.to_str().unwrap()];
    let reducer_data = dir.path().join("reducer-data");
    let _worker = start_role_with("worker", "worker", dir.path(), &config, "2026-11-22T01:00:00Z", &extra);
    let reducer = start_role_with("reducer", "reducer", dir.path(), &config, "2026-11-22T01:00:00Z", &extra);
    // The Sigma rules run on the seed's schedule (the documented default; a correlation with a
    // longer timespan would get its own).
    let schedules = || reducer.log_text().lines().filter(|l| l.starts_with("vigil cluster: schedule ")).count();
    wait_for("the reducer to start", 60, &[&reducer], || reducer.log_text().contains("vigil reducer: group"));
    let rlog = reducer.log_text();
    assert!(rlog.contains("Synthetic - Three Failed Logons In A Minute"), "{rlog}");
    wait_runs(&reducer, &reducer_data, 24 * schedules(), 240);
    // A raw event's row names where the event was read: the Kafka record there, the file here.
    let unsourced = |lines: String| -> Vec<String> {
        let strip = |l: &str| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let result = v["result"].as_object_mut().unwrap();
            result.remove("source_file");
            result.remove("record");
            v.to_string()
        };
        lines.lines().map(strip).collect()
    };
    let expected = unsourced(backtest_results_with(day, logs.to_str().unwrap(), &extra));
    assert!(expected.iter().any(|l| l.contains("Multiple Failed Logins Followed by Successful Login")), "{expected:?}");
    let got = unsourced(cluster_results(&reducer_data).1);
    assert_eq!(got, expected, "reducer log:\n{}", reducer.log_text());
    eprintln!("{} result line(s) of the Sigma rules, the same from the cluster and from backtest", got.len());
}
