//! Splunk's search REST API for existing scripts: curl as Splunk's docs write it, and the
//! official Splunk Python SDK (PyPI `splunk-sdk`), against a server holding the seed samples.

mod apiserver;
mod common;

use apiserver::{have_curl, python_with, start};
use serde_json::Value;
use std::process::Command;

const SEARCH: &str = "search `sysmon` EventCode=1 | stats count by host, process_name | sort host, process_name";
const EARLIEST: &str = "2026-11-20T00:00:00Z";
const LATEST: &str = "2026-11-21T00:00:00Z";

/// The same search over the sample files with `vigil search`: rows with string values.
fn expected_rows() -> Vec<Value> {
    let out = common::vigil(&["search", "--earliest", EARLIEST, "--latest", LATEST, "--format", "jsonl", SEARCH, "samples/"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let rows: Vec<Value> = common::stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let row: serde_json::Map<String, Value> = v["result"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))))
                .collect();
            Value::Object(row)
        })
        .collect();
    assert!(rows.len() >= 2, "the samples have msiexec and other processes");
    rows
}

#[test]
fn curl_export_as_splunk_docs_write_it() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let s = start();
    s.send_samples();
    let form = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["-u", "admin:admin-password", "--data-urlencode"].iter().map(|s| s.to_string()).collect();
        a.push(format!("search={SEARCH}"));
        for (k, v) in [("earliest_time", EARLIEST), ("latest_time", LATEST)] {
            a.extend(["-d".to_string(), format!("{k}={v}")]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let args = form(&["-d", "output_mode=json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, body) = s.curl(&args, "/services/search/jobs/export");
    assert_eq!(code, 200, "{body}");
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let expected = expected_rows();
    assert_eq!(lines.iter().map(|l| l["result"].clone()).collect::<Vec<_>>(), expected);
    assert!(lines.iter().enumerate().all(|(i, l)| l["preview"] == false && l["offset"] == i));
    assert_eq!(lines.last().unwrap()["lastrow"], true);
    assert!(lines[0].get("lastrow").is_none());
    // CSV, and the namespaced v2 path the SDK uses with Splunk 9.
    let csv = form(&["-d", "output_mode=csv"]);
    let csv: Vec<&str> = csv.iter().map(String::as_str).collect();
    let (code, text) = s.curl(&csv, "/servicesNS/nobody/search/search/v2/jobs/export");
    assert_eq!(code, 200, "{text}");
    assert_eq!(text.lines().next(), Some(r#""host","process_name","count""#));
    assert_eq!(text.lines().count(), expected.len() + 1);
    // Errors as Splunk gives them.
    let (code, err) =
        s.json(&["-u", "admin:admin-password", "-d", "search=| stats count by", "-d", "output_mode=json"], "/services/search/jobs/export");
    assert_eq!(code, 400);
    assert_eq!(err["messages"][0]["type"], "FATAL", "{err}");
    let hec = format!("Authorization: Splunk {}", s.hec_token);
    assert_eq!(s.curl(&["-H", &hec, "-d", "search=search *", "-d", "output_mode=json"], "/services/search/jobs/export").0, 401);
    // Log in as the SDK does: XML session key, then `Authorization: Splunk <key>`.
    let (code, xml) = s.curl(&["-d", "username=analyst", "-d", "password=analyst-password"], "/services/auth/login");
    assert_eq!(code, 200, "{xml}");
    let key = xml.split("<sessionKey>").nth(1).and_then(|r| r.split("</sessionKey>").next()).unwrap();
    let (code, info) = s.curl(&["-H", &format!("Authorization: Splunk {key}")], "/services/server/info");
    assert_eq!(code, 200);
    assert!(info.contains(r#"<s:key name="version">9."#), "{info}");
    assert_eq!(s.curl(&["-d", "username=analyst", "-d", "password=nope"], "/services/auth/login").0, 401);
}

#[test]
fn the_splunk_python_sdk_connects_exports_and_runs_oneshot() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let Some(python) = python_with("splunklib") else { return };
    let s = start();
    s.send_samples();
    let (code, tok) =
        s.json(&["-u", "admin:admin-password", "-H", "Content-Type: application/json", "-d", r#"{"user":"analyst"}"#], "/api/v1/tokens");
    assert_eq!(code, 201, "{tok}");
    let script = common::repo().join("crates/cli/tests/python/splunk_sdk_check.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([&s.port.to_string(), "analyst", "analyst-password", tok["token"].as_str().unwrap(), SEARCH, EARLIEST, LATEST])
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), std::fs::read_to_string(&s.log).unwrap_or_default());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = expected_rows();
    assert_eq!(report["version"][0], 9, "{report}");
    assert_eq!(report["token_scheme"], "Splunk", "the SDK uses the session key: {report}");
    assert_eq!(report["export"].as_array().unwrap(), &expected, "{report}");
    assert_eq!(report["oneshot"].as_array().unwrap(), &expected, "{report}");
    assert_eq!(report["basic_export"], expected.len(), "{report}");
    assert_eq!(report["bearer_oneshot"], expected.len(), "{report}");
    assert_eq!(report["bad_login"], "AuthenticationError", "{report}");
}
