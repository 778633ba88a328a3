//! Directory tailing: files appearing or growing in configured directories are read once into
//! the store, through the same readers as any log.
//!
//! ```toml
//! [inputs]
//! poll_ms = 1000                     # how often directories are looked at
//!
//! [[inputs.directory]]
//! path = "/var/log/vigil-in"
//! pattern = "*.xml"                  # file names (`*`, `?`); default every file
//! recursive = false
//! sourcetype = "XmlWinEventLog"      # optional: default what the readers find
//! host = "collector1"                # optional: default what the readers find
//! index = "main"                     # optional
//! settle_secs = 5                    # whole files: read once unchanged this long
//! ```
//!
//! Decisions:
//! - Line-oriented text (XML lines, JSON lines) is read as it grows, complete lines only: a
//!   line still being written waits for its line break. A record spanning lines (pretty-
//!   printed JSON) must be complete when a poll reads it.
//! - Files that are not line text (EVTX, .gz, .zst, .zip, a JSON array) are read whole once
//!   their size and modification time have not changed for `settle_secs` (an EVTX log rotated
//!   or copied in). If such a file changes later, only what is new is stored: EVTX records
//!   with a higher EventRecordID, else the events after those already stored.
//! - Each event is stored as the text the reader read it from (an EVTX record as its XML), with
//!   metadata decided as for HEC (`indexed.rs`): configured values win, else the readers',
//!   else the file path as source.
//! - Read positions are kept per file identity across restarts; see `positions.rs` for how
//!   a crash between storing a batch and saving its position is recovered (each event stored
//!   exactly once).
//! - A truncated file (size below the position, or its first bytes changed) is read again from
//!   the start; a renamed file (same device and inode) goes on where it was.
//! - The data directory is never read, should it lie inside a watched directory.

mod positions;

pub use positions::{FilePos, Positions, Progress};

use crate::commit::{Clock, Committer};
use crate::indexed::{self, Derived, Fallback, Given};
use crate::store::StoredEvent;
use positions::{fingerprint, HEAD_BYTES};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_model::{Event, Micros};

/// `[inputs]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputsConfig {
    pub poll_ms: u64,
    pub directory: Vec<DirectoryInput>,
}

impl Default for InputsConfig {
    fn default() -> Self {
        InputsConfig { poll_ms: 1000, directory: Vec::new() }
    }
}

/// `[[inputs.directory]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryInput {
    pub path: PathBuf,
    #[serde(default = "every_file")]
    pub pattern: String,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default = "default_settle")]
    pub settle_secs: u64,
}

fn every_file() -> String {
    "*".into()
}

fn default_settle() -> u64 {
    5
}

/// Most bytes of one text file read in one go (the readers' longest record).
const MAX_CHUNK: u64 = 16 << 20;
/// Events per batch handed to the store.
const BATCH: usize = 5000;
/// Files not seen for this long are forgotten.
const FORGET_AFTER: Micros = 7 * 24 * 3_600_000_000;

/// Counters (for logs and metrics).
#[derive(Default)]
pub struct TailStats {
    pub events: AtomicU64,
    pub bytes: AtomicU64,
    pub files_read: AtomicU64,
    pub truncations: AtomicU64,
    pub errors: AtomicU64,
}

/// The tailing thread's state.
pub struct Tailer {
    config: InputsConfig,
    positions: Positions,
    committer: Committer,
    clock: Clock,
    /// Never read (the server's own data directory).
    exclude: PathBuf,
    /// Whole files: the size and mtime last seen, and since when.
    observed: HashMap<String, (u64, i64, Instant)>,
    /// Paths whose error was logged (logged again only after it cleared).
    failing: HashSet<PathBuf>,
    pub stats: Arc<TailStats>,
}

/// Why a batch was not stored: it is read again at the next poll.
#[derive(Debug)]
struct NotStored(String);

