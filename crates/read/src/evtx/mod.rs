//! Binary EVTX files. The `evtx` crate reads the file header and chunks and iterates (and
//! validates) the records; each record is then read from its BinXML by
//! [`crate::evtx::binxml`], which writes the XML the crate would render and extracts its fields
//! in one pass, or, for the shapes that reader leaves alone, rendered to XML by the crate and
//! extracted by [`crate::xml::parse_event_xml`]. Either way EVTX and XML exports give identical
//! fields (`tests/evtx_direct.rs` checks every real record of both paths against render + the
//! full quick-xml extractor).
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

pub(crate) mod binxml;
pub(crate) mod compile;
pub(crate) mod extract;
pub(crate) mod instance;
pub(crate) mod program;
pub(crate) mod template;
pub(crate) mod values;

use evtx::err::EvtxError;
use evtx::{EvtxChunkData, EvtxChunkHeader, EvtxParser, ParserSettings};

use crate::evtx::binxml::BinXml;
use crate::{at_offset, xml, Ctx};

/// Reads an EVTX file from disk chunk by chunk (the file is not loaded whole).
pub(crate) fn read_evtx_file(file: std::fs::File, name: &Arc<str>, ctx: &mut Ctx) {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    ctx.report.bytes += len;
    let mut header = [0u8; 44];
    let mut f = &file;
    let header_ok = f.read_exact(&mut header).is_ok();
    if let Err(e) = f.seek(std::io::SeekFrom::Start(0)) {
        ctx.report.skip("unreadable file", name.as_ref(), e);
        return;
    }
    read_evtx(file, name, ctx);
    if header_ok {
        report_truncation(&header, len, name, ctx);
    }
}

/// Reads an EVTX file held in memory (from inside an archive).
pub(crate) fn read_evtx_buffer(buf: Vec<u8>, name: &Arc<str>, ctx: &mut Ctx) {
    let len = buf.len() as u64;
    let header: Option<[u8; 44]> = buf.get(..44).and_then(|h| h.try_into().ok());
    read_evtx(Cursor::new(buf), name, ctx);
    if let Some(header) = header {
        report_truncation(&header, len, name, ctx);
    }
}

const FILE_HEADER_BYTES: u64 = 4096;
pub(crate) const CHUNK_BYTES: u64 = 65536;

/// The `evtx` crate reads whole 64 KiB chunks and silently ignores a partial last chunk, or
/// chunks missing altogether: a file cut short (a crashed host, an interrupted copy) must say
/// what was lost. `header` is the first 44 bytes (the chunk count is at offset 42).
fn report_truncation(header: &[u8; 44], len: u64, name: &Arc<str>, ctx: &mut Ctx) {
    if len < FILE_HEADER_BYTES {
        return; // The parser already reported the unreadable header.
    }
    let whole = (len - FILE_HEADER_BYTES) / CHUNK_BYTES;
    let partial = (len - FILE_HEADER_BYTES) % CHUNK_BYTES;
    let declared = u64::from(u16::from_le_bytes([header[42], header[43]]));
    if partial > 0 {
        let at = FILE_HEADER_BYTES + whole * CHUNK_BYTES;
        let msg = format!("the file ends {partial} bytes into chunk {whole} (chunks are {CHUNK_BYTES} bytes); its records were not read");
        ctx.report.skip("truncated EVTX", at_offset(name, at), msg);
    } else if declared > whole {
        // Dirty files may declare fewer chunks than they hold, never more.
        let msg = format!("the header declares {declared} chunks but the file holds {whole}; the rest is missing");
        ctx.report.skip("truncated EVTX", at_offset(name, len), msg);
    }
}

fn read_evtx<T: Read + Seek + 'static>(input: T, name: &Arc<str>, ctx: &mut Ctx) {
    let result = catch_unwind(AssertUnwindSafe(|| read_evtx_inner(input, name, ctx)));
    if result.is_err() {
        ctx.report.skip("EVTX parser panic", name, "the evtx parser panicked; rest of file skipped");
    }
}

