//! Running `vigil serve` in end-to-end tests: start on a free loopback port, talk to it with
//! curl (plain or HTTPS), stop it with SIGTERM.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Whether curl(1) is there; in CI (`CI` set) its absence fails the test instead of skipping.
pub fn have_curl() -> bool {
    let found = Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(found || std::env::var_os("CI").is_none(), "curl(1) is required in CI (.ci/run installs it)");
    found
}

/// A running server (its process and stderr log); derefs to a [`Client`] of it.
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
    pub client: Client,
}

/// Requests to a server by port, plain or HTTPS trusting `cacert`; cheap to clone into threads.
#[derive(Clone, Debug)]
pub struct Client {
    pub port: u16,
    pub cacert: Option<PathBuf>,
}

impl std::ops::Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Starts `vigil serve` on 127.0.0.1:0 over `data`; stderr goes to `<data>.stderr<round>`.
pub fn start(data: &Path, extra: &[&str], round: usize) -> Server {
    start_with_ca(data, extra, round, None)
}

/// As [`start`], for a server with `[tls]` whose certificate `cacert` signs.
pub fn start_with_ca(data: &Path, extra: &[&str], round: usize, cacert: Option<&Path>) -> Server {
    let log = data.with_extension(format!("stderr{round}"));
    let err = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("start vigil serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let found = ["listening on http://127.0.0.1:", "listening on https://127.0.0.1:"].iter().find_map(|m| text.split(m).nth(1));
        // Only a whole line: the log may be read while the server is still writing it.
        if let Some(port) = found.and_then(|rest| rest.split_once('\n')).and_then(|(line, _)| line.trim().parse().ok()) {
            return Server { child, log, client: Client { port, cacert: cacert.map(Path::to_path_buf) } };
        }
        if Instant::now() > deadline || child.try_wait().is_ok_and(|s| s.is_some()) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Client {
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.cacert.is_some() { "https" } else { "http" };
        // The test certificates name `localhost`; it resolves to the loopback address we bound.
        let host = if self.cacert.is_some() { "localhost" } else { "127.0.0.1" };
        format!("{scheme}://{host}:{}{path}", self.port)
    }

    /// curl against this server: (HTTP status, body), None when the request failed.
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, headers: &[&str], body: Option<&str>) -> Option<(u16, String)> {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "--max-time", "60", "-X", method, "-w", "\n%{http_code}"]);
        if let Some(ca) = &self.cacert {
            cmd.arg("--cacert").arg(ca);
        }
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Splunk {t}")]);
        }
        for h in headers {
            cmd.args(["-H", h]);
        }
        if let Some(b) = body {
            cmd.args(["--data-binary", b]);
        }
        let out = cmd.arg(self.url(path)).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n')?;
        Some((code.trim().parse().ok().filter(|c| *c != 0)?, body.to_string()))
    }

    pub fn post(&self, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
        self.request("POST", path, Some(token), &[], Some(body))
    }

    /// Moves the test clock to `to`; the answer lists the runs.
    pub fn advance(&self, token: &str, to: &str) -> serde_json::Value {
        let (code, body) = self.request("POST", &format!("/vigil/clock?to={to}"), Some(token), &[], None).expect("clock request");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Server {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status().unwrap().success());
    }

    /// SIGKILL and wait.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        self.child.wait().unwrap()
    }
}

/// The token the server generated into its data directory.
pub fn generated_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("hec_token")).unwrap().trim().to_string()
}

