//! Helpers shared by the `vigil serve` end-to-end tests: start the real binary on a free port,
//! talk to it with curl, move its test clock, read its store back, and compare its notables
//! with `vigil backtest` over the same files.

#![allow(dead_code)]

use crate::common;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SEED: &str = "Windows MSIExec Remote Download";

pub fn have_curl() -> bool {
    Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A running server and the port it listens on.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    /// SIGTERM; the server must stop cleanly (exit 0).
    pub fn stop(mut self) {
        let term = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(term.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "SIGTERM exit: {status:?}\n{}", self.stderr());
    }

    /// SIGKILL, and wait for it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Starts `vigil serve` on a free loopback port with `data` as its data directory; its stderr
/// goes to `<data>.stderr<round>`.
pub fn start(data: &Path, extra: &[&str], round: usize) -> Server {
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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://127.0.0.1:").nth(1) {
            let port = rest.lines().next().unwrap().trim().parse().unwrap();
            return Server { child, port, log };
        }
        if Instant::now() > deadline || child.try_wait().is_ok_and(|s| s.is_some()) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The token the server generated into its data directory.
pub fn generated_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("hec_token")).unwrap().trim().to_string()
}

/// POSTs `body` with curl; returns (HTTP status, body), or None when the request failed.
pub fn post(port: u16, path: &str, token: &str, headers: &[&str], body: &str) -> Option<(u16, String)> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "-H", &format!("Authorization: Splunk {token}")]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.args(["--data-binary", body, &format!("http://127.0.0.1:{port}{path}")]);
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.trim().parse().ok().filter(|c| *c != 0)?, body.to_string()))
}

/// Moves the server's test clock to `to` (ISO 8601); returns its answer (`now`, `runs`).
pub fn advance_clock(port: u16, token: &str, to: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", "-H", &format!("Authorization: Splunk {token}")])
        .arg(format!("http://127.0.0.1:{port}/vigil/clock?to={to}"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("clock answer: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The one run of the seed's 11:00 tick in a clock answer; checks its window and that it
/// raised no error.
pub fn the_eleven_oclock_run(answer: &serde_json::Value) -> serde_json::Value {
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{answer}");
    let run = runs[0].clone();
    assert_eq!(run["scheduled_time"], "2026-11-20T11:00:00Z");
    assert_eq!(
        (run["window_earliest"].as_str(), run["window_latest"].as_str()),
        (Some("2026-11-20T09:50:00Z"), Some("2026-11-20T10:50:00Z"))
    );
    assert!(run.get("error").is_none(), "{run}");
    run
}

/// The seed's notables in the server's risk index (`data`) are exactly those `vigil backtest`
/// raises for the 11:00 tick over `inputs`, and the run record counts them and their risk
/// events. Returns how many notables.
pub fn seed_notables_match_backtest(data: &Path, inputs: &[&str], run: &serde_json::Value) -> usize {
    let mut args = vec!["backtest", "--from", "2026-11-20T11:00:00Z", "--to", "2026-11-20T11:00:01Z", "--enable", SEED];
    args.extend(["--alerts", "--format", "jsonl"]);
    args.extend(inputs);
    let bt = common::vigil(&args);
    assert!(bt.status.success(), "{}", common::stderr(&bt));
    let mut expected: Vec<String> = Vec::new();
    let mut expected_risk = 0;
    for line in common::stdout(&bt).lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["kind"].as_str() {
            Some("notable") => {
                // Backtest stamps alerts with the activity's time (historical files), the
                // server with the run time, as ES does; everything else must agree.
                for k in ["run_time", "window_earliest", "window_latest", "_time"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                expected.push(v.to_string());
            }
            Some("risk") => expected_risk += 1,
            _ => {}
        }
    }
    assert!(!expected.is_empty(), "the seed raises notables over {inputs:?}");
    let store = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    // The seed's notables; the risk incident rules ran after the run and may add their own.
    let rule = ["ESCU - Windows MSIExec Remote Download - Rule"];
    let mut got: Vec<String> = store
        .notables(i64::MIN, i64::MAX, Some(&rule))
        .unwrap()
        .into_iter()
        .map(|n| {
            let mut v = n.json;
            assert_eq!(v["_time"], 1795172400, "the server stamps notables with the run time (11:00)");
            v.as_object_mut().unwrap().remove("_time");
            v.to_string()
        })
        .collect();
    got.sort();
    expected.sort();
    if got != expected {
        let diff: Vec<String> =
            got.iter().zip(&expected).filter(|(g, e)| g != e).map(|(g, e)| format!("server:   {g}\nbacktest: {e}")).take(1).collect();
        panic!("{} notables from the server, {} from backtest; first difference:\n{}", got.len(), expected.len(), diff.join("\n"));
    }
    assert_eq!(run["notables"].as_u64(), Some(expected.len() as u64));
    assert_eq!(run["risk_events"].as_u64(), Some(expected_risk));
    expected.len()
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
pub fn stored_ids(data: &Path) -> (HashMap<u64, usize>, usize) {
    let root = vigil_serve::store_dir(data);
    let mut ids = HashMap::new();
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
