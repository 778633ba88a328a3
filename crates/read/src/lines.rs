//! Line-oriented reading with a bounded, reused buffer, and per-line dispatch to the XML and
//! JSON extractors.

use std::io::{self, BufRead};
use std::sync::Arc;

use crate::{at_line, json, xml, Ctx, Format};

/// Outcome of reading one line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Eof,
    /// A line of this many bytes (with its terminator) is in the buffer.
    Ok(usize),
    /// A line of this many bytes was longer than the limit; it was consumed, not kept.
    TooLong(usize),
}

/// Reads one line (through `\n`) into `buf`, keeping at most `max` bytes (plus the line
/// terminator) in memory: a longer line is consumed and dropped. This is `read_until` with a
/// cap, so that one enormous line cannot exhaust memory.
pub(crate) fn read_line_bounded(r: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            break;
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if !too_long {
            if buf.len() + take > max.saturating_add(2) {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&avail[..take]);
            }
        }
        r.consume(take);
        total += take;
        if done {
            break;
        }
    }
    Ok(match (total, too_long) {
        (0, _) => Line::Eof,
        (n, true) => Line::TooLong(n),
        (n, false) => Line::Ok(n),
    })
}

fn strip_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// A record that spans lines and is being gathered.
struct Pending {
    json: bool,
    line: u64,
    offset: u64,
    text: String,
}

/// Does this line start a classic (non-XML) WinEventLog record, `01/14/2021 11:41:39 PM`?
/// Used only to count skipped classic records one per record rather than one per line.
fn classic_header(t: &str) -> bool {
    classic_header_bytes(t.as_bytes())
}

/// [`classic_header`] over bytes (for telling logs from other files, see [`crate::kind`]).
pub(crate) fn classic_header_bytes(b: &[u8]) -> bool {
    b.len() >= 11
        && b[0..2].iter().all(u8::is_ascii_digit)
        && b[2] == b'/'
        && b[3..5].iter().all(u8::is_ascii_digit)
        && b[5] == b'/'
        && b[6..10].iter().all(u8::is_ascii_digit)
        && b[10] == b' '
}

/// Where a run of lines sits in its file: the whole file, or one piece of it
/// ([`crate::split`]) read on its own.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LineSpan {
    /// Lines before the first one read (its number is this plus one).
    pub lines_before: u64,
    /// Byte offset of the first line read.
    pub offset: u64,
    /// `None` when the run ends with the file; otherwise whether the line right after it
    /// starts with `{` (a piece ends only before a line starting with `{` or `<Event`).
    pub next_is_json: Option<bool>,
}

impl LineSpan {
    pub const WHOLE: LineSpan = LineSpan { lines_before: 0, offset: 0, next_is_json: None };
}

/// Reads a text stream line by line. See the crate docs for what is recognised.
pub(crate) fn read_lines(r: &mut dyn BufRead, name: &Arc<str>, format: Format, ctx: &mut Ctx) {
    read_lines_span(r, name, format, LineSpan::WHOLE, ctx);
}

/// [`read_lines`] over one run of lines. Returns whether what was read is exactly what the
/// whole-file read gives for these lines (false when a record was left open at the end of a
/// piece, where the whole-file read would have gone on into the next one, or reading failed),
/// and how many lines it read.
pub(crate) fn read_lines_span(r: &mut dyn BufRead, name: &Arc<str>, format: Format, span: LineSpan, ctx: &mut Ctx) -> (bool, u64) {
    let max = ctx.opts.max_record_bytes;
    let junk_reason = match format {
        Format::JsonLines => "not JSON",
        Format::XmlLines => "not an XML event",
        _ => "unrecognized line",
    };
    let mut buf = Vec::with_capacity(8192);
    let mut line_no = span.lines_before;
    let mut offset = span.offset;
    let mut pending: Option<Pending> = None;
    let mut exact = true;
    let mut junk_run = false;
    loop {
        let start = offset;
        match read_line_bounded(r, &mut buf, max) {
            Ok(Line::Eof) => break,
            Ok(Line::TooLong(n)) => {
                line_no += 1;
                offset += n as u64;
                ctx.report.skip("record too long", at_line(name, line_no), format!("{n} bytes"));
                pending = None;
                junk_run = false;
                continue;
            }
            Ok(Line::Ok(n)) => {
                line_no += 1;
                offset += n as u64;
            }
            Err(e) => {
                ctx.report.skip("read error", at_line(name, line_no + 1), e);
                // The whole-file read stops here; the pieces after this one would not.
                exact = span.next_is_json.is_none();
                break;
            }
        }
        let line = strip_eol(&buf);
        // Valid UTF-8 (nearly always) is borrowed after one fast check; `from_utf8_lossy`
        // alone walks the line chunk by chunk, several times slower.
        let text = match std::str::from_utf8(line) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(e) => {
                ctx.report.repair("invalid UTF-8 replaced", at_line(name, line_no), format_args!("byte {} of the line", e.valid_up_to()));
                String::from_utf8_lossy(line)
            }
        };
        let t = text.trim_start_matches('\u{feff}').trim_start();

        if let Some(mut p) = pending.take() {
            // A new top-level JSON object at column 0 while gathering: the gathered one was cut.
            let restart = p.json && text.starts_with('{');
            if restart {
                ctx.report.skip("malformed JSON", at_line(name, p.line), "truncated JSON document");
            } else {
                p.text.push('\n');
                p.text.push_str(&text);
                if p.text.len() > max {
                    ctx.report.skip("record too long", at_line(name, p.line), "multi-line record");
                    continue;
                }
                if p.json {
                    if t.ends_with('}') || t.ends_with(']') {
                        match serde_json::from_str::<serde_json::Value>(&p.text) {
                            Ok(v) => {
                                ctx.reset(name, p.line, p.offset);
                                json::emit_value(v, &p.text, ctx);
                            }
                            Err(e) if e.is_eof() => pending = Some(p),
                            Err(e) => ctx.report.skip("malformed JSON", at_line(name, p.line), e),
                        }
                    } else {
                        pending = Some(p);
                    }
                } else if let Some(end) = EVENT_END.find(p.text.as_bytes()) {
                    let doc = &p.text[..end + "</Event>".len()];
                    xml_event(doc, name, p.line, p.offset, ctx);
                } else {
                    pending = Some(p);
                }
                continue;
            }
        }

        if t.is_empty() {
            continue;
        }
        if t.starts_with('{') {
            junk_run = false;
            ctx.reset(name, line_no, start);
            match json::emit_line(t, ctx) {
                Ok(()) => {}
                Err(e) if e.is_eof() => pending = Some(Pending { json: true, line: line_no, offset: start, text: t.to_string() }),
                Err(e) => ctx.report.skip("malformed JSON", at_line(name, line_no), e),
            }
            continue;
        }
        // An XML event may follow a prefix (a syslog header, a timestamp): the event is the
        // `<Event ...>...</Event>` part.
        if let Some(at) = find_event_start(t, 0) {
            junk_run = false;
            let lead = (text.len() - t.len() + at) as u64;
            pending = xml_line(&t[at..], name, line_no, start + lead, ctx);
            continue;
        }
        if !junk_run || classic_header(t) {
            let mut m = t.to_string();
            crate::report::truncate(&mut m, 80);
            ctx.report.skip(junk_reason, at_line(name, line_no), m);
        }
        junk_run = true;
    }
    match (pending, span.next_is_json) {
        (None, _) => {}
        (Some(p), None) => {
            let reason = if p.json { "malformed JSON" } else { "malformed XML event" };
            ctx.report.skip(reason, at_line(name, p.line), "truncated at end of input");
        }
        // What the whole-file read does when a line starting with `{` cuts a gathered document.
        (Some(p), Some(true)) if p.json => ctx.report.skip("malformed JSON", at_line(name, p.line), "truncated JSON document"),
        (Some(_), Some(_)) => exact = false,
    }
    (exact, line_no - span.lines_before)
}

