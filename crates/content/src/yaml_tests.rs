//! Every ESCU detection deserializes through the fast YAML path as through serde_norway.

use std::path::{Path, PathBuf};
use vigil_yaml::{from_str, parse};

fn escu_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIL_ESCU")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/escu"));
    if dir.join("detections").is_dir() {
        return Some(dir);
    }
    assert!(std::env::var_os("CI").is_none(), "ESCU content not found at {}", dir.display());
    eprintln!("skipped: ESCU content not found at {}", dir.display());
    None
}

#[test]
fn every_escu_detection_deserializes_as_through_serde_norway() {
    let Some(dir) = escu_dir() else { return };
    let files = crate::set::yaml_files(&dir.join("detections"), true);
    let mut slow_route = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let fast = from_str::<crate::Detection>(&text).map(|d| format!("{d:?}")).map_err(|e| e.to_string());
        let slow = serde_norway::from_str::<crate::Detection>(&text).map(|d| format!("{d:?}")).map_err(|e| e.to_string());
        assert_eq!(fast, slow, "{}", file.display());
        if parse(&text).is_none_or(|v| serde_norway::from_value::<crate::Detection>(v).is_err()) {
            slow_route += 1;
        }
    }
    assert!(files.len() > 900 && slow_route * 100 <= files.len(), "{slow_route} of {} detections through serde_norway", files.len());
}
