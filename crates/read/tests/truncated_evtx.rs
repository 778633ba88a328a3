//! EVTX files cut short (crashed host, interrupted copy) report what was lost: the `evtx`
//! crate reads whole 64 KiB chunks and passes over a partial or missing chunk silently.

use std::path::PathBuf;
use vigil_read::{read_file, read_stream, ReadOptions, ReadReport};

fn security_evtx() -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/evtx/security.evtx");
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipped: {} not found", p.display());
            None
        }
    }
}

fn both_paths(name: &str, bytes: &[u8]) -> (ReadReport, ReadReport) {
    let dir = std::env::temp_dir().join(format!("vigil-read-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let from_file = read_file(&path, &ReadOptions::default(), &mut |_| {});
    let from_stream = read_stream(name, bytes, &ReadOptions::default(), &mut |_| {});
    let _ = std::fs::remove_file(&path);
    (from_file, from_stream)
}

#[test]
fn truncated_evtx_reports_the_lost_chunk() {
    let Some(full) = security_evtx() else { return };
    // (cut at, events still read, message fragment)
    let cases: [(usize, u64, &str); 4] = [
        (4096, 0, "declares 26 chunks but the file holds 0"),
        (5000, 0, "ends 904 bytes into chunk 0"),
        (100_000, 91, "ends 30368 bytes into chunk 1"),
        (135_168, 177, "declares 26 chunks but the file holds 2"),
    ];
    for (cut, events, msg) in cases {
        let (file, stream) = both_paths(&format!("cut{cut}.evtx"), &full[..cut]);
        for r in [&file, &stream] {
            assert_eq!(r.events, events, "cut at {cut}: {r}");
            assert_eq!(r.skipped_count("truncated EVTX"), 1, "cut at {cut}: {r}");
            let ex = &r.skipped["truncated EVTX"].examples[0];
            assert!(ex.contains(msg), "cut at {cut}: {ex}");
        }
    }
    let (file, stream) = both_paths("whole.evtx", &full);
    assert_eq!(file.skipped_count("truncated EVTX"), 0, "{file}");
    assert_eq!(stream.skipped_count("truncated EVTX"), 0, "{stream}");
}