impl Tailer {
    /// Loads the positions kept in `data_dir` and recovers those of batches stored after
    /// they were last saved (the store must be open and repaired).
    pub fn new(config: InputsConfig, data_dir: &Path, committer: Committer, clock: Clock) -> Result<Tailer, String> {
        let mut positions = Positions::load(&data_dir.join("tail"))?;
        let moved = positions.recover(&crate::store::store_dir(data_dir))?;
        if moved > 0 {
            eprintln!("vigil serve: tail: {moved} read position(s) recovered from the store (stored before a crash, not yet saved)");
            positions.save().map_err(|e| format!("tail positions: {e}"))?;
        }
        let exclude = data_dir.canonicalize().unwrap_or_else(|_| data_dir.to_path_buf());
        for d in &config.directory {
            if !d.path.is_dir() {
                eprintln!("vigil serve: tail: {} is not a directory (yet); watched anyway", d.path.display());
            }
        }
        Ok(Tailer {
            config,
            positions,
            committer,
            clock,
            exclude,
            observed: HashMap::new(),
            failing: HashSet::new(),
            stats: Arc::new(TailStats::default()),
        })
    }

    /// Polls the directories on a thread of its own, for the life of the process.
    pub fn spawn(mut self) -> std::io::Result<()> {
        let every = Duration::from_millis(self.config.poll_ms.max(10));
        std::thread::Builder::new()
            .name("vigil-tail".into())
            .spawn(move || loop {
                if !self.poll() {
                    std::thread::sleep(every);
                }
            })
            .map(|_| ())
    }

    /// One look at every directory; true when some file has more to read at once.
    pub fn poll(&mut self) -> bool {
        let mut more = false;
        let now = (self.clock)();
        for input in self.config.directory.clone() {
            for path in list(&input, &self.exclude) {
                match self.file(&input, &path, now) {
                    Ok(m) => {
                        more |= m;
                        self.failing.remove(&path);
                    }
                    Err(e) => {
                        if self.failing.insert(path.clone()) {
                            self.stats.errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("vigil serve: tail: {}: {e} (retried)", path.display());
                        }
                    }
                }
            }
        }
        if self.positions.forget_unseen(now.saturating_sub(FORGET_AFTER)) > 0 {
            let _ = self.positions.save();
        }
        more
    }

