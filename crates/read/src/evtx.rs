//! Binary EVTX files through the `evtx` crate. Each record is rendered to XML and extracted by
//! [`crate::xml::parse_event_xml`], so EVTX and XML exports give identical fields.
//!
//! Damaged files are read as far as possible: a chunk or record the crate cannot parse is
//! counted (`"bad EVTX chunk"` / `"bad EVTX record"`) with its chunk number, record id or
//! offset, and reading goes on with the next one. A panic inside the crate (none is known, but
//! the input is hostile) is caught and counted as `"EVTX parser panic"`, ending that file only.
//!
//! `origin.offset` of an EVTX event is its EventRecordID (`origin.line` is 0).

use std::io::{Cursor, Read, Seek};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

use crate::{at_offset, xml, Ctx};

/// Reads an EVTX file from disk chunk by chunk (the file is not loaded whole).
pub(crate) fn read_evtx_file(file: std::fs::File, name: &Arc<str>, ctx: &mut Ctx) {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    ctx.report.bytes += len;
    read_evtx(file, name, ctx);
}

/// Reads an EVTX file held in memory (from inside an archive).
pub(crate) fn read_evtx_buffer(buf: Vec<u8>, name: &Arc<str>, ctx: &mut Ctx) {
    read_evtx(Cursor::new(buf), name, ctx);
}

fn read_evtx<T: Read + Seek + 'static>(input: T, name: &Arc<str>, ctx: &mut Ctx) {
    let result = catch_unwind(AssertUnwindSafe(|| read_evtx_inner(input, name, ctx)));
    if result.is_err() {
        ctx.report.skip("EVTX parser panic", name, "the evtx parser panicked; rest of file skipped");
    }
}

fn read_evtx_inner<T: Read + Seek + 'static>(input: T, name: &Arc<str>, ctx: &mut Ctx) {
    let settings = ParserSettings::new().indent(false).num_threads(1);
    let mut parser = match EvtxParser::from_read_seek(input) {
        Ok(p) => p.with_configuration(settings),
        Err(e) => {
            ctx.report.skip("bad EVTX file", name, error_chain(&e));
            return;
        }
    };
    for record in parser.records() {
        match record {
            Ok(rec) => {
                ctx.reset(name, 0, rec.event_record_id);
                let doc = strip_decl(&rec.data);
                match xml::parse_event_xml(doc, &mut ctx.ev) {
                    Ok(()) => {
                        if ctx.ev.time.is_none() {
                            ctx.ev.time = Some(rec.timestamp.as_microsecond());
                        }
                        ctx.ev.raw.push_str(doc);
                        ctx.emit();
                    }
                    Err(e) => ctx.report.skip(
                        "bad EVTX record",
                        format!("{name}@record {}", rec.event_record_id),
                        format!("rendered XML not readable: {e}"),
                    ),
                }
            }
            Err(e) => {
                let (reason, loc) = match &e {
                    EvtxError::FailedToParseChunk { chunk_id, .. } => {
                        ("bad EVTX chunk", format!("{name}@chunk {chunk_id}"))
                    }
                    EvtxError::FailedToParseRecord { record_id, .. } => {
                        ("bad EVTX record", format!("{name}@record {record_id}"))
                    }
                    EvtxError::FailedToReadRecordAt { chunk, offset, .. } => (
                        "bad EVTX record",
                        match chunk {
                            Some(c) => format!("{name}@chunk {c} offset {offset}"),
                            None => at_offset(name, *offset),
                        },
                    ),
                    _ => ("bad EVTX record", name.to_string()),
                };
                ctx.report.skip(reason, loc, error_chain(&e));
            }
        }
    }
}

fn strip_decl(s: &str) -> &str {
    let t = s.trim_start();
    let t = match t.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(t, |i| &rest[i + 2..]),
        None => t,
    };
    t.trim()
}

/// An error with its sources, `outer: inner: innermost`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_declaration() {
        assert_eq!(strip_decl("<?xml version=\"1.0\"?>\n<Event/>\n"), "<Event/>");
        assert_eq!(strip_decl("<Event/>"), "<Event/>");
    }

    #[test]
    fn garbage_evtx_is_reported() {
        let opts = crate::ReadOptions::default();
        let mut n = 0;
        let mut sink = |_: &vigil_model::Event| n += 1;
        let mut ctx = Ctx::new(&opts, &mut sink);
        let mut data = b"ElfFile\0".to_vec();
        data.extend(std::iter::repeat_n(0xAB, 5000));
        read_evtx_buffer(data, &Arc::from("x.evtx"), &mut ctx);
        assert!(ctx.report.skipped_total() >= 1, "{}", ctx.report);
        assert_eq!(ctx.report.events, 0);
    }
}