fn read_evtx_inner<T: Read + Seek + 'static>(input: T, name: &Arc<str>, ctx: &mut Ctx) {
    let mut parser = match EvtxParser::from_read_seek(input) {
        Ok(p) => p.with_configuration(settings()),
        Err(e) => {
            ctx.report.skip("bad EVTX file", name, error_chain(&e));
            return;
        }
    };
    if ctx.evtx_reference || !ctx.evtx_binxml {
        // The crate's own record iteration, every record rendered and parsed.
        for record in parser.records() {
            match record {
                Ok(rec) => {
                    ctx.reset(name, 0, rec.event_record_id);
                    emit_rendered(ctx, name, rec.event_record_id, rec.timestamp, &rec.data);
                }
                Err(e) => report_error(ctx, name, &e),
            }
        }
        return;
    }
    // What `records()` does (chunks in record order, each parsed and its records iterated,
    // with the same errors), but each record is read from its BinXML when
    // [`BinXml`] can, and rendered by the crate otherwise.
    let settings = Arc::new(settings());
    let mut bx = BinXml::default();
    bx.general_only = ctx.evtx_general_only;
    for chunk in parser.chunks() {
        read_chunk(chunk, &settings, &mut bx, name, ctx);
    }
}

/// The crate's parser settings for reading records.
fn settings() -> ParserSettings {
    ParserSettings::new().indent(false).num_threads(1)
}

/// Reads the records of one chunk (or reports why it cannot be read).
fn read_chunk(chunk: Result<EvtxChunkData, EvtxError>, settings: &Arc<ParserSettings>, bx: &mut BinXml, name: &Arc<str>, ctx: &mut Ctx) {
    let mut data = match chunk {
        Ok(data) => data,
        Err(e) => {
            report_error(ctx, name, &e);
            return;
        }
    };
    let number = data.number.unwrap_or(0);
    let mut chunk = match data.parse(Arc::clone(settings)) {
        Ok(chunk) => chunk,
        Err(e) => {
            report_error(ctx, name, &EvtxError::FailedToParseChunk { chunk_id: number, source: Box::new(e) });
            return;
        }
    };
    bx.new_chunk();
    for record in chunk.iter() {
        let rec = match record {
            Ok(rec) => rec,
            Err(e) => {
                report_error(ctx, name, &e);
                continue;
            }
        };
        let (id, timestamp) = (rec.event_record_id, rec.timestamp);
        ctx.reset_keep_fields(name, 0, id);
        let (offset, size) = (rec.binxml_offset as usize, rec.binxml_size as usize);
        if bx.read_record(rec.chunk.data, offset, size, &mut ctx.ev, &mut ctx.spare) {
            if ctx.ev.time.is_none() {
                ctx.ev.time = Some(timestamp.as_microsecond());
            }
            ctx.evtx_fast += 1;
            ctx.emit();
            continue;
        }
        crate::fields::recycle(&mut ctx.ev.fields, &mut ctx.spare);
        ctx.ev.time = None;
        match rec.into_xml() {
            Ok(rendered) => emit_rendered(ctx, name, id, timestamp, &rendered.data),
            Err(e) => report_error(ctx, name, &e),
        }
    }
}

/// The chunk numbers of an EVTX file in the order the crate's `chunks()` visits them (from
/// the chunk holding the oldest records to the end of the file, then from its start), or
/// `None` when the file header cannot be read. Reads only the chunk headers.
pub(crate) fn chunk_order(file: &std::fs::File) -> Option<Vec<u64>> {
    let mut f = file;
    f.seek(std::io::SeekFrom::Start(0)).ok()?;
    let header = evtx::EvtxFileHeader::from_stream(&mut f).ok()?;
    // The crate counts chunks after the declared header size but reads them after 4096 bytes:
    // with any other size it may read chunks past its count, which this order would miss.
    if u64::from(header.header_block_size) != FILE_HEADER_BYTES {
        return None;
    }
    let len = file.metadata().ok()?.len();
    let count = len.checked_sub(u64::from(header.header_block_size))? / CHUNK_BYTES;
    // What `EvtxParser::oldest_chunk` picks: the first chunk with the lowest first record id.
    let mut oldest = (u64::MAX, 0);
    let mut head = [0u8; 512];
    for number in 0..count {
        if f.seek(std::io::SeekFrom::Start(FILE_HEADER_BYTES + number * CHUNK_BYTES)).is_err() || f.read_exact(&mut head).is_err() {
            break;
        }
        if let Ok(h) = EvtxChunkHeader::from_bytes(&head) {
            if h.first_event_record_id <= h.last_event_record_id && h.first_event_record_id < oldest.0 {
                oldest = (h.first_event_record_id, number);
            }
        }
    }
    Some((oldest.1..count).chain(0..oldest.1).collect())
}