/// Searchers for an event's start and end tags, built once: `str::find` and `memmem::find`
/// build theirs on every call (~280 instructions, twice per XML line).
static EVENT_START: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"<Event"));
static EVENT_END: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"</Event>"));

/// Finds `<Event` followed by a space, `>` or `/` (not `<Events>`), from byte `from`.
fn find_event_start(s: &str, from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(k) = s.as_bytes().get(i..).and_then(|rest| EVENT_START.find(rest)) {
        let at = i + k;
        match s.as_bytes().get(at + 6) {
            Some(b' ' | b'>' | b'/' | b'\t' | b'\r' | b'\n') | None => return Some(at),
            _ => i = at + 6,
        }
    }
    None
}

/// Extracts every `<Event>...</Event>` on a line (one per line usually; a wevtutil export puts
/// many inside `<Events>`). An event opened but not closed on the line is returned as a
/// pending multi-line record (pretty-printed XML).
fn xml_line(t: &str, name: &Arc<str>, line: u64, offset: u64, ctx: &mut Ctx) -> Option<Pending> {
    let mut from = 0;
    while let Some(s) = find_event_start(t, from) {
        let rest = &t.as_bytes()[s..];
        let gt = memchr::memchr(b'>', rest);
        let self_closing = gt.is_some_and(|gt| rest[..gt + 1].ends_with(b"/>"));
        let end = if self_closing { gt.map(|gt| s + gt + 1) } else { EVENT_END.find(rest).map(|e| s + e + "</Event>".len()) };
        match end {
            Some(e) => {
                xml_event(&t[s..e], name, line, offset + s as u64, ctx);
                from = e;
            }
            None => return Some(Pending { json: false, line, offset: offset + s as u64, text: t[s..].to_string() }),
        }
    }
    None
}

fn xml_event(doc: &str, name: &Arc<str>, line: u64, offset: u64, ctx: &mut Ctx) {
    ctx.reset(name, line, offset);
    match xml::parse_event_xml_pooled(doc, &mut ctx.ev, &mut ctx.spare) {
        Ok(()) => {
            ctx.ev.raw.push_str(doc);
            ctx.emit();
        }
        Err(e) => ctx.report.skip("malformed XML event", at_line(name, line), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let data = b"short\nthis line is too long\r\nok\r\nlast";
        let mut r = io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 8).unwrap(), Line::Ok(6));
        assert_eq!(strip_eol(&buf), b"short");
        assert_eq!(read_line_bounded(&mut r, &mut buf, 8).unwrap(), Line::TooLong(23));
        assert_eq!(read_line_bounded(&mut r, &mut buf, 8).unwrap(), Line::Ok(4));
        assert_eq!(strip_eol(&buf), b"ok");
        assert_eq!(read_line_bounded(&mut r, &mut buf, 8).unwrap(), Line::Ok(4));
        assert_eq!(buf, b"last");
        assert_eq!(read_line_bounded(&mut r, &mut buf, 8).unwrap(), Line::Eof);
    }

    #[test]
    fn event_start() {
        assert_eq!(find_event_start("<Events><Event xmlns='x'>", 0), Some(8));
        assert_eq!(find_event_start("<Events>", 0), None);
        assert_eq!(find_event_start("<Event>", 0), Some(0));
        assert_eq!(find_event_start("Nov 29 host: <Event xmlns='x'>", 0), Some(13));
        assert!(classic_header("01/14/2021 11:41:39 PM"));
        assert!(!classic_header("LogName=x"));
    }
}
