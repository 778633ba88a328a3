//! `evtxparse FILE|DIR...`: the EVTX parse baseline for `bench/run.sh`. Renders every record of
//! every `.evtx` file to XML with the `evtx` crate on one thread, in one process, and discards
//! it: what `evtx_dump -t 1 -o xml` does per file, without a process start per file. Vigil's
//! EVTX reader does this same rendering and then extracts fields, normalizes and detects.
//! Prints `records=<n> errors=<n> bytes=<n>`.

use evtx::{EvtxParser, ParserSettings};
use std::path::{Path, PathBuf};

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out);
        }
    } else if p.extension().is_some_and(|x| x == "evtx") {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        walk(Path::new(&a), &mut files);
    }
    let (mut records, mut errors, mut bytes, mut xml_bytes) = (0u64, 0u64, 0u64, 0u64);
    for f in &files {
        bytes += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        let settings = ParserSettings::new().indent(false).num_threads(1);
        let mut parser = match EvtxParser::from_path(f) {
            Ok(p) => p.with_configuration(settings),
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        for r in parser.records() {
            match r {
                Ok(rec) => {
                    records += 1;
                    xml_bytes += rec.data.len() as u64;
                }
                Err(_) => errors += 1,
            }
        }
    }
    println!("records={records} errors={errors} bytes={bytes} xml_bytes={xml_bytes}");
}
