//! The memory budget changes where groups are kept, never the results: every ready ESCU
//! detection over the real logs gives the same output with groups spilled to disk at every
//! check, and again when no temporary file can be written (then one warning, same results).

mod common;
use common::*;
use std::process::Command;

fn hunt(shared: &std::path::Path, extra: &[&str], tmpdir: Option<&str>) -> (String, String) {
    let escu = shared.join("escu");
    let real = shared.join("data/real");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(["hunt", "--format", "jsonl", "--content"]).arg(&escu).args(extra).arg(&real).current_dir(repo());
    if let Some(t) = tmpdir {
        cmd.env("TMPDIR", t);
    }
    let o = cmd.output().expect("run vigil");
    assert!(o.status.success(), "{}", stderr(&o));
    (stdout(&o), stderr(&o))
}

#[test]
fn spilling_gives_the_same_results() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared is not there");
        return;
    };
    let (plain, _) = hunt(&shared, &[], None);
    assert!(plain.lines().count() > 100, "{plain}");
    let (spilled, err) = hunt(&shared, &["--memory-mb", "0"], None);
    assert_eq!(spilled, plain);
    assert!(!err.contains("cannot spill"), "{err}");
    let (in_memory, err) = hunt(&shared, &["--memory-mb", "0"], Some("/nonexistent/vigil-test-tmp"));
    assert_eq!(in_memory, plain);
    assert_eq!(err.matches("cannot spill to a temporary file").count(), 1, "{err}");
}
