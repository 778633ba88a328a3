//! Helpers shared by the end-to-end tests: run the built `vigil` binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// ../shared beside the repository, when present (it is in CI and in every session).
pub fn shared() -> Option<PathBuf> {
    let p = repo().join("../shared");
    p.join("data/real").is_dir().then_some(p)
}

pub fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).current_dir(repo()).env("COLUMNS", "200").output().expect("run vigil")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Compares `actual` with a golden file; `VIGIL_UPDATE_GOLDEN=1` rewrites it instead.
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("VIGIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    if expected != actual {
        panic!("output differs from {} (VIGIL_UPDATE_GOLDEN=1 to accept)\n--- expected\n{expected}\n--- actual\n{actual}", path.display());
    }
}
