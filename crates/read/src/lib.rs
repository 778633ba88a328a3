//! Format readers: files in, [`vigil_model::Event`]s out. No detection logic lives here.
//!
//! ```text
//! discover(paths) -> files -> read_file(file, opts, sink) -> sink(&Event) ... -> ReadReport
//! ```
//!
//! The format of a file is detected from its content, not its name (see [`sniff`]):
//! - `ElfFile\0` magic: binary EVTX, rendered record by record to XML and then extracted exactly
//!   like an XML line ([`evtx`]).
//! - gzip (`1f 8b`), zstd (`28 b5 2f fd`: the server's sealed store segments) and zip
//!   (`PK\x03\x04`) magic: decompressed and sniffed again; each zip
//!   member is read as its own file named `archive.zip:member` ([`archive`]).
//! - text: read line by line with a bounded, reused buffer. A line holding `<Event ...>` is a
//!   Windows XML event (`sourcetype=XmlWinEventLog`, [`xml`]); a line starting with `{` is a
//!   JSON object (CrowdStrike FDR, Cisco NVM, flat Windows JSON, [`json`]); a pretty-printed
//!   JSON document spanning lines is gathered up to the record size limit; a file starting with
//!   `[` is a JSON array, streamed element by element. Other lines are skipped and counted.
//!
//! Many small records (Kafka records, HEC events) are read together by [`RecordsReader`], each
//! giving exactly what it gives read alone.
//!
//! Reading never panics and never aborts a run: unreadable files and malformed records are
//! counted in the [`ReadReport`] by reason, with the first few locations.

pub mod archive;
pub mod evtx;
mod fields;
pub mod json;
mod kind;
mod lines;
mod records;
mod report;
pub mod sidecar;
mod split;
pub mod timefmt;
mod winevent;
pub mod xml;

pub use records::RecordsReader;
pub use report::{ReadReport, Skipped, MAX_EXAMPLES};
pub use split::{number_pieces, read_piece, read_piece_mut, split_file, Piece, PieceRead};

use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigil_model::Event;

/// Options for reading.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Forces the sourcetype of every event (the CLI's `--sourcetype`). The format is still
    /// detected from content: `xmlwineventlog` on an XML line is parsed as XML.
    pub sourcetype: Option<String>,
    /// Forces the source of every event (`vigil test` replays attack data with the source its
    /// test declares, as Splunk indexes it).
    pub source: Option<String>,
    /// The index every event is in (the CLI's `--index`); `None` is Splunk's default, `main`.
    pub index: Option<String>,
    /// Longest record (line, or gathered multi-line JSON document) accepted, in bytes. Longer
    /// records are skipped and reported as `"record too long"`.
    pub max_record_bytes: usize,
    /// Largest input that may be held in memory whole: an EVTX file inside a .gz or .zip, or a
    /// zip inside a .gz. Larger ones are skipped and reported.
    pub max_buffer_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            sourcetype: None,
            source: None,
            index: None,
            max_record_bytes: 16 * 1024 * 1024,
            max_buffer_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// A file or directory that [`discover`] could not use.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReadError {
    pub path: PathBuf,
    pub message: String,
}

/// Formats recognised by [`sniff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Evtx,
    Gzip,
    Zstd,
    Zip,
    /// Text whose first non-blank character is `<`.
    XmlLines,
    /// Text whose first non-blank character is `{`.
    JsonLines,
    /// Text whose first non-blank character is `[`.
    JsonArray,
    /// Empty input.
    Empty,
    /// Anything else (still read line by line; lines that are events are kept).
    Text,
}

/// Detects a format from the first bytes of an input (a few KiB are plenty).
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(b"ElfFile\0") {
        return Format::Evtx;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Format::Zstd;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match body.iter().find(|c| !c.is_ascii_whitespace()) {
        None => Format::Empty,
        Some(b'<') => Format::XmlLines,
        Some(b'{') => Format::JsonLines,
        Some(b'[') => Format::JsonArray,
        Some(_) => Format::Text,
    }
}

