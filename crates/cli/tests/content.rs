//! End-to-end: `vigil content check` on the ESCU library.

mod common;
use common::*;

#[test]
fn builtin_content_is_ready() {
    let o = vigil(&["content", "check", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["ready"], 1);
    assert_eq!(v["detections"][0]["name"], "Windows MSIExec Remote Download");
    assert_eq!(v["detections"][0]["status"], "ready");
}

#[test]
fn escu_endpoint_coverage() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/escu not present");
        return;
    };
    let escu = shared.join("escu");
    let o = vigil(&["content", "check", "--format", "json", "--content", escu.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let total = v["total"].as_f64().unwrap();
    let ready = v["ready"].as_f64().unwrap();
    assert!(total >= 900.0, "{total}");
    assert!(ready / total >= 0.90, "ready {ready} of {total}");
    // "cannot fire" is counted apart from ready, and is a small share (see README).
    let cannot = v["cannot_fire"].as_f64().unwrap();
    assert!(cannot > 0.0 && cannot / total < 0.05, "cannot fire {cannot} of {total}");
    // Every entry has a status and, unless ready, a reason.
    for d in v["detections"].as_array().unwrap() {
        let status = d["status"].as_str().unwrap();
        assert!(matches!(status, "ready" | "cannot fire" | "unsupported" | "error"));
        if status != "ready" {
            assert!(!d["reason"].as_str().unwrap().is_empty(), "{d}");
        }
    }
    // Endpoint.Processes detections: at least 95% ready.
    let mut n = 0;
    let mut ok = 0;
    for d in v["detections"].as_array().unwrap() {
        let text = std::fs::read_to_string(d["file"].as_str().unwrap()).unwrap_or_default();
        if text.contains("datamodel=Endpoint.Processes") {
            n += 1;
            ok += (d["status"] == "ready") as usize;
        }
    }
    assert!(ok as f64 / n as f64 >= 0.95, "Endpoint.Processes ready {ok} of {n}");
}

#[test]
fn every_ready_escu_detection_runs_on_real_logs() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared not present");
        return;
    };
    let escu = shared.join("escu");
    let real = shared.join("data/real");
    let o = vigil(&["hunt", "--format", "jsonl", "--content", escu.to_str().unwrap(), real.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(o.status.success(), "a detection failed at run time:\n{err}");
    assert!(!err.contains("failed:"), "{err}");
}
