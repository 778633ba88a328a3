//! Cluster mode in end-to-end tests: a Tansu broker on a free loopback port, `vigil serve
//! --role` processes killed with SIGKILL, kafka-python as the producer nobody here wrote, and
//! the results and notables compared with `vigil backtest`.
#![allow(dead_code)] // each test file uses part of it

use super::common;
use super::serve_support::wait_until;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SEED: &str = "Windows MSIExec Remote Download";
pub const DAY_FROM: &str = "2026-11-20T00:00:00Z";
pub const DAY_TO: &str = "2026-11-21T00:00:00Z";

/// A process killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(mut self) {
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

pub fn tansu() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let candidates =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect::<Vec<_>>()).unwrap_or_default();
    let found = candidates.into_iter().chain(home.map(|h| h.join("bin/tansu"))).find(|p| p.is_file());
    assert!(found.is_some() || std::env::var_os("CI").is_none(), "tansu is required in CI (.ci/run installs it)");
    found
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Tansu broker with memory storage on a free loopback port.
pub fn start_broker(bin: &Path, dir: &Path) -> (Proc, String) {
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

/// `vigil serve --role ROLE` with the cluster config, stderr to `<dir>/<name>.log`.
pub fn start_role(role: &str, name: &str, dir: &Path, config: &Path, now: &str) -> Proc {
    start_role_with(role, name, dir, config, now, &[])
}

/// [`start_role`] with more arguments (e.g. `--listen`).
pub fn start_role_with(role: &str, name: &str, dir: &Path, config: &Path, now: &str, extra: &[&str]) -> Proc {
    start_role_in(role, name, dir, &dir.join(format!("{role}-data")), config, now, extra)
}

/// [`start_role_with`] with its own data directory.
pub fn start_role_in(role: &str, name: &str, dir: &Path, data: &Path, config: &Path, now: &str, extra: &[&str]) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--role", role, "--enable", SEED, "--now", now])
        .args(extra)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start vigil serve --role");
    Proc { child, log }
}

pub fn write_config(dir: &Path, brokers: &str, partitions: u32, extra: &str) -> PathBuf {
    write_config_for((DAY_FROM, DAY_TO), dir, brokers, partitions, extra)
}

