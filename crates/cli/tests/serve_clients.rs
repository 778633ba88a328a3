//! Real HEC clients nobody here wrote send the seed's true positives to `vigil serve`: Splunk's
//! Node.js logger (npm `splunk-logging`, crates/cli/tests/node) and a Python logging handler
//! from PyPI (`splunk-hec-handler`, crates/cli/tests/python). The test clock is moved past the
//! seed's next tick, and the seed's notables must be the ones `vigil backtest` raises over
//! the same events. `.ci/run` installs both clients; in CI a missing one fails the test.

mod apiserver;
mod common;
mod serve_support;

use serve_support::{assert_same_notables, backtest_seed_tick, generated_token, start, stored_seed_notables, SEED};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One of the seed's true positives in samples/: its line, the file's kind, its time.
struct Positive {
    line: String,
    xml: bool,
    /// Epoch seconds, as the readers find it in the event.
    time: f64,
}

/// The seed's true positives in samples/ (README.md there: scenarios 1 and 2, every format):
/// msiexec with Atomic Red Team's `/q /i "https://..."` or `/i http://...` (Cisco NVM keeps the
/// arguments apart from the process name, hence two tests).
fn true_positives() -> Vec<Positive> {
    let samples = common::repo().join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let xml = match f.extension().and_then(|e| e.to_str()) {
            Some("xml") => true,
            Some("json") => false,
            _ => continue,
        };
        vigil_read::read_file(&f, &vigil_read::ReadOptions::default(), &mut |ev| {
            let tp = ev.raw.to_lowercase().contains("msiexec") && (ev.raw.contains("/q /i") || ev.raw.contains("/i http://"));
            if tp && ev.derived_from.is_none() {
                let time = ev.time.expect("sample events have a time") as f64 / 1e6;
                out.push(Positive { line: ev.raw.trim().to_string(), xml, time });
            }
        });
    }
    out
}

/// The events file the client scripts read: XML lines as strings with their sourcetype,
/// JSON lines as objects (their sourcetype derived by the server, as for files).
fn write_events(path: &Path, positives: &[&Positive]) {
    let events: Vec<serde_json::Value> = positives
        .iter()
        .map(|p| match p.xml {
            true => serde_json::json!({"time": p.time, "sourcetype": "XmlWinEventLog", "event": p.line}),
            false => serde_json::json!({"time": p.time, "sourcetype": null, "event": serde_json::from_str::<serde_json::Value>(&p.line).unwrap()}),
        })
        .collect();
    std::fs::write(path, serde_json::to_string(&events).unwrap()).unwrap();
}

/// The same events as files backtest reads (`.xml` / `.json` lines).
fn write_files(dir: &Path, positives: &[&Positive]) -> Vec<String> {
    let mut out = Vec::new();
    for (xml, name) in [(true, "tp.xml"), (false, "tp.json")] {
        let lines: String = positives.iter().filter(|p| p.xml == xml).map(|p| format!("{}\n", p.line)).collect();
        if !lines.is_empty() {
            std::fs::write(dir.join(name), lines).unwrap();
            out.push(dir.join(name).to_string_lossy().into_owned());
        }
    }
    out
}

/// Starts a server at 10:00 with the seed enabled, lets `send` deliver `positives` with a
/// client, moves the clock to the 11:00 tick, and compares the seed's notables with backtest's.
fn client_raises_the_seed_notable(positives: &[&Positive], send: &dyn Fn(u16, &str, &Path) -> std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let events = dir.path().join("events.json");
    write_events(&events, positives);
    let s = start(&data, &["--now", "2026-11-20T10:00:00Z", "--enable", SEED], 0);
    let token = generated_token(&data);
    let out = send(s.port, &token, &events);
    assert!(out.status.success(), "client failed:\n{}\n{}\n{}", common::stdout(&out), common::stderr(&out), s.log_text());
    assert!(common::stdout(&out).contains(&format!("sent {} event(s)", positives.len())), "{}", common::stdout(&out));
    let answer = s.advance(&token, "2026-11-20T11:00:00Z");
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{answer}");
    assert!(runs[0].get("error").is_none(), "{answer}");
    let raised = runs[0]["notables"].as_u64().unwrap();
    let log = s.log.clone();
    assert!(s.stop().success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());

    let inputs = write_files(dir.path(), positives);
    let (expected, _) = backtest_seed_tick(&inputs.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!expected.is_empty(), "the seed raises notables over its true positives");
    assert_eq!(raised, expected.len() as u64, "{answer}");
    assert_same_notables(&stored_seed_notables(&data, 1795172400), &expected);
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

#[test]
fn splunk_logging_for_node_sends_the_seed_true_positives_and_the_notable_is_raised() {
    let client = common::repo().join("crates/cli/tests/node");
    let node_ok = Command::new("node").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    let installed = client.join("node_modules/splunk-logging/package.json").is_file();
    if !(node_ok && installed) {
        let why = format!(
            "node {}, {}/node_modules/splunk-logging {}",
            if node_ok { "found" } else { "missing" },
            client.display(),
            if installed { "installed" } else { "missing (npm ci there)" }
        );
        assert!(!in_ci(), "CI: the Node.js client cannot run: {why}; .ci/run installs it");
        eprintln!("skipped: {why}");
        return;
    }
    let positives = true_positives();
    assert_eq!(positives.len(), 8, "samples/README.md lists 8 true positives of the seed");
    // Every true positive: XML lines as strings, JSON lines as objects.
    let all: Vec<&Positive> = positives.iter().collect();
    client_raises_the_seed_notable(&all, &|port, token, events| {
        Command::new("node")
            .arg(client.join("send.js"))
            .args([&format!("http://127.0.0.1:{port}"), token])
            .arg(events)
            .output()
            .expect("run node")
    });
}

#[test]
fn splunk_hec_handler_for_python_sends_the_seed_true_positives_and_the_notable_is_raised() {
    let Some(python) = apiserver::python_with("splunk_hec_handler") else { return };
    let positives = true_positives();
    // The handler sends dict records (a string becomes {"message": ...}): the JSON lines.
    let json: Vec<&Positive> = positives.iter().filter(|p| !p.xml).collect();
    assert_eq!(json.len(), 4, "samples/README.md lists 4 true positives in JSON lines");
    let script = common::repo().join("crates/cli/tests/python/hec_handler_send.py");
    client_raises_the_seed_notable(&json, &|port, token, events| {
        Command::new(&python).arg(&script).args([&port.to_string(), token]).arg(events).output().expect("run python")
    });
}