    /// Reads what is new in one file; true when more is left for the next round at once.
    fn file(&mut self, input: &DirectoryInput, path: &Path, now: Micros) -> Result<bool, String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_file() || meta.len() == 0 {
            return Ok(false);
        }
        let (dev, ino) = identity(&meta, path);
        let (size, mtime) = (meta.len(), modified_micros(&meta));
        let key = positions::key(dev, ino);
        let known = self.positions.files.get(&key).cloned();
        let mut pos = match known {
            Some(p) if same_content(path, &p, size)? => p,
            Some(_) => {
                self.stats.truncations.fetch_add(1, Ordering::Relaxed);
                eprintln!("vigil serve: tail: {} was truncated or replaced; read again from the start", path.display());
                new_pos(path, &meta)?
            }
            None => new_pos(path, &meta)?,
        };
        pos.path = path.to_path_buf();
        pos.seen = now;
        match pos.progress.clone() {
            Progress::Lines { offset } => self.lines(input, pos, offset, size),
            Progress::Whole { size: done, mtime: done_mtime, .. } => {
                if (size, mtime) == (done, done_mtime) {
                    self.positions.files.insert(key, pos);
                    return Ok(false);
                }
                let settle = Duration::from_secs(input.settle_secs);
                let stable = match self.observed.get(&key) {
                    Some((s, m, since)) if (*s, *m) == (size, mtime) => since.elapsed() >= settle,
                    _ => {
                        self.observed.insert(key.clone(), (size, mtime, Instant::now()));
                        settle.is_zero()
                    }
                };
                if stable {
                    self.whole(input, pos, size, mtime)?;
                    self.observed.remove(&key);
                }
                Ok(false)
            }
        }
    }

    /// Complete lines from `offset` on.
    fn lines(&mut self, input: &DirectoryInput, mut pos: FilePos, offset: u64, size: u64) -> Result<bool, String> {
        if size <= offset {
            if size < offset {
                self.stats.truncations.fetch_add(1, Ordering::Relaxed);
                eprintln!("vigil serve: tail: {} shrank below its read position; read again from the start", pos.path.display());
                pos = FilePos { progress: Progress::Lines { offset: 0 }, ..pos };
                return self.lines(input, pos, 0, size);
            }
            self.positions.files.insert(pos.key(), pos);
            return Ok(false);
        }
        let mut f = std::fs::File::open(&pos.path).map_err(|e| e.to_string())?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        f.take((size - offset).min(MAX_CHUNK)).read_to_end(&mut buf).map_err(|e| e.to_string())?;
        let end = match memchr::memrchr(b'\n', &buf) {
            Some(i) => i + 1,
            // A line longer than any record the readers take: passed over (they would skip it).
            None if buf.len() as u64 == MAX_CHUNK => buf.len(),
            None => return Ok(false),
        };
        let name = pos.path.to_string_lossy().to_string();
        let mut events = Vec::new();
        let now = (self.clock)();
        let opts = vigil_read::ReadOptions::default();
        vigil_read::read_bytes(&name, &buf[..end], &opts, &mut |ev| events.extend(self.stored(input, ev, &name, now)));
        let new_offset = offset + end as u64;
        pos.progress = Progress::Lines { offset: new_offset };
        self.store(events, &pos).map_err(|e| e.0)?;
        self.stats.bytes.fetch_add(end as u64, Ordering::Relaxed);
        Ok(new_offset < size)
    }

    /// A whole file, skipping what an earlier read stored.
    fn whole(&mut self, input: &DirectoryInput, mut pos: FilePos, size: u64, mtime: i64) -> Result<(), String> {
        let Progress::Whole { events: done, max_record, .. } = pos.progress else { return Ok(()) };
        let name = pos.path.to_string_lossy().to_string();
        let opts = vigil_read::ReadOptions::default();
        let (mut seen, mut stored, mut top) = (0u64, done, max_record);
        let mut batch: Vec<StoredEvent> = Vec::new();
        let mut failed: Option<String> = None;
        let path = pos.path.clone();
        let report = vigil_read::read_file(&path, &opts, &mut |ev| {
            seen += 1;
            // EVTX records are told by their EventRecordID (origin.offset, no line).
            let evtx = ev.origin.line == 0 && ev.origin.offset > 0;
            let new = if evtx { ev.origin.offset > max_record } else { seen > done };
            if !new || failed.is_some() {
                return;
            }
            let now = (self.clock)();
            batch.extend(self.stored(input, ev, &name, now));
            stored += 1;
            if evtx {
                top = top.max(ev.origin.offset);
            }
            if batch.len() >= BATCH {
                pos.progress = Progress::Whole { events: stored, max_record: top, size: 0, mtime: 0 };
                if let Err(e) = self.store(std::mem::take(&mut batch), &pos) {
                    failed = Some(e.0);
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        pos.progress = Progress::Whole { events: stored, max_record: top, size, mtime };
        self.store(batch, &pos).map_err(|e| e.0)?;
        self.stats.files_read.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(size, Ordering::Relaxed);
        if report.skipped_total() > 0 {
            eprintln!("vigil serve: tail: {}: {} record(s) could not be read", path.display(), report.skipped_total());
        }
        Ok(())
    }

    /// The event as stored: its text and the metadata decided for it.
    fn stored(&self, input: &DirectoryInput, ev: &Event, name: &str, now: Micros) -> Option<StoredEvent> {
        if ev.raw.trim().is_empty() {
            return None;
        }
        let given = Given {
            time: None,
            host: input.host.clone().unwrap_or_default(),
            source: String::new(),
            sourcetype: input.sourcetype.clone().unwrap_or_default(),
            index: input.index.clone().unwrap_or_else(|| "main".into()),
        };
        let fallback = Fallback { host: "vigil".into(), source: name.to_string(), sourcetype: "unknown".into() };
        Some(indexed::resolve(ev.raw.clone(), given, Derived::from_event(ev, name), &fallback, Default::default(), now))
    }

    /// Stores a batch durably, its last event carrying `pos`, then saves `pos`.
    fn store(&mut self, mut events: Vec<StoredEvent>, pos: &FilePos) -> Result<(), NotStored> {
        let n = events.len() as u64;
        if let Some(last) = events.last_mut() {
            last.tail = Some(self.positions.marker(pos));
            let done = self.committer.submit(events).map_err(|_| NotStored("the store is busy".into()))?;
            match done.blocking_recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(NotStored(e)),
                Err(_) => return Err(NotStored("the commit thread stopped".into())),
            }
        }
        self.stats.events.fetch_add(n, Ordering::Relaxed);
        self.positions.files.insert(pos.key(), pos.clone());
        self.positions.save().map_err(|e| NotStored(format!("cannot save tail positions: {e}")))
    }
}

/// A first sight of a file: its identity and how it is read (told by its content).
fn new_pos(path: &Path, meta: &std::fs::Metadata) -> Result<FilePos, String> {
    let (head, head_len) = head_of(path, meta.len())?;
    let mut first = [0u8; 8];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut first)).map_err(|e| e.to_string())?;
    use vigil_read::Format;
    let progress = match vigil_read::sniff(&first[..n]) {
        Format::Evtx | Format::Gzip | Format::Zstd | Format::Zip | Format::JsonArray => {
            Progress::Whole { events: 0, max_record: 0, size: 0, mtime: 0 }
        }
        _ => Progress::Lines { offset: 0 },
    };
    let (dev, ino) = identity(meta, path);
    Ok(FilePos { path: path.to_path_buf(), dev, ino, head, head_len, progress, seen: 0 })
}