/// Expands paths into the list of files to read: directories are walked recursively in sorted
/// order (deterministic runs), hidden entries (name starting with `.`) are skipped inside
/// directories, and symbolic links to directories are not followed (no cycles). A file named
/// explicitly is always kept. Documentation and metadata files met while walking (`*.md`,
/// `*.yml`/`*.yaml`, `README*`, `LICENSE*`: attack_data dataset folders ship their
/// descriptions next to the logs) are not inputs and are passed over. Paths that do not exist or cannot be listed are returned as
/// errors; the rest of the walk goes on.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<ReadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut errors),
            Ok(_) => files.push(p.clone()),
            Err(e) => errors.push(ReadError { path: p.clone(), message: e.to_string() }),
        }
    }
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<ReadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(ReadError { path: dir.to_path_buf(), message: e.to_string() });
            return;
        }
    };
    let mut list: Vec<(PathBuf, std::fs::FileType)> = Vec::new();
    for entry in entries {
        match entry {
            Ok(en) => {
                if en.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                match en.file_type() {
                    Ok(t) => list.push((en.path(), t)),
                    Err(e) => errors.push(ReadError { path: en.path(), message: e.to_string() }),
                }
            }
            Err(e) => errors.push(ReadError { path: dir.to_path_buf(), message: e.to_string() }),
        }
    }
    list.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, t) in list {
        if t.is_dir() {
            walk(&path, files, errors);
        } else if t.is_symlink() {
            // Follow links to files only.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => files.push(path),
                Ok(_) => {}
                Err(e) => errors.push(ReadError { path, message: e.to_string() }),
            }
        } else if !is_documentation(&path) && !sidecar::is_sidecar(&path) {
            files.push(path);
        }
    }
}

/// Files that describe a dataset rather than hold its events.
fn is_documentation(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    name.starts_with("readme") || name.starts_with("license") || matches!(ext.as_str(), "md" | "yml" | "yaml")
}

/// Reads one file, handing every event to `sink`. Never panics, never fails: problems are in
/// the returned report. The `&Event` given to `sink` is reused between records; clone what
/// must outlive the call.
pub fn read_file(path: &Path, opts: &ReadOptions, sink: &mut dyn FnMut(&Event)) -> ReadReport {
    read_file_to(path, opts, Sink::Shared(sink))
}

/// [`read_file`] into either kind of sink.
pub(crate) fn read_file_to<'a>(path: &Path, opts: &'a ReadOptions, sink: Sink<'a>) -> ReadReport {
    let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let mut ctx = Ctx::new(opts, sink);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            ctx.report.skip("unreadable file", &name, e);
            return ctx.report;
        }
    };
    if let Some(meta) = sidecar::sidecar_for(path) {
        match sidecar::Sidecar::open(&meta) {
            Ok(s) => ctx.sidecar = Some(s),
            Err(e) => ctx.report.repair("store metadata unreadable", meta.display(), e),
        }
    }
    let mut head = [0u8; 8];
    let n = read_head(&file, &mut head);
    let mut file = file;
    if file.seek(io::SeekFrom::Start(0)).is_err() {
        // A pipe (a FIFO, /dev/stdin) cannot go back: its head is read again from memory.
        let head = io::Cursor::new(head[..n].to_vec());
        read_stream_in(&name, Box::new(head.chain(file)), 0, &mut ctx);
        return ctx.report;
    }
    if sniff(&head[..n]) == Format::Evtx {
        ctx.report.files += 1;
        evtx::read_evtx_file(file, &name, &mut ctx);
        if ctx.report.events == 0 && ctx.report.skipped_total() == 0 {
            ctx.report.no_events(&name);
        }
        return ctx.report;
    }
    if sniff(&head[..n]) == Format::Zip {
        ctx.report.files += 1;
        archive::read_zip(file, &name, 0, &mut ctx);
        return ctx.report;
    }
    read_stream_in(&name, Box::new(file), 0, &mut ctx);
    ctx.report
}

/// Reads any byte stream (stdin, a socket, an archive member) as [`read_file`] does, naming
/// it `name` in origins and the report. EVTX and zip content is buffered in memory up to
/// [`ReadOptions::max_buffer_bytes`].
pub fn read_stream(name: &str, reader: impl Read, opts: &ReadOptions, sink: &mut dyn FnMut(&Event)) -> ReadReport {
    let mut ctx = Ctx::new(opts, Sink::Shared(sink));
    read_stream_in(&Arc::from(name), Box::new(reader), 0, &mut ctx);
    ctx.report
}