/// Waits up to `secs` for `ok`; panics with `what` (and the log) when it never holds.
pub fn wait_until(what: &str, secs: u64, log: &Path, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends the shipped samples: `/raw` for XML lines, `/event` envelopes around JSON lines.
pub fn send_samples(s: &Client, token: &str) -> usize {
    let samples = super::common::repo().join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let sent = send_files(s, token, &files);
    assert!(sent >= 4, "samples/ should hold XML and JSON samples");
    sent
}

/// Sends these files as [`send_samples`] does (other extensions are left out); returns how
/// many were sent.
pub fn send_files(s: &Client, token: &str, files: &[PathBuf]) -> usize {
    let mut sent = 0;
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let answer = match f.extension().and_then(|e| e.to_str()) {
            Some("xml") => s.post("/services/collector/raw?sourcetype=XmlWinEventLog", token, &text),
            Some("json") => {
                let body: String = text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!(r#"{{"event":{l}}}"#)).collect();
                s.post("/services/collector/event", token, &body)
            }
            _ => continue,
        };
        assert_eq!(answer.unwrap(), (200, r#"{"text":"Success","code":0}"#.into()), "{}", f.display());
        sent += 1;
    }
    sent
}

/// Metric samples of a Prometheus text scrape: `name{labels}` -> value. Panics on a line
/// that is not a comment or `series value`.
pub fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        out.insert(series.to_string(), v);
    }
    out
}

/// The stored events' metadata lines (`events.meta`) of a server's data directory. Tests
/// that read them keep segments unsealed (`[store] seal_idle_secs` large).
pub fn stored_meta(data: &Path) -> Vec<serde_json::Value> {
    store_lines(data, "events.meta").iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Stored event texts, in the same order as [`stored_meta`].
pub fn stored_texts(data: &Path) -> Vec<String> {
    store_lines(data, "events.log")
}

fn store_lines(data: &Path, file: &str) -> Vec<String> {
    let root = vigil_serve::store_dir(data);
    let mut out = Vec::new();
    for seg in vigil_serve::store::segments(&root, vigil_time::Window::ALL).unwrap() {
        assert!(seg.extension().is_some_and(|e| e == "log"), "{}: sealed; set seal_idle_secs higher", seg.display());
        out.extend(std::fs::read_to_string(seg.with_file_name(file)).unwrap().lines().map(str::to_string));
    }
    out
}

/// SIGTERM, and the clean exit it must give.
pub fn stop(s: Server) {
    let log = s.log.clone();
    let status = s.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
}

/// GETs `path` with the token; the body as JSON.
pub fn get_json(port: u16, path: &str, token: &str) -> serde_json::Value {
    let (_, body) = Client { port, cacert: None }.request("GET", path, Some(token), &[], None).expect("GET request");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Every event in a server's store, read back through the readers (metadata applied), and
/// how many records could not be read (a torn tail while the server writes).
pub fn stored_events(data: &Path) -> (Vec<vigil_model::Event>, u64) {
    let mut out = Vec::new();
    let mut bad = 0;
    for seg in vigil_serve::store::segments(&vigil_serve::store_dir(data), vigil_time::Window::ALL).unwrap() {
        let report = vigil_read::read_file(&seg, &vigil_read::ReadOptions::default(), &mut |ev| out.push(ev.clone()));
        bad += report.skipped_total() + report.repaired_total();
    }
    (out, bad)
}

/// A scratch directory with `data/` (the server's data directory, not created) and
/// `vigil.toml` holding `config`; returns (dir, data, config path as text).
pub fn scratch(config: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = dir.path().join("vigil.toml");
    std::fs::write(&path, config).unwrap();
    let text = path.to_string_lossy().into_owned();
    (dir, data, text)
}

/// Events in a store file, read through the readers (`.zst` and plain alike).
pub fn read_events(path: &Path, each: &mut dyn FnMut(&vigil_model::Event)) -> usize {
    let mut n = 0;
    let report = vigil_read::read_file(path, &vigil_read::ReadOptions::default(), &mut |ev| {
        n += 1;
        each(ev)
    });
    assert_eq!(report.skipped_total(), 0, "{}: unreadable records", path.display());
    n
}

/// `test_id` of every event in the store, read through the readers, with how often each is
/// there; also how many segments were sealed (zstd).
pub fn stored_ids(data: &Path) -> (std::collections::HashMap<u64, usize>, usize) {
    let root = vigil_serve::store_dir(data);
    let mut ids = std::collections::HashMap::new();
    let mut sealed = 0;
    for seg in vigil_serve::store::segments(&root, vigil_time::Window::ALL).unwrap() {
        let name = seg.file_name().unwrap().to_string_lossy().to_string();
        sealed += usize::from(name.ends_with(".zst"));
        let meta = seg.with_file_name(name.replace(".log", ".meta"));
        let events = read_events(&seg, &mut |ev| {
            let id: u64 = ev.get("test_id").expect("test_id").parse().unwrap();
            *ids.entry(id).or_insert(0) += 1;
        });
        assert_eq!(events, read_events(&meta, &mut |_| {}), "{}: text and metadata lines differ", seg.display());
    }
    (ids, sealed)
}

/// One HTTP/1.1 request on a new loopback connection (`Connection: close`), without curl:
/// (status, body), or None when the connection failed or no complete answer came in 10 s.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    // A server may answer (413, 503) before reading the body and close: read what it said.
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let (_, body) = text.split_once("\r\n\r\n")?;
    Some((status, body.to_string()))
}

/// The seed detection the serve tests run.
pub const SEED: &str = "Windows MSIExec Remote Download";

/// The seed's notables and risk events `vigil backtest` raises at the 11:00 tick of
/// 2026-11-20 over `inputs`: notables as sorted JSON texts without the fields that differ
/// between backtest and the server (times: backtest stamps the activity's, the server the
/// run's, as ES does), and how many risk events.
pub fn backtest_seed_tick(inputs: &[&str]) -> (Vec<String>, usize) {
    let mut args = vec![
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
    ];
    args.extend_from_slice(inputs);
    let bt = super::common::vigil(&args);
    assert!(bt.status.success(), "{}", super::common::stderr(&bt));
    let (mut notables, mut risk) = (Vec::new(), 0);
    for line in super::common::stdout(&bt).lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["kind"].as_str() {
            Some("notable") => {
                for k in ["run_time", "window_earliest", "window_latest", "_time"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                notables.push(v.to_string());
            }
            Some("risk") => risk += 1,
            _ => {}
        }
    }
    notables.sort();
    (notables, risk)
}

/// The seed's notables in a server's risk index as sorted JSON texts, `_time` removed after
/// checking it is `run_time` (epoch seconds). The risk incident rules may add notables of
/// their own; these are left out.
pub fn stored_seed_notables(data: &Path, run_time: i64) -> Vec<String> {
    let store = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let rule = format!("ESCU - {SEED} - Rule");
    let mut got: Vec<String> = store
        .notables(i64::MIN, i64::MAX, Some(&[rule.as_str()]))
        .unwrap()
        .into_iter()
        .map(|n| {
            let mut v = n.json;
            assert_eq!(v["_time"], run_time, "the server stamps notables with the run time");
            v.as_object_mut().unwrap().remove("_time");
            v.to_string()
        })
        .collect();
    got.sort();
    got
}

/// Panics with the first difference unless the server's notables are backtest's.
pub fn assert_same_notables(server: &[String], backtest: &[String]) {
    if server != backtest {
        let diff: Vec<String> =
            server.iter().zip(backtest).filter(|(g, e)| g != e).map(|(g, e)| format!("server:   {g}\nbacktest: {e}")).take(1).collect();
        panic!("{} notables from the server, {} from backtest; first difference:\n{}", server.len(), backtest.len(), diff.join("\n"));
    }
}

/// A Correlation detection over the Risk data model (a content layer's
/// `detections/test_host_risk_correlation.yml`): systems with risk from at least one detection,
/// its window reaching past its tick (it sees the risk events of its own tick).
pub const CORRELATION: &str = r#"name: Test Host Risk Correlation
id: 5f0f9d3c-6a51-4a8e-9a57-2f1d5b0c0c01
version: 1
date: '2026-12-05'
author: Vigil tests
status: production
type: Correlation
description: Systems with risk from at least one detection.
data_source: []
search: '| tstats `security_content_summariesonly` min(_time) as firstTime max(_time) as lastTime sum(All_Risk.calculated_risk_score) as risk_score count as risk_event_count values(source) as source dc(source) as source_count from datamodel=Risk.All_Risk where All_Risk.risk_object_type="system" by All_Risk.risk_object All_Risk.risk_object_type | `drop_dm_object_name(All_Risk)` | where source_count >= 1 | `test_host_risk_correlation_filter`'
deployment:
  scheduling:
    cron_schedule: 0 * * * *
    earliest_time: -70m@m
    latest_time: +1m@m
  alert_action:
    notable:
      rule_title: Risk on $risk_object$
      rule_description: '%description%'
      nes_fields:
      - risk_object
tags:
  analytic_story:
  - Vigil Tests
  asset_type: Endpoint
  mitre_attack_id:
  - T1105
  product:
  - Splunk Enterprise
  security_domain: endpoint
"#;

/// A content layer under `dir` holding [`CORRELATION`]; its path.
pub fn correlation_layer(dir: &Path) -> PathBuf {
    let layer = dir.join("content");
    std::fs::create_dir_all(layer.join("detections")).unwrap();
    std::fs::write(layer.join("detections/test_host_risk_correlation.yml"), CORRELATION).unwrap();
    layer
}
