//! With one thread, the driver reads every piece into one consumer state: no two states that
//! both hold events are merged (a merge re-interns every group of one state into the other).
//! Its own test binary: `Driver::new` sets the process's global thread pool.

use std::path::PathBuf;
use vigil_model::{DatasetRow, Event};
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;
use vigil_scan::{Consumer, Driver, Inputs};

/// Counts events, and merges where both sides had already seen events.
struct MergeCounter;

#[derive(Default)]
struct Counted {
    events: u64,
    merges_of_filled: u64,
}

impl Consumer for MergeCounter {
    type State = Counted;
    fn new_state(&self) -> Counted {
        Counted::default()
    }
    fn consume(&self, state: &mut Counted, _event: &Event, _rows: &[DatasetRow]) {
        state.events += 1;
    }
    fn merge(&self, into: &mut Counted, other: Counted) {
        if into.events > 0 && other.events > 0 {
            into.merges_of_filled += 1;
        }
        into.events += other.events;
        into.merges_of_filled += other.merges_of_filled;
    }
    fn needs_line_numbers(&self) -> bool {
        false
    }
}

#[test]
fn one_thread_reads_all_pieces_into_one_state() {
    let dir = std::env::temp_dir().join(format!("vigil-one-thread-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let files: Vec<PathBuf> = (0..6)
        .map(|f| {
            let path = dir.join(format!("part{f}.json"));
            let lines: String = (0..50).map(|i| format!("{{\"file\":{f},\"n\":{i}}}\n")).collect();
            std::fs::write(&path, lines).expect("write input");
            path
        })
        .collect();
    let driver = Driver::new(Some(1)).expect("driver");
    assert_eq!(driver.threads(), 1);
    let normalizer = Normalizer::builtin().expect("mappings");
    let read = ReadOptions::default();
    let scanned = driver.scan(&MergeCounter, &normalizer, Inputs { paths: &files, read: &read });
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(scanned.state.events, 300);
    assert_eq!(scanned.state.merges_of_filled, 0, "pieces were read into states merged afterwards");
}