/// A file's identity: device and inode (kept by a rename).
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata, _path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Without inodes, the path stands for the file (a renamed file is read again).
#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata, path: &Path) -> (u64, u64) {
    (0, positions::fingerprint(path.to_string_lossy().as_bytes()))
}

/// Modification time in micros (0 when the platform has none).
fn modified_micros(meta: &std::fs::Metadata) -> i64 {
    let since = meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok());
    since.map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The fingerprint of a file's first bytes (up to [`HEAD_BYTES`]).
fn head_of(path: &Path, size: u64) -> Result<(u64, u64), String> {
    let len = size.min(HEAD_BYTES);
    let mut buf = vec![0u8; len as usize];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut buf)).map_err(|e| e.to_string())?;
    Ok((fingerprint(&buf), len))
}

/// Whether the file still starts as it did (else it was truncated or its inode reused).
fn same_content(path: &Path, pos: &FilePos, size: u64) -> Result<bool, String> {
    if size < pos.head_len {
        return Ok(false);
    }
    let mut buf = vec![0u8; pos.head_len as usize];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut buf)).map_err(|e| e.to_string())?;
    Ok(fingerprint(&buf) == pos.head)
}

/// The files of a watched directory matching its pattern, sorted; hidden entries and the
/// data directory left out.
fn list(input: &DirectoryInput, exclude: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(&input.path, input, exclude, &mut out);
    out
}

fn walk(dir: &Path, input: &DirectoryInput, exclude: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut list: Vec<(PathBuf, std::fs::FileType)> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, t) in list {
        if path.canonicalize().is_ok_and(|c| c.starts_with(exclude)) {
            continue;
        }
        if t.is_dir() {
            if input.recursive {
                walk(&path, input, exclude, out);
            }
        } else if path.file_name().is_some_and(|n| glob_match(&input.pattern, &n.to_string_lossy())) {
            out.push(path);
        }
    }
}

/// `*` (any run) and `?` (one character) over a file name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