/// [`read_stream`] over bytes in memory (a request, a Kafka batch, a chunk of a tailed file).
/// Lines are read from the bytes themselves: a stream's buffer is zeroed before its first fill
/// (64 KiB, as much work as reading a small batch), which callers reading many small inputs
/// paid per input.
pub fn read_bytes(name: &str, data: &[u8], opts: &ReadOptions, sink: &mut dyn FnMut(&Event)) -> ReadReport {
    let mut ctx = Ctx::new(opts, Sink::Shared(sink));
    read_bytes_in(&Arc::from(name), data, &mut ctx);
    ctx.report
}

/// [`read_bytes`] handing out the event itself ([`Sink::Owned`]).
pub(crate) fn read_bytes_owned(name: &str, data: &[u8], opts: &ReadOptions, sink: &mut dyn FnMut(&mut Event)) -> ReadReport {
    let mut ctx = Ctx::new(opts, Sink::Owned(sink));
    read_bytes_in(&Arc::from(name), data, &mut ctx);
    ctx.report
}

fn read_bytes_in(name: &Arc<str>, data: &[u8], ctx: &mut Ctx) {
    let format = sniff(&data[..data.len().min(kind::HEAD_BYTES)]);
    if !matches!(format, Format::XmlLines | Format::JsonLines) {
        return read_stream_in(name, Box::new(data), 0, ctx);
    }
    ctx.report.files += 1;
    let before = (ctx.report.events, ctx.report.skipped_total());
    lines::read_lines(&mut &data[..], name, format, ctx);
    ctx.report.bytes += data.len() as u64;
    if (ctx.report.events, ctx.report.skipped_total()) == before {
        ctx.report.no_events(name);
    }
}

