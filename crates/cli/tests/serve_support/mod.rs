//! Helpers for the `vigil serve` end-to-end tests: start the real binary, talk to it with
//! curl, drive its test clock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether curl can be run; in CI (`CI` set) its absence fails the test instead.
pub fn have_curl() -> bool {
    let found = Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(found || std::env::var_os("CI").is_none(), "curl is required by the serve tests in CI");
    found
}

/// A running server and the port it listens on.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

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

/// Moves the server's test clock to `to` (ISO 8601); returns the server's answer (its runs).
pub fn advance(port: u16, token: &str, to: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "120", "-X", "POST", "-H", &format!("Authorization: Splunk {token}")])
        .arg(format!("http://127.0.0.1:{port}/vigil/clock?to={to}"))
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("clock answer: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// GETs `path` with the token; the body as JSON.
pub fn get_json(port: u16, path: &str, token: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30", "-H", &format!("Authorization: Splunk {token}")])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// SIGTERM, and the clean exit it must give.
pub fn stop(mut s: Server) {
    let term = Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().expect("kill");
    assert!(term.success());
    let status = s.child.wait().expect("wait");
    assert!(status.success(), "SIGTERM exit: {status:?}\n{}", std::fs::read_to_string(&s.log).unwrap_or_default());
}

/// The HEC token the server generated into its data directory.
pub fn token(data: &Path) -> String {
    std::fs::read_to_string(data.join("hec_token")).expect("hec_token").trim().to_string()
}

/// Sends the shipped samples: `/raw` for the XML lines, `/event` envelopes (no time) around
/// the JSON lines. Returns how many files were sent.
pub fn send_samples(port: u16, token: &str) -> usize {
    let samples = super::common::repo().join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut sent = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let answer = match f.extension().and_then(|e| e.to_str()) {
            Some("xml") => post(port, "/services/collector/raw?sourcetype=XmlWinEventLog", token, &[], &text),
            Some("json") => {
                let body: String = text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!(r#"{{"event":{l}}}"#)).collect();
                post(port, "/services/collector/event", token, &[], &body)
            }
            _ => continue,
        };
        assert_eq!(answer.unwrap(), (200, r#"{"text":"Success","code":0}"#.into()), "{}", f.display());
        sent += 1;
    }
    assert!(sent >= 4, "samples/ should hold XML and JSON samples");
    sent
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
