//! Pieces of one large file, read on their own so that one file can use every core.
//!
//! ```text
//! split_file(path) -> [Piece] -> (count_lines, number_pieces) -> read_piece(piece) -> PieceRead
//! ```
//!
//! - Line-oriented text (XmlWinEventLog lines, JSON lines), uncompressed: byte ranges that
//!   end right before a line starting with `{` or `<Event`, so every piece starts with a
//!   record. Line numbers and offsets are those of the whole file when the caller counts each
//!   piece's lines ([`Piece::count_lines`], in parallel) and numbers the pieces
//!   ([`number_pieces`]) before reading them. That is a second pass over the file; a caller
//!   that does not need its events' line numbers reads the pieces unnumbered and corrects
//!   their reports afterwards ([`PieceRead::lines`], [`ReadReport::shift_lines`]).
//! - EVTX: runs of the independent 64 KiB chunks, in the order the whole-file read visits
//!   them.
//!
//! Read in order and merged in order, the pieces give exactly what reading the whole file
//! gives: the same events with the same origins, the same report. The one thing a piece cannot
//! know is whether a record spanning lines (pretty-printed XML or JSON) was still open where
//! it starts; the piece before it does, and says so: [`PieceRead::exact`] is false, and the
//! caller reads that file whole instead.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_model::Event;

use crate::lines::LineSpan;
use crate::{sniff, Ctx, Format, ReadOptions, ReadReport, Sink};

/// A part of one file that can be read on its own.
#[derive(Clone, Debug)]
pub struct Piece {
    pub path: PathBuf,
    /// Bytes of the file this piece covers (for progress).
    pub bytes: u64,
    part: Part,
}

#[derive(Clone, Debug)]
enum Part {
    Whole,
    Lines { start: u64, end: u64, lines_before: u64, format: Format, next_is_json: Option<bool> },
    Evtx { chunks: Vec<u64>, first: bool, last: bool },
}

/// What reading a piece did.
#[derive(Debug, Default)]
pub struct PieceRead {
    pub report: ReadReport,
    /// False when this piece's events may differ from the whole-file read's: a record spanning
    /// lines ran past its end (or reading failed or the EVTX parser panicked, which stops the
    /// whole-file read). The file must then be read whole.
    pub exact: bool,
    /// Lines read (a piece of a text file; 0 for other pieces). When pieces are read without
    /// being numbered first, the lines of the pieces before one in its file say how far its
    /// report's line numbers are off ([`ReadReport::shift_lines`]).
    pub lines: u64,
}

impl Piece {
    /// The whole file, read as [`crate::read_file`] reads it.
    pub fn whole(path: &Path) -> Piece {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Piece { path: path.to_path_buf(), bytes, part: Part::Whole }
    }

    /// Whether this piece is a part of its file rather than all of it.
    pub fn is_part(&self) -> bool {
        !matches!(self.part, Part::Whole)
    }

    /// Lines in a piece of a text file (0 for other pieces): what [`number_pieces`] needs.
    pub fn count_lines(&self) -> u64 {
        let Part::Lines { start, end, .. } = self.part else { return 0 };
        let Ok(mut file) = std::fs::File::open(&self.path) else { return 0 };
        if file.seek(SeekFrom::Start(start)).is_err() {
            return 0;
        }
        let mut reader = file.take(end - start);
        let mut buf = vec![0u8; 1 << 20];
        let mut lines = 0u64;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The read of the piece meets the same error and reports it.
                Err(_) => break,
            }
        }
        lines
    }
}

/// Sets where each piece of a text file starts counting lines, from the lines of the pieces
/// before it (`lines[i]` is [`Piece::count_lines`] of `pieces[i]`).
pub fn number_pieces(pieces: &mut [Piece], lines: &[u64]) {
    let mut before: std::collections::HashMap<PathBuf, u64> = Default::default();
    for (piece, &n) in pieces.iter_mut().zip(lines) {
        if let Part::Lines { lines_before, .. } = &mut piece.part {
            let seen = before.entry(piece.path.clone()).or_default();
            *lines_before = *seen;
            *seen += n;
        }
    }
}

