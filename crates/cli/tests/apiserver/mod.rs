//! A `vigil serve` for the API tests: started on a free port with a test clock, users added
//! with `vigil user add`, the seed samples sent over HEC, requests made with curl.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SEED: &str = "Windows MSIExec Remote Download";

pub struct Served {
    pub child: Child,
    pub port: u16,
    pub data: PathBuf,
    pub log: PathBuf,
    pub hec_token: String,
    /// What followed the listen address and data directory (a restart passes them again).
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn have_curl() -> bool {
    Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Runs `vigil user add NAME --role ROLE` with the password on stdin.
pub fn add_user(data: &Path, name: &str, role: &str, password: &str) {
    add_user_with(data, &[], name, role, password);
}

/// [`add_user`] with more arguments (`--config FILE`: with `[alerts] postgres`, the users go
/// into that database).
pub fn add_user_with(data: &Path, extra: &[String], name: &str, role: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["user", "add", name, "--role", role, "--data-dir"])
        .arg(data)
        .args(extra)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vigil user add");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A server at the seed samples' day with the seed enabled, and users `admin` (admin) and
/// `analyst` (analyst), passwords `<name>-password`.
pub fn start() -> Served {
    start_with(&["--now", "2026-11-20T10:00:00Z", "--enable", SEED])
}

/// `vigil serve` with `args` (after its listen address and data directory), and the users of
/// [`start`], added with the server's `--config` if it has one; the HEC token is empty when the
/// server generated none (`--role api`).
pub fn start_with(args: &[&str]) -> Served {
    start_adding_users(args, true)
}

/// [`start_with`], adding the users or not (a second process on the PostgreSQL database of
/// `[alerts] postgres` finds them there).
pub fn start_adding_users(args: &[&str], add_users: bool) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if add_users {
        let config: Vec<String> = args.windows(2).find(|w| w[0] == "--config").map(|w| w.to_vec()).unwrap_or_default();
        add_user_with(&data, &config, "admin", "admin", "admin-password");
        add_user_with(&data, &config, "analyst", "analyst", "analyst-password");
    }
    let log = dir.path().join("server.log");
    let (child, port) = launch(&data, &log, &args);
    let mut s = Served { child, port, data: data.clone(), log, hec_token: String::new(), args, _dir: dir };
    s.hec_token = std::fs::read_to_string(data.join("hec_token")).unwrap_or_default().trim().to_string();
    s
}

/// `vigil serve` over `data` with `args`, logging to `log`; its port once it listens.
fn launch(data: &Path, log: &Path, args: &[String]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start vigil serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        // Only a whole line: the log may be read while the server is still writing it.
        let whole = text.split("listening on http://127.0.0.1:").nth(1).and_then(|rest| rest.split_once('\n'));
        if let Some(port) = whole.and_then(|(line, _)| line.trim().parse().ok()) {
            return (child, port);
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Served {
    /// Stops the server and starts it again over the same data directory (a new log file).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log = self.log.with_file_name("server-restarted.log");
        (self.child, self.port) = launch(&self.data, &self.log, &self.args);
    }

    /// Logs in with a cookie jar (curl's `-c`); returns the CSRF token.
    pub fn login(&self, jar: &str, user: &str, password: &str) -> String {
        let body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
        let (code, v) = self.json(&["-c", jar, "-H", "Content-Type: application/json", "-d", &body], "/api/v1/auth/login");
        assert_eq!(code, 200, "{v}");
        v["csrf_token"].as_str().unwrap().to_string()
    }

    /// What the server wrote to stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// curl with `args` then the URL; returns (status, body).
    pub fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "60", "-w", "\n%{http_code}"])
            .args(args)
            .arg(self.url(path))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// A JSON answer with its status.
    pub fn json(&self, args: &[&str], path: &str) -> (u16, serde_json::Value) {
        let (code, body) = self.curl(args, path);
        (code, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}")))
    }

    /// The shipped samples over HEC (`/raw` for XML lines, `/event` envelopes around JSON lines).
    pub fn send_samples(&self) {
        let hec = format!("Authorization: Splunk {}", self.hec_token);
        let samples = crate::common::repo().join("samples");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let (path, body) = match f.extension().and_then(|e| e.to_str()) {
                Some("xml") => ("/services/collector/raw?sourcetype=XmlWinEventLog", text),
                Some("json") => (
                    "/services/collector/event",
                    text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!(r#"{{"event":{l}}}"#)).collect(),
                ),
                _ => continue,
            };
            let (code, answer) = self.curl(&["-H", &hec, "--data-binary", &body], path);
            assert_eq!((code, answer.as_str()), (200, r#"{"text":"Success","code":0}"#), "{}", f.display());
        }
    }

    /// Moves the test clock (runs the ticks it passes).
    pub fn clock_to(&self, to: &str) -> serde_json::Value {
        let hec = format!("Authorization: Splunk {}", self.hec_token);
        let (code, v) = self.json(&["-X", "POST", "-H", &hec], &format!("/vigil/clock?to={to}"));
        assert_eq!(code, 200, "{v}");
        v
    }
}

/// A Python with `module` importable: `$VIGIL_PYTHON` (set by .ci/run to its venv), else
/// `python3`. Missing in CI (`CI` set) is a failure; elsewhere the caller skips and says so.
pub fn python_with(module: &str) -> Option<PathBuf> {
    let python = std::env::var_os("VIGIL_PYTHON").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&python).args(["-c", &format!("import {module}")]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(!ci, "CI: {} cannot import {module}; .ci/run installs it (VIGIL_PYTHON)", python.display());
    eprintln!("skipped: {} cannot import {module} (.ci/run installs it into a venv and sets VIGIL_PYTHON)", python.display());
    None
}
