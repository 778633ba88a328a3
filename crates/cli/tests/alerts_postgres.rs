//! The shared alert store end to end: `[alerts] postgres` in vigil.toml. Two single nodes run
//! the seed's schedule over the same samples into one PostgreSQL schema (as two reducers
//! finishing the same run would: the second adds nothing), and two `vigil serve --role api`
//! processes, with their own users, show the same notables, the same triage and the same run
//! records. PostgreSQL: $VIGIL_TEST_POSTGRES or 127.0.0.1:5432 db `test`, a scratch schema per
//! test (required under CI, skipped elsewhere when not reachable).

mod apiserver;
mod common;

use apiserver::{have_curl, start_adding_users, start_with, Served, SEED};
use serde_json::Value;
use vigil_alert::scratch::ScratchSchema;

/// The ids of every notable the API lists, newest first.
fn notable_ids(s: &Served, jar: &str) -> Vec<String> {
    let (code, list) = s.json(&["-b", jar], "/api/v1/notables?count=1000");
    assert_eq!(code, 200, "{list}");
    let ids: Vec<String> = list["notables"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(list["total"].as_u64(), Some(ids.len() as u64), "{list}");
    ids
}

#[test]
fn api_processes_show_the_alerts_a_node_wrote_to_postgres() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let Some(schema) = ScratchSchema::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, format!("[alerts]\npostgres = \"{}\"\n", schema.url())).unwrap();
    let config = config.to_string_lossy().into_owned();
    let node_args = ["--config", config.as_str(), "--now", "2026-11-20T10:00:00Z", "--enable", SEED];

    // A node runs the seed's schedule over the samples.
    let node = start_with(&node_args);
    assert!(node.log_text().contains("alert store postgres://"), "{}", node.log_text());
    node.send_samples();
    let run = node.clock_to("2026-11-20T11:00:00Z");
    let first = &run["runs"][0];
    let raised = first["notables"].as_u64().unwrap();
    assert!(raised > 0 && first["new_alerts"].as_u64().unwrap() > raised, "{run}");
    assert!(!node.data.join("risk.db").exists(), "nothing in SQLite with [alerts] postgres");
    assert!(!node.data.join("runs.jsonl").exists(), "run records in PostgreSQL");
    let jar_node = dir.path().join("jar-node").to_string_lossy().into_owned();
    node.login(&jar_node, "analyst", "analyst-password");
    let from_node = notable_ids(&node, &jar_node);
    // The run's notables and the risk incidents the rules raised after it.
    assert!(from_node.len() as u64 > raised, "{from_node:?}");

    // A second node over the same samples and tick: the same alerts, none stored twice (the
    // users the first added are in PostgreSQL already).
    let again = start_adding_users(&node_args, false);
    again.send_samples();
    let rerun = again.clock_to("2026-11-20T11:00:00Z");
    assert_eq!(rerun["runs"][0]["notables"], first["notables"], "{rerun}");
    assert_eq!(rerun["runs"][0]["new_alerts"], 0, "{rerun}");
    drop(again);
    assert_eq!(notable_ids(&node, &jar_node), from_node);

    // Two API processes: no ingest, no scheduler, the same alerts, the same users.
    let api_a = start_adding_users(&["--config", &config, "--role", "api"], false);
    let api_b = start_adding_users(&["--config", &config, "--role", "api"], false);
    for api in [&api_a, &api_b] {
        let log = api.log_text();
        assert!(log.contains("api over the alert store postgres://") && !log.contains("HEC token"), "{log}");
        assert_eq!(api.curl(&["-d", "x"], "/services/collector/raw").0, 404, "no ingest in --role api");
    }
    let (jar_a, jar_b) = (dir.path().join("jar-a").to_string_lossy().into_owned(), dir.path().join("jar-b").to_string_lossy().into_owned());
    let csrf_a = api_a.login(&jar_a, "analyst", "analyst-password");
    let csrf_b = format!("X-CSRF-Token: {}", api_b.login(&jar_b, "admin", "admin-password"));
    // A session opened on one process is valid on the others (users and sessions in PostgreSQL).
    let (code, who) = api_b.json(&["-b", &jar_a], "/api/v1/auth/session");
    assert_eq!((code, who["user"].as_str()), (200, Some("analyst")), "{who}");
    assert_eq!(notable_ids(&api_a, &jar_a), from_node);
    // The console's other pages answer over an API process too: risk from the shared store,
    // ingest (none here), the console itself.
    let (code, risk) = api_a.json(&["-b", &jar_a], "/api/v1/risk/objects?earliest=2026-11-20T00:00:00Z&latest=2026-11-21T00:00:00Z");
    assert!(code == 200 && !risk["objects"].as_array().unwrap().is_empty(), "{risk}");
    let (code, ingest) = api_a.json(&["-b", &jar_a], "/api/v1/ingest");
    assert_eq!(code, 200, "{ingest}");
    assert_eq!(api_a.curl(&[], "/").0, 200);
    assert_eq!(notable_ids(&api_b, &jar_b), from_node);

    // Triage on one API process is what the other shows, with its audit trail.
    let id = &from_node[0];
    let path = format!("/api/v1/notables/{id}");
    let change = r#"{"status":"in_progress","owner":"analyst","comment":"seen on api a"}"#;
    let csrf_h = format!("X-CSRF-Token: {csrf_a}");
    let (code, updated) =
        api_a.json(&["-b", &jar_a, "-X", "PATCH", "-H", "Content-Type: application/json", "-H", &csrf_h, "-d", change], &path);
    assert_eq!(code, 200, "{updated}");
    let (code, seen) = api_b.json(&["-b", &jar_b], &path);
    assert_eq!(code, 200, "{seen}");
    assert_eq!((seen["notable"]["status"].as_str(), seen["notable"]["owner"].as_str()), (Some("in_progress"), Some("analyst")), "{seen}");
    let (_, audit) = api_b.json(&["-b", &jar_b], &format!("{path}/audit"));
    let fields: Vec<&str> = audit["audit"].as_array().unwrap().iter().map(|a| a["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["status", "owner", "comment"], "{audit}");
    // The node runs on a test clock (2026-11-20): its session expired on the API processes'
    // real clock, which dropped it from the shared sessions when they logged in. Again:
    node.login(&jar_node, "analyst", "analyst-password");
    let (_, by_status) = node.json(&["-b", &jar_node], "/api/v1/notables?status=in_progress");
    assert_eq!(by_status["notables"][0]["id"], id.as_str(), "the node reads the same triage");

    // The run records of both nodes, newest first, with the detection's.
    let (_, runs) = api_b.json(&["-b", &jar_b], &format!("/api/v1/runs?detection={}", SEED.replace(' ', "%20")));
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[0]["new_alerts"].as_u64(), runs[1]["new_alerts"].as_u64()), (Some(0), first["new_alerts"].as_u64()));
    let (_, det) = api_b.json(&["-b", &jar_b], &format!("/api/v1/detections/{}", SEED.replace(' ', "%20")));
    assert_eq!(det["runs"], 2, "{det}");
    // Enabling and disabling belongs to the processes that schedule.
    let (code, refused) = api_b.curl(
        &["-b", &jar_b, "-X", "PATCH", "-H", "Content-Type: application/json", "-H", &csrf_b, "-d", r#"{"enabled":false}"#],
        &format!("/api/v1/detections/{}", SEED.replace(' ', "%20")),
    );
    assert_eq!(code, 409, "{refused}");
    assert!(refused.contains("--role api"), "{refused}");

    // `vigil risk` reads the same store.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "risk",
            "--postgres",
            &schema.url(),
            "--since",
            "2026-11-20T00:00:00Z",
            "--until",
            "2026-11-21T00:00:00Z",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let objects: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(objects.iter().any(|o| o["kind"] == "object_risk"), "{objects:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("risk index postgres://"), "{}", String::from_utf8_lossy(&out.stderr));
}
