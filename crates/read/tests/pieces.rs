//! A file read in pieces gives what reading it whole gives: the same events (fields, origins)
//! in the same order and the same report, or says it cannot (`exact: false`). On every real
//! file of shared/data/real (read at run time; skipped with a note when absent) with pieces
//! as small as allowed, and on synthetic files built to put records across piece boundaries.

use std::path::{Path, PathBuf};
use vigil_read::{number_pieces, read_file, read_piece, read_piece_mut, split_file, Piece, ReadOptions, ReadReport};

/// Smallest piece `split_file` makes (64 KiB): one EVTX chunk.
const SMALLEST: u64 = 1 << 16;

fn whole(path: &Path) -> (Vec<String>, ReadReport) {
    let mut events = Vec::new();
    let report = read_file(path, &ReadOptions::default(), &mut |ev| events.push(format!("{ev:?}")));
    (events, report)
}

/// Events, merged report, whether every piece was exact, and the number of pieces.
fn pieces(path: &Path, piece_bytes: u64) -> (Vec<String>, ReadReport, bool, usize) {
    let mut pieces = split_file(path, piece_bytes);
    let lines: Vec<u64> = pieces.iter().map(Piece::count_lines).collect();
    number_pieces(&mut pieces, &lines);
    let mut events = Vec::new();
    let mut report = ReadReport::default();
    let mut exact = true;
    for (i, p) in pieces.iter().enumerate() {
        // Every other piece through the sink that adds fields and removes them again: the
        // events after it are the same.
        let read = match i % 2 {
            0 => read_piece(p, &ReadOptions::default(), &mut |ev| events.push(format!("{ev:?}"))),
            _ => read_piece_mut(p, &ReadOptions::default(), &mut |ev| {
                events.push(format!("{ev:?}"));
                let (own, derived_from) = (ev.fields.len(), ev.derived_from);
                ev.push("derived", "value");
                ev.derived_from = Some(own);
                ev.fields.truncate(own);
                ev.derived_from = derived_from;
            }),
        };
        exact &= read.exact;
        report.merge(read.report);
    }
    (events, report, exact, pieces.len())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn real_files_read_in_pieces_equal_whole_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real");
    if !root.exists() {
        eprintln!("note: {} absent, skipping", root.display());
        return;
    }
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files.sort();
    let mut split = 0;
    for f in &files {
        let (want, want_report) = whole(f);
        let (got, got_report, exact, n) = pieces(f, SMALLEST);
        assert!(exact, "{}: a piece was not exact", f.display());
        if n > 1 {
            split += 1;
        }
        assert_eq!(got.len(), want.len(), "{}: {n} pieces", f.display());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{}: event {i} of {n} pieces", f.display());
        }
        assert_eq!(got_report, want_report, "{}", f.display());
    }
    assert!(split >= 5, "only {split} real files were large enough to split");
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-pieces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Synthetic XmlWinEventLog line number `i`, about 300 bytes.
fn xml_line(i: usize) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><EventRecordID>{i}</EventRecordID><Computer>host{}</Computer><TimeCreated SystemTime='2026-01-01T00:00:{:02}.000Z'/></System><EventData><Data Name='Image'>C:\\x{i}.exe</Data></EventData></Event>\n",
        i % 7,
        i % 60
    )
}

#[test]
fn one_line_records_with_junk_and_bad_lines_split_exactly() {
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&xml_line(i));
        match i % 97 {
            0 => text.push_str("junk line that is not an event\nmore junk\n"),
            1 => text.push_str("<Event><System><EventID>1</EventID></System><Bad</Event>\n"),
            2 => text.push_str("{\"cut\": \n{\"json\": \"mixed in\", \"n\": 1}\n"),
            _ => {}
        }
    }
    let p = write("lines.xml", &text);
    let (want, want_report) = whole(&p);
    let (got, got_report, exact, n) = pieces(&p, SMALLEST);
    assert!(n >= 5, "{n} pieces");
    assert!(exact);
    assert_eq!(got, want);
    assert_eq!(got_report, want_report);
    assert!(want_report.skipped_total() > 0, "the file holds bad records: {want_report}");
}

#[test]
fn json_document_cut_by_the_next_object_reports_as_whole_read() {
    // A gathered multi-line JSON document cut short by a line starting with `{`: the whole read
    // reports "truncated JSON document" when it meets that line, and so must the piece before.
    let mut text = String::new();
    for i in 0..3000 {
        if i % 50 == 49 {
            text.push_str("{\"a\": [1,\n2,\n");
        }
        text.push_str(&format!("{{\"EventID\": {i}, \"Computer\": \"h{}\", \"pad\": \"{}\"}}\n", i % 5, "x".repeat(60)));
    }
    let p = write("cut.json", &text);
    let (want, want_report) = whole(&p);
    let (got, got_report, exact, n) = pieces(&p, SMALLEST);
    assert!(n >= 3 && exact);
    assert_eq!(got, want);
    assert_eq!(got_report, want_report);
    assert!(want_report.skipped_count("malformed JSON") >= 50);
}

#[test]
fn a_record_across_a_boundary_is_not_exact() {
    // A pretty-printed XML event whose lines start with `{` (text at column 0): a piece may
    // start at one of them, inside the open event, which the piece before cannot close.
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&xml_line(i));
    }
    text.push_str("<Event xmlns='x'><EventData><Data Name='Lines'>\n");
    for i in 0..4000 {
        text.push_str(&format!("{{line {i} of a value at column 0}}\n"));
    }
    text.push_str("</Data></EventData></Event>\n");
    let p = write("open.xml", &text);
    let (_, _, exact, n) = pieces(&p, SMALLEST);
    assert!(n >= 2);
    assert!(!exact, "the open event runs past a piece boundary");
}

#[test]
fn small_and_compressed_files_are_not_split() {
    let p = write("small.xml", &xml_line(1));
    assert_eq!(split_file(&p, SMALLEST).len(), 1);
    assert!(!split_file(&p, SMALLEST)[0].is_part());
}