/// Loads one chunk as the crate's parser does: `Ok(None)` for an empty (all-zero) chunk.
fn load_chunk(file: &std::fs::File, number: u64) -> Result<Option<EvtxChunkData>, EvtxError> {
    use evtx::err::ChunkError;
    let fail = |e: ChunkError| EvtxError::FailedToParseChunk { chunk_id: number, source: Box::new(e) };
    let mut f = file;
    f.seek(std::io::SeekFrom::Start(FILE_HEADER_BYTES + number * CHUNK_BYTES)).map_err(|e| fail(ChunkError::FailedToSeekToChunk(e)))?;
    let mut data = Vec::with_capacity(CHUNK_BYTES as usize);
    let read = f.take(CHUNK_BYTES).read_to_end(&mut data).map_err(|_| fail(ChunkError::IncompleteChunk))?;
    if read as u64 != CHUNK_BYTES {
        return Err(fail(ChunkError::IncompleteChunk));
    }
    if data.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let mut chunk = EvtxChunkData::new(data, false).map_err(fail)?;
    chunk.number = Some(number);
    Ok(Some(chunk))
}

/// Reads some chunks of an EVTX file (numbers in the order of [`chunk_order`]), one piece of
/// the file read on its own. The first piece counts the file and its bytes, the last one
/// reports a truncated file, so that the pieces' reports add up to the whole file's. Returns
/// false when the crate panicked: the whole-file read would have stopped there.
pub(crate) fn read_evtx_chunks(file: &std::fs::File, name: &Arc<str>, chunks: &[u64], first: bool, last: bool, ctx: &mut Ctx) -> bool {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if first {
        ctx.report.files += 1;
        ctx.report.bytes += len;
    }
    let settings = Arc::new(settings());
    let mut bx = BinXml::default();
    bx.general_only = ctx.evtx_general_only;
    let read = catch_unwind(AssertUnwindSafe(|| {
        for &number in chunks {
            match load_chunk(file, number) {
                Ok(None) => {}
                Ok(Some(data)) => read_chunk(Ok(data), &settings, &mut bx, name, ctx),
                Err(e) => read_chunk(Err(e), &settings, &mut bx, name, ctx),
            }
        }
    }));
    if read.is_err() {
        ctx.report.skip("EVTX parser panic", name, "the evtx parser panicked; rest of file skipped");
        return false;
    }
    let mut header = [0u8; 44];
    let mut f = file;
    if last && f.seek(std::io::SeekFrom::Start(0)).is_ok() && f.read_exact(&mut header).is_ok() {
        report_truncation(&header, len, name, ctx);
    }
    true
}

/// Extracts and emits a record the crate rendered (`ctx` reset for it).
fn emit_rendered(ctx: &mut Ctx, name: &Arc<str>, id: u64, timestamp: evtx::Timestamp, rendered: &str) {
    let doc = strip_decl(rendered);
    let parsed = if ctx.evtx_reference {
        xml::parse_event_xml_full(doc, &mut ctx.ev)
    } else {
        xml::parse_event_xml_pooled(doc, &mut ctx.ev, &mut ctx.spare)
    };
    match parsed {
        Ok(()) => {
            if ctx.ev.time.is_none() {
                ctx.ev.time = Some(timestamp.as_microsecond());
            }
            ctx.ev.raw.push_str(doc);
            ctx.emit();
        }
        Err(e) => ctx.report.skip("bad EVTX record", format!("{name}@record {id}"), format!("rendered XML not readable: {e}")),
    }
}

