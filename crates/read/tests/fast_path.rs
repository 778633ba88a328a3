//! Differential test: every XML event read (XML lines and rendered EVTX records, from the real
//! files and the samples) is extracted again by the full quick-xml extractor, which defines the
//! fields; the reader's output (fast path where it applies) must be identical.

use std::path::{Path, PathBuf};
use vigil_model::Event;
use vigil_read::xml::parse_event_xml_full;
use vigil_read::{discover, read_file, ReadOptions};

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("../../samples")];
    let real = root.join("../../../shared/data/real");
    if real.exists() {
        dirs.push(real);
    } else {
        eprintln!("note: {} absent, testing the samples only", real.display());
    }
    discover(&dirs).0
}

#[test]
fn fast_and_full_extractors_agree() {
    let mut checked = 0u64;
    for file in inputs() {
        read_file(&file, &ReadOptions::default(), &mut |ev: &Event| {
            if ev.sourcetype != "XmlWinEventLog" || !ev.raw.starts_with('<') {
                return; // JSON events
            }
            let mut full = Event::default();
            parse_event_xml_full(&ev.raw, &mut full)
                .unwrap_or_else(|e| panic!("{}: full extractor rejects an emitted event: {e}", file.display()));
            assert_eq!(ev.fields, full.fields, "{}: {}", file.display(), ev.raw);
            if full.time.is_some() {
                assert_eq!(ev.time, full.time, "{}", ev.raw);
            }
            assert_eq!((&ev.source, &ev.host), (&full.source, &full.host), "{}", ev.raw);
            checked += 1;
        });
    }
    assert!(checked > 0);
    eprintln!("{checked} XML events compared");
}