/// Splits a file into pieces of about `piece_bytes` (at least two, or the whole file when it
/// is smaller than two pieces, compressed, or of a format that cannot be split).
pub fn split_file(path: &Path, piece_bytes: u64) -> Vec<Piece> {
    let whole = || vec![Piece::whole(path)];
    let piece_bytes = piece_bytes.max(1 << 16);
    // A store segment's metadata is walked line by line beside it: read whole.
    if crate::sidecar::sidecar_for(path).is_some() {
        return whole();
    }
    let Ok(file) = std::fs::File::open(path) else { return whole() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len < 2 * piece_bytes {
        return whole();
    }
    let mut head = Vec::with_capacity(4096);
    if (&file).take(4096).read_to_end(&mut head).is_err() {
        return whole();
    }
    match sniff(&head) {
        // Not a log: read whole, where it is recognised and skipped without being read.
        Format::Text if crate::kind::not_a_log(&head).is_some() => whole(),
        Format::Evtx => split_evtx(path, &file, piece_bytes).unwrap_or_else(whole),
        format @ (Format::XmlLines | Format::JsonLines | Format::Text) => split_lines(path, &file, len, format, piece_bytes),
        _ => whole(),
    }
}

fn split_evtx(path: &Path, file: &std::fs::File, piece_bytes: u64) -> Option<Vec<Piece>> {
    if std::env::var_os("VIGIL_EVTX_BINXML").is_some_and(|v| v == "0") {
        return None; // the crate's own record iteration reads whole files only
    }
    let order = crate::evtx::chunk_order(file)?;
    let per_piece = (piece_bytes / crate::evtx::CHUNK_BYTES).max(1) as usize;
    if order.len() < 2 * per_piece {
        return None;
    }
    let runs: Vec<&[u64]> = order.chunks(per_piece).collect();
    let n = runs.len();
    Some(
        runs.into_iter()
            .enumerate()
            .map(|(i, run)| Piece {
                path: path.to_path_buf(),
                bytes: run.len() as u64 * crate::evtx::CHUNK_BYTES,
                part: Part::Evtx { chunks: run.to_vec(), first: i == 0, last: i + 1 == n },
            })
            .collect(),
    )
}

/// How far past a nominal cut a piece boundary is looked for before giving up that cut.
const MAX_BOUNDARY_SEARCH: u64 = 16 << 20;

fn split_lines(path: &Path, file: &std::fs::File, len: u64, format: Format, piece_bytes: u64) -> Vec<Piece> {
    // Boundaries: byte offsets where a piece starts, each right before a line starting with
    // `{` or `<Event`, with whether that line starts with `{`.
    let mut cuts: Vec<(u64, bool)> = Vec::new();
    let mut at = piece_bytes;
    while at + piece_bytes / 2 < len {
        match boundary_after(file, at, len) {
            Some((cut, json)) if cut + piece_bytes / 2 < len => {
                cuts.push((cut, json));
                at = cut + piece_bytes;
            }
            _ => break,
        }
    }
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for i in 0..=cuts.len() {
        let (end, next_is_json) = match cuts.get(i) {
            Some(&(cut, json)) => (cut, Some(json)),
            None => (len, None),
        };
        pieces.push(Piece {
            path: path.to_path_buf(),
            bytes: end - start,
            part: Part::Lines { start, end, lines_before: 0, format, next_is_json },
        });
        start = end;
    }
    pieces
}

/// The first line start at or after `from` whose line starts with `{` or `<Event` followed by
/// a delimiter, and whether it is `{`.
fn boundary_after(file: &std::fs::File, from: u64, len: u64) -> Option<(u64, bool)> {
    const BLOCK: u64 = 1 << 20;
    // From one byte early, so that a line starting exactly at `from` is seen after its `\n`.
    let mut pos = from.checked_sub(1)?;
    let stop = len.min(from.saturating_add(MAX_BOUNDARY_SEARCH));
    let mut block = Vec::with_capacity(BLOCK as usize);
    let mut f = file;
    while pos < stop {
        block.clear();
        f.seek(SeekFrom::Start(pos)).ok()?;
        (&mut f).take(BLOCK).read_to_end(&mut block).ok()?;
        if block.is_empty() {
            return None;
        }
        let mut resume = pos + block.len() as u64;
        for nl in memchr::memchr_iter(b'\n', &block) {
            let next = &block[nl + 1..];
            if next.len() < 7 && (pos + block.len() as u64) < len {
                // Too close to the end of the block to see the line's start: read again from here.
                resume = pos + nl as u64;
                break;
            }
            let at = pos + nl as u64 + 1;
            if next.starts_with(b"{") {
                return Some((at, true));
            }
            if next.len() >= 7 && next.starts_with(b"<Event") && matches!(next[6], b' ' | b'>' | b'/' | b'\t' | b'\r' | b'\n') {
                return Some((at, false));
            }
        }
        if resume == pos {
            return None;
        }
        pos = resume;
    }
    None
}

/// Reads one piece, handing every event to `sink` as [`crate::read_file`] does.
pub fn read_piece(piece: &Piece, opts: &ReadOptions, sink: &mut dyn FnMut(&Event)) -> PieceRead {
    read_piece_to(piece, opts, Sink::Shared(sink))
}

/// [`read_piece`] handing out the reader's event itself, so that a sink can add fields to it
/// rather than copy it. The sink must give the event back as it got it (the fields it added
/// removed, `derived_from` as it was): the reader reuses it for the next event.
pub fn read_piece_mut(piece: &Piece, opts: &ReadOptions, sink: &mut dyn FnMut(&mut Event)) -> PieceRead {
    read_piece_to(piece, opts, Sink::Owned(sink))
}

fn read_piece_to<'a>(piece: &Piece, opts: &'a ReadOptions, sink: Sink<'a>) -> PieceRead {
    let (start, end, lines_before, format, next_is_json) = match &piece.part {
        Part::Whole => return PieceRead { report: crate::read_file_to(&piece.path, opts, sink), exact: true, lines: 0 },
        Part::Evtx { chunks, first, last } => return read_evtx_piece(piece, chunks, *first, *last, opts, sink),
        Part::Lines { start, end, lines_before, format, next_is_json } => (*start, *end, *lines_before, *format, *next_is_json),
    };
    let name: Arc<str> = Arc::from(piece.path.to_string_lossy().as_ref());
    let mut ctx = Ctx::new(opts, sink);
    let opened = std::fs::File::open(&piece.path).and_then(|mut f| f.seek(SeekFrom::Start(start)).map(|_| f));
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            ctx.report.skip("unreadable file", &name, e);
            return PieceRead { report: ctx.report, exact: false, lines: 0 };
        }
    };
    if start == 0 {
        ctx.report.files += 1;
    }
    let mut reader = BufReader::with_capacity(64 * 1024, file.take(end - start));
    let span = LineSpan { lines_before, offset: start, next_is_json };
    let (exact, lines) = crate::lines::read_lines_span(&mut reader, &name, format, span, &mut ctx);
    ctx.report.bytes += end - start;
    PieceRead { report: ctx.report, exact, lines }
}

fn read_evtx_piece<'a>(piece: &Piece, chunks: &[u64], first: bool, last: bool, opts: &'a ReadOptions, sink: Sink<'a>) -> PieceRead {
    let name: Arc<str> = Arc::from(piece.path.to_string_lossy().as_ref());
    let mut ctx = Ctx::new(opts, sink);
    match std::fs::File::open(&piece.path) {
        Ok(file) => {
            let exact = crate::evtx::read_evtx_chunks(&file, &name, chunks, first, last, &mut ctx);
            PieceRead { report: ctx.report, exact, lines: 0 }
        }
        Err(e) => {
            ctx.report.skip("unreadable file", &name, e);
            PieceRead { report: ctx.report, exact: false, lines: 0 }
        }
    }
}