/// Counts a chunk or record the crate could not read.
fn report_error(ctx: &mut Ctx, name: &Arc<str>, e: &EvtxError) {
    let (reason, loc) = match e {
        EvtxError::FailedToParseChunk { chunk_id, .. } => ("bad EVTX chunk", format!("{name}@chunk {chunk_id}")),
        EvtxError::FailedToParseRecord { record_id, .. } => ("bad EVTX record", format!("{name}@record {record_id}")),
        EvtxError::FailedToReadRecordAt { chunk, offset, .. } => (
            "bad EVTX record",
            match chunk {
                Some(c) => format!("{name}@chunk {c} offset {offset}"),
                None => at_offset(name, *offset),
            },
        ),
        _ => ("bad EVTX record", name.to_string()),
    };
    ctx.report.skip(reason, loc, error_chain(e));
}

/// The declaration the `evtx` crate writes before every record.
const DECL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

fn strip_decl(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix(DECL) {
        return rest.trim(); // what the general case below gives, without the search for `?>`
    }
    let t = s.trim_start();
    let t = match t.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(t, |i| &rest[i + 2..]),
        None => t,
    };
    t.trim()
}

/// Reads an EVTX file through the reference path only: every record rendered to XML and
/// extracted by the full quick-xml extractor ([`xml::parse_event_xml_full`]), the definition
/// of the fields. For differential tests of the fast extractors; [`crate::read_file`] is the
/// reader.
#[doc(hidden)]
pub fn read_evtx_reference(
    path: &std::path::Path,
    opts: &crate::ReadOptions,
    sink: &mut dyn FnMut(&vigil_model::Event),
) -> crate::ReadReport {
    read_evtx_path(path, opts, sink, |ctx| ctx.evtx_reference = true).0
}

/// Reads an EVTX file through the BinXML reader ([`crate::evtx::binxml`], falling back per
/// record to render + parse) and returns its report with the number of records the BinXML
/// reader took. For the differential test (`tests/evtx_direct.rs`); [`crate::read_file`] takes
/// this path unless `VIGIL_EVTX_BINXML=0`.
#[doc(hidden)]
pub fn read_evtx_binxml(
    path: &std::path::Path,
    opts: &crate::ReadOptions,
    sink: &mut dyn FnMut(&vigil_model::Event),
) -> (crate::ReadReport, u64) {
    read_evtx_path(path, opts, sink, |ctx| ctx.evtx_binxml = true)
}

/// [`read_evtx_binxml`] with the BinXML reader's general renderer only (no compiled programs),
/// so that the differential test covers it on every record.
#[doc(hidden)]
pub fn read_evtx_binxml_general(
    path: &std::path::Path,
    opts: &crate::ReadOptions,
    sink: &mut dyn FnMut(&vigil_model::Event),
) -> (crate::ReadReport, u64) {
    read_evtx_path(path, opts, sink, |ctx| {
        ctx.evtx_binxml = true;
        ctx.evtx_general_only = true;
    })
}

/// Reads one EVTX file with `setup` applied to its context: the report and the records the
/// BinXML reader took.
fn read_evtx_path(
    path: &std::path::Path,
    opts: &crate::ReadOptions,
    sink: &mut dyn FnMut(&vigil_model::Event),
    setup: impl FnOnce(&mut Ctx),
) -> (crate::ReadReport, u64) {
    let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let mut ctx = Ctx::new(opts, crate::Sink::Shared(sink));
    setup(&mut ctx);
    match std::fs::File::open(path) {
        Ok(f) => {
            ctx.report.files += 1;
            read_evtx_file(f, &name, &mut ctx);
        }
        Err(e) => ctx.report.skip("unreadable file", name.as_ref(), e),
    }
    let fast = ctx.evtx_fast;
    (ctx.report, fast)
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
        assert_eq!(strip_decl("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Event/>\n"), "<Event/>");
    }

    #[test]
    fn garbage_evtx_is_reported() {
        let opts = crate::ReadOptions::default();
        let mut n = 0;
        let mut sink = |_: &vigil_model::Event| n += 1;
        let mut ctx = Ctx::new(&opts, crate::Sink::Shared(&mut sink));
        let mut data = b"ElfFile\0".to_vec();
        data.extend(std::iter::repeat_n(0xAB, 5000));
        read_evtx_buffer(data, &Arc::from("x.evtx"), &mut ctx);
        assert!(ctx.report.skipped_total() >= 1, "{}", ctx.report);
        assert_eq!(ctx.report.events, 0);
    }
}