fn read_head(mut f: &std::fs::File, head: &mut [u8]) -> usize {
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

/// Archives nest at most this deep (zip in gz in zip ...).
const MAX_DEPTH: usize = 4;

/// Sniffs a stream and dispatches it to the reader for its format.
pub(crate) fn read_stream_in(name: &Arc<str>, reader: Box<dyn Read + '_>, depth: usize, ctx: &mut Ctx) {
    ctx.report.files += 1;
    let mut counted = CountingReader { inner: reader, count: 0 };
    let mut head = Vec::with_capacity(kind::HEAD_BYTES);
    if let Err(e) = (&mut counted).take(kind::HEAD_BYTES as u64).read_to_end(&mut head) {
        ctx.report.skip("unreadable file", name, e);
        return;
    }
    let format = sniff(&head);
    if matches!(format, Format::Gzip | Format::Zstd | Format::Zip | Format::Evtx) && depth >= MAX_DEPTH {
        ctx.report.skip("archive nested too deep", name, format!("{format:?}"));
        return;
    }
    if format == Format::Text {
        if let Some(kind) = kind::not_a_log(&head) {
            ctx.report.not_log(kind, name);
            return;
        }
    }
    let (events_before, skipped_before) = (ctx.report.events, ctx.report.skipped_total());
    let rest = io::Cursor::new(head).chain(&mut counted);
    match format {
        Format::Gzip => {
            let gz = flate2::read::MultiGzDecoder::new(rest);
            // The decompressed content is the same file, so it is not counted twice.
            ctx.report.files -= 1;
            read_stream_in(name, Box::new(gz), depth + 1, ctx);
        }
        Format::Zstd => match zstd::stream::read::Decoder::new(rest) {
            Ok(z) => {
                ctx.report.files -= 1;
                read_stream_in(name, Box::new(z), depth + 1, ctx);
            }
            Err(e) => ctx.report.skip("unreadable file", name, e),
        },
        Format::Zip | Format::Evtx => match buffer(rest, ctx.opts.max_buffer_bytes) {
            Ok(buf) if format == Format::Zip => archive::read_zip(io::Cursor::new(buf), name, depth + 1, ctx),
            Ok(buf) => evtx::read_evtx_buffer(buf, name, ctx),
            Err(e) => ctx.report.skip("unreadable file", name, e),
        },
        Format::JsonArray => {
            let mut br = BufReader::with_capacity(64 * 1024, rest);
            json::read_json_array(&mut br, name, ctx);
        }
        Format::Empty | Format::XmlLines | Format::JsonLines | Format::Text => {
            let mut br = BufReader::with_capacity(64 * 1024, rest);
            lines::read_lines(&mut br as &mut dyn BufRead, name, format, ctx);
        }
    }
    // Only the stream's own bytes: a gzip layer counts its decompressed bytes in the inner call.
    if !matches!(format, Format::Gzip | Format::Zstd) {
        ctx.report.bytes += counted.count;
    }
    // An archive's members say for themselves; a file or member with nothing in it is named.
    let container = matches!(format, Format::Gzip | Format::Zip);
    if !container && ctx.report.events == events_before && ctx.report.skipped_total() == skipped_before {
        ctx.report.no_events(name);
    }
}

fn buffer(r: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::other(format!("larger than the in-memory limit of {max} bytes")));
    }
    Ok(buf)
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Where [`Ctx::emit`] hands the events.
pub(crate) enum Sink<'a> {
    /// The reader's event, to look at (what [`read_file`] and [`read_stream`] give).
    Shared(&'a mut dyn FnMut(&Event)),
    /// The reader's event, which the sink may swap for one this reader handed out before,
    /// with the `index` and `derived_from` the reader gave it (the line readers reset every
    /// other part before the next event; `records.rs` keeps events this way, not copied), or
    /// add fields to and remove them again ([`read_piece_mut`]).
    Owned(&'a mut dyn FnMut(&mut Event)),
}

/// State shared by the readers of one `read_file` call: options, report, sink and the reused
/// event buffer.
pub(crate) struct Ctx<'a> {
    pub opts: &'a ReadOptions,
    pub report: ReadReport,
    sink: Sink<'a>,
    pub ev: Event,
    /// Field strings of earlier events, reused by the XML extractor.
    pub spare: fields::Spare,
    /// Reused buffers of the JSON line scanner.
    pub json: json::fast::Scratch,
    /// EVTX records through the reference path only (render, then the full quick-xml
    /// extractor): for the differential test, see [`evtx::read_evtx_reference`].
    pub evtx_reference: bool,
    /// EVTX records through the BinXML reader ([`evtx::binxml`]) where it applies, else rendered
    /// by the crate and parsed. On unless `VIGIL_EVTX_BINXML=0` (for comparisons).
    pub evtx_binxml: bool,
    /// The BinXML reader without its compiled programs (its general renderer only), for the
    /// differential test.
    pub evtx_general_only: bool,
    /// EVTX records the BinXML reader took (the rest were rendered by the crate and parsed).
    pub evtx_fast: u64,
    /// The store metadata beside the file being read, applied to every event ([`sidecar`]).
    sidecar: Option<sidecar::Sidecar>,
}

impl<'a> Ctx<'a> {
    fn new(opts: &'a ReadOptions, sink: Sink<'a>) -> Self {
        Ctx {
            opts,
            report: ReadReport::default(),
            sink,
            ev: Event::default(),
            spare: Vec::new(),
            json: Default::default(),
            evtx_reference: false,
            evtx_binxml: std::env::var_os("VIGIL_EVTX_BINXML").is_none_or(|v| v != "0"),
            evtx_general_only: false,
            evtx_fast: 0,
            sidecar: None,
        }
    }

    /// Clears the event buffer (keeping allocations, field strings go to `spare`) and sets its
    /// origin.
    pub fn reset(&mut self, file: &Arc<str>, line: u64, offset: u64) {
        fields::recycle(&mut self.ev.fields, &mut self.spare);
        self.reset_keep_fields(file, line, offset);
    }

    /// [`Self::reset`] but the previous event's fields stay, for a reader that writes over
    /// them (the EVTX BinXML reader) and recycles what it does not.
    pub fn reset_keep_fields(&mut self, file: &Arc<str>, line: u64, offset: u64) {
        let ev = &mut self.ev;
        ev.time = None;
        ev.source.clear();
        ev.sourcetype.clear();
        ev.host.clear();
        ev.raw.clear();
        if !Arc::ptr_eq(&ev.origin.file, file) {
            ev.origin.file = Arc::clone(file);
        }
        ev.origin.line = line;
        ev.origin.offset = offset;
    }

