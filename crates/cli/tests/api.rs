//! The console API end to end: the real binary, users made with `vigil user add`, the seed
//! samples sent over HEC, the test clock moved to the seed's run, then curl as the browser
//! (session cookie + CSRF) and as a script (API token, Basic).

mod apiserver;
mod common;

use apiserver::{have_curl, start, SEED};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn triage_a_seed_notable_with_a_browser_session() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let s = start();
    s.send_samples();
    let run = s.clock_to("2026-11-20T11:00:00Z");
    assert!(run["runs"][0]["notables"].as_u64().unwrap() > 0, "{run}");
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar").to_string_lossy().to_string();

    // Nothing without credentials; HEC tokens open nothing.
    assert_eq!(s.curl(&[], "/api/v1/notables").0, 401);
    assert_eq!(s.curl(&["-H", &format!("Authorization: Splunk {}", s.hec_token)], "/api/v1/notables").0, 401);
    assert_eq!(s.curl(&["-H", &format!("Authorization: Bearer {}", s.hec_token)], "/api/v1/notables").0, 401);

    let csrf = s.login(&jar, "analyst", "analyst-password");
    let cookie = std::fs::read_to_string(&jar).unwrap();
    assert!(cookie.contains("#HttpOnly_") && cookie.contains("vigil_session"), "{cookie}");
    let (code, me) = s.json(&["-b", &jar], "/api/v1/auth/session");
    assert_eq!(
        (code, me["user"].as_str(), me["role"].as_str(), me["csrf_token"].as_str()),
        (200, Some("analyst"), Some("analyst"), Some(csrf.as_str()))
    );

    // The seed's notables, filtered as Incident Review does.
    let q = format!(
        "/api/v1/notables?detection={}&status=new&earliest=2026-11-20T00:00:00Z&latest=2026-11-21T00:00:00Z&count=2",
        SEED.replace(' ', "%20")
    );
    let (code, list) = s.json(&["-b", &jar], &q);
    assert_eq!(code, 200, "{list}");
    let total = list["total"].as_u64().unwrap();
    assert!(total >= 2, "{list}");
    assert_eq!(list["notables"].as_array().unwrap().len(), 2);
    let n = &list["notables"][0];
    assert_eq!(n["notable"]["search_name"], format!("ESCU - {SEED} - Rule"));
    let id = n["id"].as_str().unwrap().to_string();
    let dest = n["notable"]["dest"].as_str().unwrap().to_string();
    let (_, by_dest) = s.json(&["-b", &jar], &format!("/api/v1/notables?dest={}", dest.to_lowercase()));
    assert!(by_dest["total"].as_u64().unwrap() >= 1);
    let (_, none) = s.json(&["-b", &jar], "/api/v1/notables?q=no-such-text-anywhere");
    assert_eq!(none["total"], 0);

    // Detail: the detection's description and the risk events of the same result.
    let (code, detail) = s.json(&["-b", &jar], &format!("/api/v1/notables/{id}"));
    assert_eq!(code, 200, "{detail}");
    assert!(detail["detection"]["description"].as_str().unwrap().contains("msiexec"), "{detail}");
    assert!(!detail["risk_events"].as_array().unwrap().is_empty(), "{detail}");

    // A change with the cookie needs the CSRF token.
    let change = r#"{"status":"in_progress","comment":"looking at the MSI URL"}"#;
    let json_h = "Content-Type: application/json";
    let path = format!("/api/v1/notables/{id}");
    assert_eq!(s.curl(&["-b", &jar, "-X", "PATCH", "-H", json_h, "-d", change], &path).0, 403);
    assert_eq!(s.curl(&["-b", &jar, "-X", "PATCH", "-H", json_h, "-H", "X-CSRF-Token: wrong", "-d", change], &path).0, 403);
    let csrf_h = format!("X-CSRF-Token: {csrf}");
    let (code, updated) = s.json(&["-b", &jar, "-X", "PATCH", "-H", json_h, "-H", &csrf_h, "-d", change], &path);
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["notable"]["status"], "in_progress");
    let (code, bad) = s.json(&["-b", &jar, "-X", "PATCH", "-H", json_h, "-H", &csrf_h, "-d", r#"{"status":"done"}"#], &path);
    assert_eq!(code, 400, "{bad}");
    let (_, audit) = s.json(&["-b", &jar], &format!("/api/v1/notables/{id}/audit"));
    let audit: Vec<(String, String, String)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["user"].as_str().unwrap().into(), a["field"].as_str().unwrap().into(), a["new_value"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        audit,
        [("analyst".into(), "status".into(), "in_progress".into()), ("analyst".into(), "comment".into(), "looking at the MSI URL".into())]
    );
    let (_, progress) = s.json(&["-b", &jar], "/api/v1/notables?status=in_progress");
    assert_eq!(progress["total"], 1);
    assert_eq!(progress["notables"][0]["id"], id.as_str());

    // Risk by object over the day, and the object's detail.
    let (_, risk) = s.json(&["-b", &jar], "/api/v1/risk/objects?earliest=2026-11-20T00:00:00Z&latest=2026-11-21T00:00:00Z");
    let top = &risk["objects"][0];
    assert!(top["total_score"].as_f64().unwrap() > 0.0 && !top["detections"].as_array().unwrap().is_empty(), "{risk}");
    let obj_path = format!(
        "/api/v1/risk/objects/{}/{}?earliest=2026-11-20T00:00:00Z&latest=2026-11-21T00:00:00Z",
        top["risk_object_type"].as_str().unwrap(),
        top["risk_object"].as_str().unwrap().replace('\\', "%5C")
    );
    let (code, obj) = s.json(&["-b", &jar], &obj_path);
    assert_eq!(code, 200, "{obj}");
    assert_eq!(obj["events"].as_array().unwrap().len() as u64, top["count"].as_u64().unwrap());
    assert!(!obj["timeline"]["buckets"].as_array().unwrap().is_empty());
    assert_eq!(s.json(&["-b", &jar], "/api/v1/risk/incidents").0, 200);

    // Detections: the analyst reads, only an admin disables.
    let (_, dets) = s.json(&["-b", &jar], "/api/v1/detections");
    let seed = dets["detections"].as_array().unwrap().iter().find(|d| d["name"] == SEED).unwrap().clone();
    assert_eq!(
        (seed["enabled"].as_bool(), seed["scheduled"].as_bool(), seed["runs"].as_u64()),
        (Some(true), Some(true), Some(1)),
        "{seed}"
    );
    assert_eq!(seed["next_run"], 1_795_176_000, "the 12:00 tick");
    assert_eq!(seed["last_runs"][0]["scheduled_time"], "2026-11-20T11:00:00Z");
    let det_path = format!("/api/v1/detections/{}", SEED.replace(' ', "%20"));
    assert_eq!(s.curl(&["-b", &jar, "-X", "PATCH", "-H", json_h, "-H", &csrf_h, "-d", r#"{"enabled":false}"#], &det_path).0, 403);
    let admin = ["-u", "admin:admin-password"];
    let (code, off) = s.json(&[&admin[..], &["-X", "PATCH", "-H", json_h, "-d", r#"{"enabled":false}"#]].concat(), &det_path);
    assert_eq!((code, off["enabled"].as_bool(), off["scheduled"].as_bool()), (200, Some(false), Some(false)), "{off}");
    let runs = s.clock_to("2026-11-20T12:00:00Z");
    assert_eq!(runs["runs"].as_array().unwrap().len(), 0, "a disabled detection does not run: {runs}");
    let (_, on) = s.json(&[&admin[..], &["-X", "PATCH", "-H", json_h, "-d", r#"{"enabled":true}"#]].concat(), &det_path);
    assert_eq!(on["enabled"], true);
    assert!(std::fs::read_to_string(s.data.join("detections.json")).unwrap().contains(SEED));

    // Ingest status: the samples' events per token and sourcetype, the store on disk.
    let (_, ingest) = s.json(&["-b", &jar], "/api/v1/ingest");
    assert!(ingest["received"]["events"].as_u64().unwrap() >= 21, "{ingest}");
    assert!(ingest["store"]["bytes"].as_u64().unwrap() > 0 && ingest["store"]["partitions"].as_u64().unwrap() >= 1, "{ingest}");

    // Users and tokens are the admin's; an API token works as Bearer and never ingests.
    assert_eq!(s.curl(&["-b", &jar], "/api/v1/users").0, 403);
    let (code, tok) = s.json(&[&admin[..], &["-H", json_h, "-d", r#"{"user":"analyst","label":"script"}"#]].concat(), "/api/v1/tokens");
    assert_eq!(code, 201, "{tok}");
    let bearer = format!("Authorization: Bearer {}", tok["token"].as_str().unwrap());
    assert_eq!(s.json(&["-H", &bearer], "/api/v1/auth/session").1["user"], "analyst");
    let as_hec = format!("Authorization: Splunk {}", tok["token"].as_str().unwrap());
    assert_eq!(
        s.curl(&["-H", &as_hec, "-d", r#"{"event":"x"}"#], "/services/collector/event"),
        (403, r#"{"text":"Invalid token","code":4}"#.into())
    );
    let (code, _) = s.json(&[&admin[..], &["-X", "DELETE"]].concat(), &format!("/api/v1/tokens/{}", tok["info"]["id"].as_str().unwrap()));
    assert_eq!(code, 200);
    assert_eq!(s.curl(&["-H", &bearer], "/api/v1/auth/session").0, 401);

    // Logout ends the session.
    assert_eq!(s.curl(&["-b", &jar, "-c", &jar, "-X", "POST", "-H", &csrf_h], "/api/v1/auth/logout").0, 200);
    assert_eq!(s.curl(&["-b", &jar], "/api/v1/notables").0, 401);
}

/// Polls a job until it is no longer running.
fn wait_job(s: &apiserver::Served, auth: &[&str], id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, job) = s.json(auth, &format!("/api/v1/search/jobs/{id}"));
        assert_eq!(code, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "job still running: {job}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn search_jobs_with_progress_paging_timeline_and_cancel() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let s = start();
    s.send_samples();
    let auth = ["-u", "analyst:analyst-password"];
    let json_h = "Content-Type: application/json";
    let body = r#"{"search":"`sysmon` EventCode=1 process_name=msiexec.exe | table _time host CommandLine","earliest":"2026-11-20T10:00:00Z","latest":"2026-11-20T11:00:00Z"}"#;
    let (code, job) = s.json(&[&auth[..], &["-H", json_h, "-d", body]].concat(), "/api/v1/search/jobs");
    assert_eq!(code, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_job(&s, &auth, &id);
    assert_eq!((done["state"].as_str(), done["progress"].as_f64()), (Some("done"), Some(1.0)), "{done}");
    let n = done["result_count"].as_u64().unwrap();
    // The same search over the sample files with the CLI gives as many rows.
    let cli = common::vigil(&[
        "search",
        "--earliest",
        "2026-11-20T10:00:00Z",
        "--latest",
        "2026-11-20T11:00:00Z",
        "--format",
        "jsonl",
        "`sysmon` EventCode=1 process_name=msiexec.exe | table _time host CommandLine",
        "samples/",
    ]);
    assert_eq!(common::stdout(&cli).lines().count() as u64, n, "{}", common::stderr(&cli));
    assert!(n >= 2);
    let (_, page) = s.json(&auth, &format!("/api/v1/search/jobs/{id}/results?offset=1&count=1"));
    assert_eq!((page["total"].as_u64(), page["count"].as_u64()), (Some(n), Some(1)), "{page}");
    assert_eq!(page["fields"], serde_json::json!(["_time", "host", "CommandLine"]));
    assert!(page["results"][0]["_time"].as_str().unwrap().starts_with("2026-11-20T10:"));
    let (_, tl) = s.json(&auth, &format!("/api/v1/search/jobs/{id}/timeline"));
    let buckets = tl["buckets"].as_array().unwrap();
    let results: u64 = buckets.iter().map(|b| b["results"].as_u64().unwrap()).sum();
    let events: u64 = buckets.iter().map(|b| b["events"].as_u64().unwrap()).sum();
    assert_eq!(results, n, "{tl}");
    assert!(events >= n && tl["span"].as_u64().unwrap() >= 1, "{tl}");

    // Bad SPL is a 400 with the caret message; another user does not see the job.
    let (code, bad) = s.json(&[&auth[..], &["-H", json_h, "-d", r#"{"search":"| stats count by"}"#]].concat(), "/api/v1/search/jobs");
    assert_eq!(code, 400, "{bad}");
    assert_eq!(s.curl(&["-u", "admin:admin-password"], &format!("/api/v1/search/jobs/{id}")).0, 200, "admins see all jobs");
    let (_, list) = s.json(&auth, "/api/v1/search/jobs");
    assert_eq!(list["jobs"][0]["id"], id.as_str());

    // Cancel: the job ends cancelled (at once, or as soon as the scan notices).
    let (_, job) = s.json(&[&auth[..], &["-H", json_h, "-d", r#"{"search":"* | stats count by host"}"#]].concat(), "/api/v1/search/jobs");
    let id2 = job["id"].as_str().unwrap().to_string();
    let (code, c) = s.json(&[&auth[..], &["-X", "POST"]].concat(), &format!("/api/v1/search/jobs/{id2}/cancel"));
    assert_eq!(code, 200, "{c}");
    assert!(c["state"] == "cancelled" || c["state"] == "done", "{c}");
    let (code, _) = s.json(&[&auth[..], &["-X", "DELETE"]].concat(), &format!("/api/v1/search/jobs/{id2}"));
    assert_eq!(code, 200);
    assert_eq!(s.curl(&auth, &format!("/api/v1/search/jobs/{id2}")).0, 404);
}

#[test]
fn finished_search_jobs_outlive_a_restart_until_their_ttl() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let mut s = start();
    s.send_samples();
    let auth = ["-u", "analyst:analyst-password"];
    let body = r#"{"search":"`sysmon` EventCode=1 | table _time host CommandLine","earliest":"2026-11-20T10:00:00Z","latest":"2026-11-20T11:00:00Z"}"#;
    let (code, job) = s.json(&[&auth[..], &["-H", "Content-Type: application/json", "-d", body]].concat(), "/api/v1/search/jobs");
    assert_eq!(code, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_job(&s, &auth, &id);
    assert_eq!(done["state"], "done", "{done}");
    assert!(done["expires"].is_string() && done["ttl"].as_u64() > Some(0), "{done}");
    let results = |s: &apiserver::Served| s.json(&auth, &format!("/api/v1/search/jobs/{id}/results?offset=1&count=100")).1;
    let (before_rows, before_timeline) = (results(&s), s.json(&auth, &format!("/api/v1/search/jobs/{id}/timeline")).1);
    assert!(before_rows["total"].as_u64() >= Some(2), "{before_rows}");
    assert!(s.data.join(format!("search_jobs/{id}/results.jsonl")).is_file());

    s.restart();
    let (code, after) = s.json(&auth, &format!("/api/v1/search/jobs/{id}"));
    assert_eq!(code, 200, "the finished job is kept: {after}");
    for k in ["state", "search", "result_count", "results_kept", "events_scanned", "duration_ms", "expires", "earliest", "latest"] {
        assert_eq!(after[k], done[k], "{k}: {after} vs {done}");
    }
    assert_eq!(results(&s), before_rows, "the same rows, columns and order");
    assert_eq!(s.json(&auth, &format!("/api/v1/search/jobs/{id}/timeline")).1, before_timeline);
    assert_eq!(s.json(&auth, "/api/v1/search/jobs").1["jobs"][0]["id"], id.as_str());

    // Deleted is gone for good, on disk too; the 404 says why a job may be missing.
    assert_eq!(s.curl(&[&auth[..], &["-X", "DELETE"]].concat(), &format!("/api/v1/search/jobs/{id}")).0, 200);
    assert!(!s.data.join(format!("search_jobs/{id}")).exists());
    s.restart();
    let (code, gone) = s.json(&auth, &format!("/api/v1/search/jobs/{id}"));
    assert_eq!(code, 404, "{gone}");
    assert!(gone["error"]["message"].as_str().unwrap().contains("expired"), "{gone}");
}

#[test]
fn failed_logins_are_throttled_per_user_and_address() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let s = start();
    let bad = r#"{"username":"analyst","password":"wrong-password"}"#;
    let json_h = "Content-Type: application/json";
    for _ in 0..5 {
        assert_eq!(s.curl(&["-H", json_h, "-d", bad], "/api/v1/auth/login").0, 401);
    }
    assert_eq!(s.curl(&["-H", json_h, "-d", bad], "/api/v1/auth/login").0, 401, "the sixth failure sets the lock");
    let (code, body) = s.curl(&["-i", "-H", json_h, "-d", r#"{"username":"analyst","password":"analyst-password"}"#], "/api/v1/auth/login");
    assert_eq!(code, 429, "locked even with the right password: {body}");
    assert!(body.to_lowercase().contains("retry-after: 1"), "{body}");
    // Basic auth goes through the same throttle.
    assert_eq!(s.curl(&["-u", "analyst:analyst-password"], "/api/v1/notables").0, 429);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(s.curl(&["-u", "analyst:analyst-password"], "/api/v1/notables").0, 200);
}
