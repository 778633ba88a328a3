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
    // Every entry has a status and, unless ready, a reason.
    for d in v["detections"].as_array().unwrap() {
        let status = d["status"].as_str().unwrap();
        assert!(matches!(status, "ready" | "unsupported" | "error"));
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

/// `content list` selects as `hunt` does: production by default, `--status`/`--type` widen or
/// narrow it, and every row says whether the detection can run.
#[test]
fn content_list_filters_like_hunt() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/escu not present");
        return;
    };
    let escu = shared.join("escu");
    let escu = escu.to_str().unwrap();
    let list = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["content", "list", "--format", "jsonl", "--content", escu];
        args.extend_from_slice(extra);
        let o = vigil(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let production = list(&[]);
    let all = list(&["--status", "all"]);
    assert!(production.len() < all.len() && !production.is_empty());
    assert!(production.iter().all(|d| d["status"] == "production"));
    assert!(all.iter().any(|d| d["status"] == "experimental"));
    let hunting = list(&["--status", "all", "--type", "hunting"]);
    assert!(!hunting.is_empty() && hunting.iter().all(|d| d["type"] == "Hunting"));
    for d in &all {
        assert!(matches!(d["ready"].as_str(), Some("ready" | "unsupported" | "error")), "{d}");
        assert!(d["id"].as_str().is_some_and(|id| !id.is_empty()), "{d}");
    }
    // An experimental detection named on the command line runs although not production.
    let experimental = all.iter().find(|d| d["status"] == "experimental" && d["ready"] == "ready").unwrap();
    let o = vigil(&["hunt", "--content", escu, "--detection", experimental["id"].as_str().unwrap(), "samples/"]);
    assert!(stderr(&o).contains("1 detection run"), "{}", stderr(&o));
}

#[test]
fn detection_by_part_of_its_name_with_suggestions() {
    let o = vigil(&["hunt", "--detection", "msiexec remote", "samples/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 detection run, 8 results"), "{}", stderr(&o));
    let o = vigil(&["hunt", "--detection", "msiexec remote downlaod", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean: `Windows MSIExec Remote Download`?"), "{}", stderr(&o));
}