    /// Hands the event buffer to the sink, applying the sourcetype and source overrides.
    pub fn emit(&mut self) {
        if let Some(sc) = &mut self.sidecar {
            match sc.line(self.ev.origin.line) {
                Ok(meta) => meta.apply(&mut self.ev),
                // Not stored yet (being written) or damaged: without its metadata the event
                // would carry the wrong time and no arrival.
                Err(e) => {
                    self.report.skip("event without store metadata", at_line(&self.ev.origin.file, self.ev.origin.line), e);
                    return;
                }
            }
        }
        if let Some(st) = &self.opts.sourcetype {
            self.ev.sourcetype.clone_from(st);
        }
        if let Some(src) = &self.opts.source {
            self.ev.source.clone_from(src);
        }
        if let Some(index) = &self.opts.index {
            self.ev.index.clone_from(index);
        }
        match &mut self.sink {
            Sink::Shared(sink) => sink(&self.ev),
            Sink::Owned(sink) => sink(&mut self.ev),
        }
        self.report.events += 1;
    }
}

/// `file:line` for messages.
pub(crate) fn at_line(file: &str, line: u64) -> String {
    format!("{file}:{line}")
}

/// `file@offset` for messages.
pub(crate) fn at_offset(file: &str, offset: u64) -> String {
    format!("{file}@{offset}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"ElfFile\0rest"), Format::Evtx);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Format::Zstd);
        assert_eq!(sniff(b"PK\x03\x04..."), Format::Zip);
        assert_eq!(sniff(b"\xEF\xBB\xBF  <Event"), Format::XmlLines);
        assert_eq!(sniff(b"\n\n{\"a\":1}"), Format::JsonLines);
        assert_eq!(sniff(b" [ {"), Format::JsonArray);
        assert_eq!(sniff(b"  \n"), Format::Empty);
        assert_eq!(sniff(b"01/14/2021 11:41:39 PM"), Format::Text);
    }

    #[test]
    fn discover_sorts_and_skips_hidden() {
        let dir = std::env::temp_dir().join(format!("vigil-read-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::create_dir_all(dir.join(".hid")).unwrap();
        for f in ["b.log", "a.log", ".hidden", "sub/c.json", ".hid/x"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        let (files, errors) = discover(&[dir.clone(), dir.join("missing")]);
        let names: Vec<String> = files.iter().map(|p| p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.log", "b.log", "sub/c.json"]);
        assert_eq!(errors.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unreadable_file_is_reported() {
        let r = read_file(Path::new("/nonexistent/x.log"), &ReadOptions::default(), &mut |_| {});
        assert_eq!(r.skipped_count("unreadable file"), 1);
        assert_eq!(r.events, 0);
    }

    /// Bytes in memory read in place give the events and report a stream reader gives.
    #[test]
    fn bytes_read_in_place_match_a_stream() {
        let xml = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:05:00.000Z'/><Computer>ws1</Computer></System><EventData><Data Name='Image'>C:\\x.exe</Data></EventData></Event>";
        let inputs = [
            format!("{xml}\n{xml}\nnot an event\n{xml}"),
            "{\"a\":1,\"_time\":\"2026-11-20T10:05:00Z\"}\n{broken\n{\"b\":\"x\"}\n".to_string(),
            "01/14/2021 11:41:39 PM some text log line\n".to_string(),
            "[{\"a\":1}]".to_string(),
            String::new(),
            // A record longer than the readers take, between two events.
            format!("{xml}\n<Event {}</Event>\n{xml}\n", "x".repeat(ReadOptions::default().max_record_bytes + 10)),
        ];
        for input in &inputs {
            let (mut streamed, mut in_place) = (Vec::new(), Vec::new());
            let a = read_stream("n", input.as_bytes(), &ReadOptions::default(), &mut |ev| streamed.push(ev.clone()));
            let b = read_bytes("n", input.as_bytes(), &ReadOptions::default(), &mut |ev| in_place.push(ev.clone()));
            let mut owned = Vec::new();
            let c = read_bytes_owned("n", input.as_bytes(), &ReadOptions::default(), &mut |ev| owned.push(ev.clone()));
            assert_eq!(a, b, "{input}");
            assert_eq!(a, c, "{input}");
            assert_eq!(format!("{streamed:?}"), format!("{in_place:?}"), "{input}");
            assert_eq!(format!("{streamed:?}"), format!("{owned:?}"), "{input}");
        }
    }
}