/// The cluster config for the ticks of `day` (from, to). Tansu 0.6 cannot fetch from inside
/// a record batch: resumed partitions are read again from their start (see the cluster config).
pub fn write_config_for(day: (&str, &str), dir: &Path, brokers: &str, partitions: u32, extra: &str) -> PathBuf {
    let config = dir.join("vigil.toml");
    let (from, to) = day;
    let text = format!(
        "[cluster]\nbrokers = \"{brokers}\"\npartitions = {partitions}\nfrom = \"{from}\"\nto = \"{to}\"\ngrace_secs = 0\ncheckpoint_records = 5\nresume_from_partition_start = true\n{extra}"
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// The reducer's result files, in tick order, concatenated.
pub fn cluster_results(reducer_data: &Path) -> (usize, String) {
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
pub fn backtest_results() -> String {
    backtest_results_of((DAY_FROM, DAY_TO), "samples/")
}

/// `vigil backtest` over `input` for the ticks of `day`: result lines (no `missed` lines).
pub fn backtest_results_of(day: (&str, &str), input: &str) -> String {
    backtest_results_with(day, input, &[])
}

/// [`backtest_results_of`] with more arguments (e.g. `--sigma DIR`).
pub fn backtest_results_with(day: (&str, &str), input: &str, extra: &[&str]) -> String {
    let mut args = vec!["backtest", "--from", day.0, "--to", day.1, "--enable", SEED, "--format", "jsonl"];
    args.extend(extra);
    args.push(input);
    let out = common::vigil(&args);
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::stdout(&out).lines().filter(|l| !l.contains(r#""kind":"missed""#)).map(|l| format!("{l}\n")).collect()
}

/// The seed's notables backtest raises for the day, without the fields that differ by design
/// (backtest stamps historical activity times; a live run stamps the run time, as ES does).
pub fn backtest_notables() -> Vec<String> {
    backtest_notables_of((DAY_FROM, DAY_TO), "samples/")
}

/// [`backtest_notables`] over `input` for the ticks of `day`.
pub fn backtest_notables_of(day: (&str, &str), input: &str) -> Vec<String> {
    let out = common::vigil(&["backtest", "--from", day.0, "--to", day.1, "--enable", SEED, "--alerts", "--format", "jsonl", input]);
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

pub fn stored_notables(reducer_data: &Path) -> Vec<String> {
    let store = vigil_alert::RiskStore::open(&reducer_data.join("risk.db")).unwrap();
    let rule = [format!("ESCU - {SEED} - Rule")];
    let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
    comparable(store.notables(i64::MIN, i64::MAX, Some(&rule)).unwrap().into_iter().map(|n| n.json))
}

/// Stored notables as [`backtest_notables`] gives them: without `_time`, sorted.
pub fn comparable(notables: impl Iterator<Item = serde_json::Value>) -> Vec<String> {
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
pub fn wait_runs(reducer: &Proc, data: &Path, n: usize, secs: u64) {
    wait_until(&format!("{n} runs finished by the reducer"), secs, &reducer.log, || cluster_results(data).0 >= n);
}

pub fn samples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::repo().join("samples")).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|f| f.extension().is_some_and(|e| e == "xml" || e == "json"));
    files.sort();
    files
}

/// Tansu and kafka-python, when both are there (else the test says it skipped; in CI it fails).
pub fn broker_and_python() -> Option<(PathBuf, PathBuf)> {
    let Some(bin) = tansu() else {
        eprintln!("skipped: tansu not found (cargo install tansu --locked --features dynostore)");
        return None;
    };
    Some((bin, kafka_python()?))
}

/// kafka-python (`VIGIL_TEST_PYTHON`), when importable; in CI its absence fails the test.
pub fn kafka_python() -> Option<PathBuf> {
    let python = std::env::var_os("VIGIL_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("python3"));
    let has_kafka = Command::new(&python).args(["-c", "import kafka"]).status().is_ok_and(|s| s.success());
    assert!(has_kafka || std::env::var_os("CI").is_none(), "kafka-python is required in CI (.ci/run installs it; VIGIL_TEST_PYTHON)");
    if !has_kafka {
        eprintln!("skipped: kafka-python not importable by {} (set VIGIL_TEST_PYTHON)", python.display());
    }
    has_kafka.then_some(python)
}

/// Runs bench/kafka_produce.py (kafka-python) with `args` after the brokers, the events topic
/// and its partitions; returns the number of records it sent.
fn kafka_produce(python: &Path, brokers: &str, partitions: u32, args: &[&str]) -> usize {
    let out = Command::new(python)
        .arg(common::repo().join("bench/kafka_produce.py"))
        .args([brokers, "vigil-events", &partitions.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "kafka-python producer failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// kafka-python writes every non-empty line of `files` (key = the file) into `vigil-events`
/// (created with `partitions` partitions unless it exists) stamped `at`; with `heartbeat`, one
/// record that is no event into every partition instead. Returns the records sent.
pub fn produce_with_kafka_python(python: &Path, brokers: &str, partitions: u32, at: &str, files: &[PathBuf], heartbeat: bool) -> usize {
    let ts_ms = (vigil_time::parse_iso8601_utc(at).unwrap() / 1000).to_string();
    let mut args = vec![if heartbeat { "heartbeat" } else { "lines" }, ts_ms.as_str()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    kafka_produce(python, brokers, partitions, &args)
}

/// kafka-python writes events `from..to` of an XmlWinEventLog `file` into `vigil-events`,
/// each keyed by its host and stamped with its own time (see bench/kafka_produce.py).
pub fn produce_xml_events(python: &Path, brokers: &str, partitions: u32, file: &Path, from: usize, to: usize) -> usize {
    kafka_produce(python, brokers, partitions, &["xml", file.to_str().unwrap(), &from.to_string(), &to.to_string()])
}

/// The benchgen binary of this workspace, built when missing (the tests of this package do not
/// build the generator's package).
pub fn benchgen() -> PathBuf {
    let bin_dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let bin = bin_dir.join("benchgen");
    let out = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "vigil-benchgen", "--bin", "benchgen"])
        .current_dir(common::repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo build benchgen:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(bin.is_file(), "{} not built", bin.display());
    bin
}

/// GET `path` from 127.0.0.1:`port` (plain HTTP/1.0), the body.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.lines().next()?.contains(" 200 ").then(|| body.to_string())
}

/// A metric's value in a Prometheus text scrape (the line `name value`, labels included in `name`).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' '))).and_then(|v| v.trim().parse().ok())
}

/// Waits (polling every 50 ms, at most `secs`) until `ok`; on timeout fails with every
/// process's log.
pub fn wait_for(what: &str, secs: u64, procs: &[&Proc], mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        if Instant::now() > deadline {
            let logs: String = procs.iter().map(|p| format!("{}:\n{}\n", p.log.display(), p.log_text())).collect();
            panic!("timed out waiting for {what}\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Returns once `session_ms` (and a second) passed since `since`: a time condition (a dead
/// member's session running out), not a guess at how long something takes.
pub fn after_session(since: Instant, session_ms: u64) {
    let until = since + Duration::from_millis(session_ms + 1000);
    if let Some(left) = until.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}
