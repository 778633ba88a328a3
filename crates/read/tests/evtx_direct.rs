//! Differential test of the EVTX reader: every record of every real EVTX file (including the
//! damaged ones) read by `read_file` (fast XML extractor on the rendered record where it
//! applies) must give exactly the events of the reference path, which renders
//! each record and extracts it with the full quick-xml extractor (the definition of the
//! fields): same events in the same order, same fields in order, time, source, sourcetype,
//! host, raw and origin, and the same skipped-record report.
//!
//! The BinXML reader (`evtx::binxml`: records read straight from their template instances, the
//! rest rendered by the crate and parsed; `read_file`'s path unless `VIGIL_EVTX_BINXML=0`) must
//! give the same events and report too, and take at least 80 % of the records of the undamaged
//! files, so that it cannot silently stop applying.

use std::path::{Path, PathBuf};
use vigil_model::Event;
use vigil_read::evtx::{read_evtx_binxml, read_evtx_binxml_general, read_evtx_reference};
use vigil_read::{read_file, ReadOptions};

fn evtx_files() -> Vec<PathBuf> {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real");
    let mut files = Vec::new();
    for dir in ["evtx", "evtx-attack-samples"] {
        let mut stack = vec![real.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("evtx")) {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    files
}

/// Same fields in order, time, source, sourcetype, host, raw and origin, event by event.
fn same_events(got: &[Event], want: &[Event], f: &str) {
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.fields, w.fields, "{f}: {}", w.raw);
        assert_eq!(g.time, w.time, "{f}: {}", w.raw);
        assert_eq!(g.source, w.source, "{f}: {}", w.raw);
        assert_eq!(g.sourcetype, w.sourcetype, "{f}: {}", w.raw);
        assert_eq!(g.host, w.host, "{f}: {}", w.raw);
        assert_eq!(g.raw, w.raw, "{f}");
        assert_eq!(g.origin, w.origin, "{f}: {}", w.raw);
    }
}

#[test]
fn evtx_reader_matches_reference_path() {
    let files = evtx_files();
    if files.is_empty() {
        eprintln!("note: no real EVTX files under ../shared/data/real; nothing compared");
        return;
    }
    let opts = ReadOptions::default();
    let mut records = 0usize;
    let (mut fast, mut clean_records, mut clean_fast) = (0u64, 0u64, 0u64);
    for file in &files {
        let mut got: Vec<Event> = Vec::new();
        let report = read_file(file, &opts, &mut |ev: &Event| got.push(ev.clone()));
        let mut want: Vec<Event> = Vec::new();
        let reference = read_evtx_reference(file, &opts, &mut |ev: &Event| want.push(ev.clone()));
        let f = file.display();
        assert_eq!(got.len(), want.len(), "{f}: event count");
        assert_eq!(report.events, reference.events, "{f}");
        assert_eq!(report.skipped_total(), reference.skipped_total(), "{f}: skipped\n{report}\n{reference}");
        assert_eq!(report.to_string(), reference.to_string(), "{f}: report");
        same_events(&got, &want, &f.to_string());
        records += got.len();
        let mut binxml: Vec<Event> = Vec::new();
        let (counted, n) = read_evtx_binxml(file, &opts, &mut |ev: &Event| binxml.push(ev.clone()));
        assert_eq!(counted.to_string(), reference.to_string(), "{f}: BinXML reader's report");
        assert_eq!(binxml.len(), want.len(), "{f}: BinXML reader's event count");
        same_events(&binxml, &want, &format!("{f} (BinXML reader)"));
        // The general renderer alone (the compiled programs take nearly every record).
        let mut general: Vec<Event> = Vec::new();
        let (general_report, _) = read_evtx_binxml_general(file, &opts, &mut |ev: &Event| general.push(ev.clone()));
        assert_eq!(general_report.to_string(), reference.to_string(), "{f}: general renderer's report");
        assert_eq!(general.len(), want.len(), "{f}: general renderer's event count");
        same_events(&general, &want, &format!("{f} (general renderer)"));
        fast += n;
        if report.skipped_total() == 0 {
            clean_records += report.events;
            clean_fast += n;
        }
    }
    eprintln!("{} EVTX files, {records} records identical", files.len());
    eprintln!(
        "read from BinXML: {fast} of {records} records; {clean_fast} of {clean_records} in undamaged files ({:.1} %)",
        100.0 * clean_fast as f64 / clean_records.max(1) as f64
    );
    assert!(records > 3000, "{records}");
    assert!(clean_fast * 10 >= clean_records * 8, "BinXML reader took only {clean_fast} of {clean_records} records of undamaged files");
}

/// Damaged copies of real files (random bytes changed inside their chunks; checksums are not
/// checked, so the records are still read): the BinXML reader must not panic, and must give
/// exactly the reference path's events and report.
#[test]
fn damaged_records_read_as_the_reference_path_does() {
    let files = evtx_files();
    if files.is_empty() {
        return;
    }
    let opts = ReadOptions::default();
    let dir = std::env::temp_dir().join(format!("vigil-evtx-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed = std::env::var("VIGIL_MUTANT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15u64);
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut compared, mut fast) = (0usize, 0u64);
    // More with VIGIL_MUTANT_ROUNDS, other seeds with VIGIL_MUTANT_SEED, more changed bytes per
    // file with VIGIL_MUTANT_BYTES (20 000 rounds with 8 and with 64 bytes were run once).
    let rounds = std::env::var("VIGIL_MUTANT_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(240);
    for round in 0..rounds {
        let src = &files[round % files.len()];
        let mut bytes = std::fs::read(src).unwrap();
        if bytes.len() <= 4096 + 512 {
            continue;
        }
        // A few bytes changed in the records area of the chunks (past the file header).
        let most = std::env::var("VIGIL_MUTANT_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(8u64);
        for _ in 0..1 + next() % most {
            // Within the first chunk's records (dense), or anywhere past the file header.
            let span = if next() % 2 == 0 { bytes.len().min(4096 + 65536) } else { bytes.len() } - 4096 - 512;
            let at = 4096 + 512 + (next() as usize) % span;
            bytes[at] = match next() % 4 {
                0 => 0,
                1 => 0xff,
                2 => bytes[at].wrapping_add(1),
                _ => next() as u8,
            };
        }
        let path = dir.join(format!("m{round}.evtx"));
        std::fs::write(&path, &bytes).unwrap();
        let mut want: Vec<Event> = Vec::new();
        let reference = read_evtx_reference(&path, &opts, &mut |ev: &Event| want.push(ev.clone()));
        let mut got: Vec<Event> = Vec::new();
        let (report, n) = read_evtx_binxml(&path, &opts, &mut |ev: &Event| got.push(ev.clone()));
        let f = format!("{} mutated (round {round})", src.display());
        assert_eq!(report.to_string(), reference.to_string(), "{f}");
        assert_eq!(got.len(), want.len(), "{f}");
        same_events(&got, &want, &f);
        let mut general: Vec<Event> = Vec::new();
        let (general_report, _) = read_evtx_binxml_general(&path, &opts, &mut |ev: &Event| general.push(ev.clone()));
        assert_eq!(general_report.to_string(), reference.to_string(), "{f} (general renderer)");
        assert_eq!(general.len(), want.len(), "{f} (general renderer)");
        same_events(&general, &want, &format!("{f} (general renderer)"));
        compared += got.len();
        fast += n;
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir(&dir);
    eprintln!("mutated files: {compared} records identical, {fast} read from BinXML");
}
