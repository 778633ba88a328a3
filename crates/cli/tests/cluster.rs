//! Cluster mode end to end, on a real Kafka-compatible broker (Tansu, memory storage, on a free
//! loopback port, killed at the end): `vigil serve --role ingest|worker|reducer` processes,
//! events sent over HEC with curl or produced by kafka-python, compared with `vigil backtest`
//! over the same files. Tansu and kafka-python are installed by `.ci/run`; in CI (`CI` set)
//! their absence fails these tests, elsewhere they say they skipped.

mod apiserver;
mod common;
mod serve_support;

use serve_support::{generated_token, have_curl, send_files, start, wait_until};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEED: &str = "Windows MSIExec Remote Download";
const DAY_FROM: &str = "2026-11-20T00:00:00Z";
const DAY_TO: &str = "2026-11-21T00:00:00Z";

/// A process killed (SIGKILL) when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill9(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let candidates =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect::<Vec<_>>()).unwrap_or_default();
    let found = candidates.into_iter().chain(home.map(|h| h.join("bin/tansu"))).find(|p| p.is_file());
    assert!(found.is_some() || std::env::var_os("CI").is_none(), "tansu is required in CI (.ci/run installs it)");
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Tansu broker with memory storage on a free loopback port.
fn start_broker(bin: &Path, dir: &Path) -> (Proc, String) {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let log = dir.join("tansu.log");
    let child = Command::new(bin)
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
        .stdout(std::fs::File::create(dir.join("tansu.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start tansu");
    let broker = Proc { child, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}:\n{}", broker.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    (broker, format!("127.0.0.1:{port}"))
}

/// `vigil serve --role ROLE` with the cluster config, stderr to `<dir>/<name>.log`, data in
/// `<dir>/<role>-data`.
fn start_role(role: &str, name: &str, dir: &Path, config: &Path, now: &str) -> Proc {
    start_role_in(role, name, dir, &dir.join(format!("{role}-data")), config, now)
}

/// [`start_role`] with its own data directory.
fn start_role_in(role: &str, name: &str, dir: &Path, data: &Path, config: &Path, now: &str) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--role", role, "--enable", SEED, "--now", now, "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start vigil serve --role");
    Proc { child, log }
}

fn write_config(dir: &Path, brokers: &str, partitions: u32, extra: &str) -> PathBuf {
    let config = dir.join("vigil.toml");
    let text = format!(
        "[cluster]\nbrokers = \"{brokers}\"\npartitions = {partitions}\nfrom = \"{DAY_FROM}\"\nto = \"{DAY_TO}\"\ngrace_secs = 0\ncheckpoint_records = 5\n{extra}"
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// The reducer's result files, in tick order, concatenated.
fn cluster_results(reducer_data: &Path) -> (usize, String) {
    let mut files: Vec<(i64, PathBuf)> = std::fs::read_dir(reducer_data.join("results"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_string();
            Some((stem.rsplit_once('-')?.1.parse().ok()?, p))
        })
        .collect();
    files.sort();
    let text = files.iter().map(|(_, p)| std::fs::read_to_string(p).unwrap()).collect();
    (files.len(), text)
}

/// `vigil backtest` over samples/ for the day: result lines (no `missed` lines).
fn backtest_results() -> String {
    let out = common::vigil(&["backtest", "--from", DAY_FROM, "--to", DAY_TO, "--enable", SEED, "--format", "jsonl", "samples/"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::stdout(&out).lines().filter(|l| !l.contains(r#""kind":"missed""#)).map(|l| format!("{l}\n")).collect()
}

/// The seed's notables backtest raises for the day, without the fields that differ by design
/// (backtest stamps historical activity times; a live run stamps the run time, as ES does).
fn backtest_notables() -> Vec<String> {
    let out =
        common::vigil(&["backtest", "--from", DAY_FROM, "--to", DAY_TO, "--enable", SEED, "--alerts", "--format", "jsonl", "samples/"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let mut notables: Vec<String> = common::stdout(&out)
        .lines()
        .filter_map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["kind"] == "notable").then(|| {
                for k in ["run_time", "window_earliest", "window_latest", "_time"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v.to_string()
            })
        })
        .collect();
    notables.sort();
    notables
}

fn stored_notables(reducer_data: &Path) -> Vec<String> {
    let store = vigil_alert::RiskStore::open(&reducer_data.join("risk.db")).unwrap();
    let rule = [format!("ESCU - {SEED} - Rule")];
    let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
    comparable(store.notables(i64::MIN, i64::MAX, Some(&rule)).unwrap().into_iter().map(|n| n.json))
}

/// Stored notables as [`backtest_notables`] gives them: without `_time`, sorted.
fn comparable(notables: impl Iterator<Item = serde_json::Value>) -> Vec<String> {
    let mut got: Vec<String> = notables
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("_time");
            v.to_string()
        })
        .collect();
    got.sort();
    got
}

/// Waits until the reducer wrote `n` run files (24 hourly runs: the whole day).
fn wait_runs(reducer: &Proc, data: &Path, n: usize, secs: u64) {
    wait_until(&format!("{n} runs finished by the reducer"), secs, &reducer.log, || cluster_results(data).0 >= n);
}

fn samples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::repo().join("samples")).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|f| f.extension().is_some_and(|e| e == "xml" || e == "json"));
    files.sort();
    files
}

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
    let config = write_config(dir.path(), &brokers, 3, "");
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

    send_files(&ingest, &token, second);
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
    drop(ingest);
}

/// kafka-python (`VIGIL_TEST_PYTHON`), when importable; in CI its absence fails the test.
fn kafka_python() -> Option<PathBuf> {
    let python = std::env::var_os("VIGIL_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("python3"));
    let has_kafka = Command::new(&python).args(["-c", "import kafka"]).status().is_ok_and(|s| s.success());
    assert!(has_kafka || std::env::var_os("CI").is_none(), "kafka-python is required in CI (.ci/run installs it; VIGIL_TEST_PYTHON)");
    if !has_kafka {
        eprintln!("skipped: kafka-python not importable by {} (set VIGIL_TEST_PYTHON)", python.display());
    }
    has_kafka.then_some(python)
}

/// kafka-python writes every non-empty line of `files` (key = the file) into `vigil-events`
/// (created with `partitions` partitions unless it exists) stamped `at`; with `heartbeat`, one
/// record that is no event into every partition instead. Returns its stdout (records sent).
fn produce_with_kafka_python(python: &Path, brokers: &str, partitions: u32, at: &str, files: &[PathBuf], heartbeat: bool) -> String {
    let script = r#"
import sys
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
brokers, topic, partitions, ts, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
try:
    KafkaAdminClient(bootstrap_servers=brokers).create_topics([NewTopic(topic, partitions, 1)])
except TopicAlreadyExistsError:
    pass
p = KafkaProducer(bootstrap_servers=brokers, acks="all")
n = 0
if mode == "heartbeat":
    for part in range(partitions):
        p.send(topic, value=b"heartbeat", partition=part, timestamp_ms=ts)
        n += 1
for path in sys.argv[6:]:
    for line in open(path, "rb"):
        if line.strip():
            p.send(topic, key=path.encode(), value=line.rstrip(b"\r\n"), timestamp_ms=ts)
            p.flush()  # one record per batch: Tansu 0.6 skips the rest of a batch fetched from inside it
            n += 1
p.flush()
print(n)
"#;
    let ts_ms = (vigil_time::parse_iso8601_utc(at).unwrap() / 1000).to_string();
    let mode = if heartbeat { "heartbeat" } else { "lines" };
    let out = Command::new(python)
        .args(["-c", script, brokers, "vigil-events", &partitions.to_string(), &ts_ms, mode])
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "kafka-python producer failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A producer nobody here wrote: kafka-python writes the sample lines (key = file, timestamp =
/// 10:30 of the samples' day) into the events topic; a worker and a reducer give backtest's
/// results.
#[test]
fn kafka_python_producer_events_give_backtest_results() {
    let Some(bin) = tansu() else {
        eprintln!("skipped: tansu not found (cargo install tansu --locked --features dynostore)");
        return;
    };
    let Some(python) = kafka_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_broker, brokers) = start_broker(&bin, dir.path());
    let config = write_config(dir.path(), &brokers, 3, "");
    let out = produce_with_kafka_python(&python, &brokers, 3, "2026-11-20T10:30:00Z", &samples(), false);
    let produced: usize = out.trim().parse().unwrap();
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
fn a_dead_workers_partitions_resume_from_checkpoints_on_the_others() {
    let Some(bin) = tansu() else {
        eprintln!("skipped: tansu not found (cargo install tansu --locked --features dynostore)");
        return;
    };
    let Some(python) = kafka_python() else { return };
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
        data.iter().enumerate().map(|(i, d)| start_role_in("reducer", &format!("reducer{i}"), dir.path(), d, &config, now)).collect();
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
