//! The event store: time-partitioned segments on local disk, appended durably.
//!
//! ```text
//! <root>/<YYYY-MM-DDTHH>/events.log   one event text per line, as a log file holds it
//!                       /events.meta  one JSON line per event: _time, _indextime, host,
//!                                     source, sourcetype, index, HEC fields (line N <-> line N);
//!                                     read by `vigil_read::sidecar`, it wins over the readers
//! ```
//!
//! Decisions:
//! - The store is its own write-ahead log: an event is appended to the segment of its hour and
//!   both files are fsynced before anyone is told it is stored ([`Store::append`] returns).
//!   One append carries every batch waiting at that moment (group commit, see `commit.rs`).
//! - `events.log` is what the readers read (XML lines, JSON lines), so the store is read
//!   through the same readers and normalizers as files: [`segments`] gives the files of a
//!   time range to `vigil_read` / the scan driver. A line break inside an event's text would
//!   split it, so line breaks become spaces (XML and JSON treat them alike).
//! - A crash can leave a torn last line in either file. Opening the store truncates both files
//!   of every segment to the events complete in both, so an event is stored whole, once, or not
//!   at all; acknowledged events were fsynced whole and survive.
//! - The partition is the event's `_time` hour (UTC), decided at arrival (`indexed.rs`) and
//!   kept in the metadata. A time-range scan opens only the hours it overlaps.
//! - A partition whose hour is over and that was not written for `seal_idle` is sealed:
//!   its segment compressed with zstd (`seal.rs`); the readers read `.zst` files too.

use serde::Serialize;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use vigil_model::Micros;
use vigil_time::Window;

const HOUR: Micros = 3_600_000_000;
use crate::seal::{LOG, META};
/// How long the plain files of a sealed segment outlive its compression: longer than a
/// scheduled run or search takes from listing a partition to opening its files.
const PLAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Segments kept open for appending; older ones are closed (and reopened if written again).
const MAX_OPEN: usize = 64;

/// One event as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    /// `_time` (see `indexed.rs`): decides the partition; written as epoch seconds and read
    /// back as the event's `_time`.
    #[serde(rename = "_time", serialize_with = "micros_as_secs")]
    pub time: Micros,
    /// Arrival (`_indextime`), epoch seconds.
    #[serde(rename = "_indextime")]
    pub indextime: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_given: Option<f64>,
    pub host: String,
    pub source: String,
    pub sourcetype: String,
    pub index: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// A tailed file's read position after this event (`tail/positions.rs`): kept with the
    /// events so that a crash between storing them and saving positions is recovered.
    #[serde(rename = "_tail", skip_serializing_if = "Option::is_none")]
    pub tail: Option<serde_json::Value>,
    #[serde(skip)]
    pub text: String,
}

fn micros_as_secs<S: serde::Serializer>(t: &Micros, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*t as f64 / 1e6)
}

/// `[store] max_age` / `max_size` (built by `retention::from_config`, applied by
/// `retention.rs`; kept here so the store does not import its own retention).
/// What retention deleted since the server started (for logs and metrics).
#[derive(Debug, Default)]
pub struct RetentionStats {
    pub partitions_deleted: std::sync::atomic::AtomicU64,
    pub bytes_deleted: std::sync::atomic::AtomicU64,
    /// The store's size at the last look.
    pub store_bytes: std::sync::atomic::AtomicU64,
}

/// The limits and when they were last applied.
pub struct Retention {
    pub max_age: Option<Micros>,
    pub max_size: Option<u64>,
    pub stats: std::sync::Arc<RetentionStats>,
    pub(crate) last: Option<std::time::Instant>,
}

struct Segment {
    log: File,
    meta: File,
}

/// The store, open for appending (one writer: the commit thread).
pub struct Store {
    root: PathBuf,
    open: HashMap<Micros, Segment>,
    /// Partitions with an open (unsealed) segment, with their last write (server clock).
    unsealed: HashMap<Micros, Micros>,
    /// What opening found and repaired.
    pub recovery: Recovery,
    /// `[store] max_age` / `max_size` (`retention.rs`).
    pub(crate) retention: Option<Retention>,
    /// Told of every batch once it is durable, before [`Store::append`] returns.
    observer: Option<Observer>,
    /// Compresses sealed segments off the appending thread (none: at once, in `seal_idle`).
    sealer: Option<crate::seal::Sealer>,
    /// Line buffers of earlier rounds, reused.
    spare: Vec<Buffers>,
}

/// Sees each stored batch (the late-event tracker, `late/`).
pub type Observer = Box<dyn Fn(&[StoredEvent]) + Send>;

/// Torn writes repaired when the store was opened.
#[derive(Debug, Default, Clone, Copy)]
pub struct Recovery {
    pub segments: usize,
    pub events: u64,
    pub truncated_segments: usize,
}

impl Store {
    /// Opens (creating) the store under `root`, finishes interrupted seals and repairs torn
    /// tails. `now` counts as the last write of the open segments found.
    pub fn open(root: &Path, now: Micros) -> io::Result<Store> {
        fs::create_dir_all(root)?;
        let mut recovery = Recovery::default();
        let mut unsealed = HashMap::new();
        for (hour, dir) in partition_dirs(root)? {
            crate::seal::recover(&dir)?;
            let (events, truncated) = repair(&dir)?;
            recovery.segments += 1;
            recovery.events += events;
            recovery.truncated_segments += usize::from(truncated);
            if dir.join(LOG).exists() {
                unsealed.insert(hour, now);
            }
        }
        Ok(Store {
            root: root.to_path_buf(),
            open: HashMap::new(),
            unsealed,
            recovery,
            retention: None,
            observer: None,
            sealer: None,
            spare: Vec::new(),
        })
    }

    /// Seals the partitions whose hour ended and that were not written for `idle`, as of
    /// `now`; returns how many.
    pub fn seal_idle(&mut self, now: Micros, idle: Micros) -> io::Result<usize> {
        let due: Vec<Micros> = self
            .unsealed
            .iter()
            .filter(|(hour, last)| hour.saturating_add(HOUR).saturating_add(idle) <= now && last.saturating_add(idle) <= now)
            .map(|(hour, _)| *hour)
            .collect();
        for hour in &due {
            self.open.remove(hour);
            let dir = self.root.join(partition_name(*hour));
            if let Some(k) = crate::seal::set_aside(&dir)? {
                match &self.sealer {
                    Some(sealer) => sealer.finish_later(dir, k)?,
                    None => crate::seal::finish(&dir, k)?,
                }
            }
            self.unsealed.remove(hour);
        }
        Ok(due.len())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Deletes sealed partitions beyond these limits while serving (`retention.rs`).
    pub fn set_retention(&mut self, retention: Option<Retention>) {
        self.retention = retention;
    }

    /// Compresses the segments [`Store::seal_idle`] seals on a thread of their own from now on,
    /// so that the appending thread only renames them.
    pub fn compress_in_background(&mut self) -> io::Result<()> {
        self.sealer = Some(crate::seal::Sealer::start(PLAIN_GRACE)?);
        Ok(())
    }

    /// Tells `observer` of every batch stored from now on.
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// Whether the partition of `hour` has an open segment.
    pub(crate) fn is_unsealed(&self, hour: Micros) -> bool {
        self.unsealed.contains_key(&hour)
    }

    /// Appends `events` and fsyncs every segment written; on return they are durable. `now`
    /// is the server's clock (for sealing).
    pub fn append(&mut self, events: &[StoredEvent], now: Micros) -> io::Result<()> {
        let mut by_hour: Vec<(Micros, Buffers)> = Vec::new();
        let rendered = render_by_hour(events, &mut by_hour, &mut self.spare);
        let written = rendered.and_then(|()| self.write_and_sync(&by_hour, now));
        self.spare.extend(by_hour.into_iter().map(|(_, b)| b));
        self.spare.iter_mut().for_each(Buffers::clear_or_free);
        self.spare.truncate(SPARE_BUFFERS);
        written?;
        if let Some(observe) = &self.observer {
            observe(events);
        }
        Ok(())
    }

    /// Writes each hour's lines to its segment, then fdatasyncs every file written.
    fn write_and_sync(&mut self, by_hour: &[(Micros, Buffers)], now: Micros) -> io::Result<()> {
        for (hour, lines) in by_hour {
            self.unsealed.insert(*hour, now);
            let seg = self.segment(*hour)?;
            // Metadata first: a reader of the open segment never sees an event line whose
            // metadata line is not there yet.
            seg.meta.write_all(&lines.meta)?;
            seg.log.write_all(&lines.log)?;
        }
        let written: Vec<&File> =
            by_hour.iter().filter_map(|(hour, _)| self.open.get(hour)).flat_map(|seg| [&seg.log, &seg.meta]).collect();
        sync_data_together(&written)
    }

    fn segment(&mut self, hour: Micros) -> io::Result<&mut Segment> {
        if !self.open.contains_key(&hour) {
            if self.open.len() >= MAX_OPEN {
                self.open.clear();
            }
            let dir = self.root.join(partition_name(hour));
            let created = !dir.join(LOG).exists();
            fs::create_dir_all(&dir)?;
            let open = |name: &str| OpenOptions::new().create(true).append(true).open(dir.join(name));
            // The metadata first: a crash between the two leaves no log without its metadata
            // (`seal::recover` reads a lone metadata file as a seal stopped between renames,
            // and `repair` removes it when it is empty).
            let meta = open(META)?;
            let seg = Segment { log: open(LOG)?, meta };
            if created {
                // The new directory entries must survive a crash too.
                File::open(&dir)?.sync_all()?;
                File::open(&self.root)?.sync_all()?;
            }
            self.open.insert(hour, seg);
        }
        self.open.get_mut(&hour).ok_or_else(|| io::Error::other("segment vanished"))
    }
}

/// Spare line buffers kept between rounds, and the largest kept: a busy server renders each
/// round into buffers that already have their pages, instead of growing new ones (copies of
/// the buffer and fresh zeroed pages were a fifth of the commit thread's time).
const SPARE_BUFFERS: usize = 4;
const SPARE_MAX_BYTES: usize = 32 << 20;

/// One hour's lines of a round: event texts and metadata.
#[derive(Default)]
struct Buffers {
    log: Vec<u8>,
    meta: Vec<u8>,
}

impl Buffers {
    fn clear_or_free(&mut self) {
        for b in [&mut self.log, &mut self.meta] {
            b.clear();
            if b.capacity() > SPARE_MAX_BYTES {
                *b = Vec::new();
            }
        }
    }
}

/// Renders `events` into one [`Buffers`] per hour (taken from `spare` when there are some).
fn render_by_hour(events: &[StoredEvent], by_hour: &mut Vec<(Micros, Buffers)>, spare: &mut Vec<Buffers>) -> io::Result<()> {
    for ev in events {
        let hour = ev.time.div_euclid(HOUR) * HOUR;
        let i = match by_hour.iter().position(|(h, _)| *h == hour) {
            Some(i) => i,
            None => {
                by_hour.push((hour, spare.pop().unwrap_or_default()));
                by_hour.len() - 1
            }
        };
        let lines = &mut by_hour[i].1;
        push_line(&mut lines.log, &ev.text);
        serde_json::to_writer(&mut lines.meta, ev).map_err(io::Error::other)?;
        lines.meta.push(b'\n');
    }
    Ok(())
}

/// fdatasyncs `files` at the same time (a thread each but the first), so a round waits for
/// the slowest flush instead of their sum (every acknowledgement of the round waits for it).
/// The first error is returned.
fn sync_data_together(files: &[&File]) -> io::Result<()> {
    let Some((first, rest)) = files.split_first() else { return Ok(()) };
    std::thread::scope(|scope| {
        let others: Vec<_> = rest.iter().map(|f| scope.spawn(move || f.sync_data())).collect();
        let mut result = first.sync_data();
        for other in others {
            let synced = other.join().unwrap_or_else(|_| Err(io::Error::other("an fdatasync thread panicked")));
            result = result.and(synced);
        }
        result
    })
}

/// Appends `text` as one line: line breaks become spaces.
pub(crate) fn push_line(out: &mut Vec<u8>, text: &str) {
    let text = text.trim_end_matches(['\r', '\n']).as_bytes();
    let start = out.len();
    out.extend_from_slice(text);
    for i in memchr::memchr2_iter(b'\n', b'\r', text) {
        out[start + i] = b' ';
    }
    out.push(b'\n');
}

/// The store directory under a data directory.
pub fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// `2026-11-20T10` for the hour starting at `hour`.
fn partition_name(hour: Micros) -> String {
    vigil_time::format_time(hour, "%Y-%m-%dT%H", &vigil_time::Tz::utc())
}

/// Partition directories under `root` with their hour, sorted by time.
pub(crate) fn partition_dirs(root: &Path) -> io::Result<Vec<(Micros, PathBuf)>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(hour) = vigil_time::parse_iso8601_utc(&format!("{name}:00:00Z")) else {
            continue;
        };
        if entry.file_type()?.is_dir() {
            dirs.push((hour, entry.path()));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The event files of the partitions overlapping `window`, in time order: what a scan of that
/// range reads. A store that does not exist has none.
pub fn segments(root: &Path, window: Window) -> io::Result<Vec<PathBuf>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for (hour, dir) in partition_dirs(root)? {
        if hour < window.latest && hour.saturating_add(HOUR) > window.earliest {
            files.extend(crate::seal::event_files(&dir)?);
        }
    }
    Ok(files)
}

/// Truncates a segment's two files to the events complete in both; returns (events, whether
/// anything was cut). A segment without a complete event is removed: sealed, it would be a
/// log without metadata.
fn repair(dir: &Path) -> io::Result<(u64, bool)> {
    let ends_log = line_ends(&dir.join(LOG))?;
    let ends_meta = line_ends(&dir.join(META))?;
    let n = ends_log.complete.len().min(ends_meta.complete.len());
    let mut cut = false;
    if n == 0 {
        for name in [LOG, META] {
            match fs::remove_file(dir.join(name)) {
                Ok(()) => cut = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if cut {
            File::open(dir)?.sync_all()?;
        }
        return Ok((0, cut));
    }
    for (name, ends) in [(LOG, &ends_log), (META, &ends_meta)] {
        let keep = ends.complete[n - 1];
        if keep < ends.len {
            let f = OpenOptions::new().write(true).open(dir.join(name))?;
            f.set_len(keep)?;
            f.sync_all()?;
            cut = true;
        }
    }
    Ok((n as u64, cut))
}

struct LineEnds {
    /// Offset just past each complete line.
    complete: Vec<u64>,
    len: u64,
}

fn line_ends(path: &Path) -> io::Result<LineEnds> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LineEnds { complete: Vec::new(), len: 0 }),
        Err(e) => return Err(e),
    };
    let len = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    let mut complete = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut offset = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for i in memchr::memchr_iter(b'\n', &buf[..n]) {
            complete.push(offset + i as u64 + 1);
        }
        offset += n as u64;
    }
    Ok(LineEnds { complete, len })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn ev(time: Micros, text: &str) -> StoredEvent {
        StoredEvent {
            time,
            indextime: 1.5,
            time_given: None,
            host: "h".into(),
            source: "s".into(),
            sourcetype: "st".into(),
            index: "main".into(),
            fields: Default::default(),
            tail: None,
            text: text.into(),
        }
    }

    #[test]
    fn events_go_to_their_hour_and_a_range_opens_only_overlapping_hours() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), 0).unwrap();
        store.append(&[ev(10 * HOUR + 5, "a"), ev(12 * HOUR, "b\nc"), ev(10 * HOUR + 7, "d")], 0).unwrap();
        let all = segments(dir.path(), Window::ALL).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(fs::read_to_string(&all[0]).unwrap(), "a\nd\n");
        assert_eq!(fs::read_to_string(&all[1]).unwrap(), "b c\n");
        let meta = fs::read_to_string(all[0].with_file_name(META)).unwrap();
        assert_eq!(meta.lines().count(), 2);
        assert!(meta.contains("\"_indextime\":1.5"), "{meta}");
        assert_eq!(segments(dir.path(), Window::new(11 * HOUR, 12 * HOUR)).unwrap().len(), 0);
        assert_eq!(segments(dir.path(), Window::new(11 * HOUR, 12 * HOUR + 1)).unwrap(), vec![all[1].clone()]);
    }

    #[test]
    fn a_round_reusing_the_last_rounds_buffers_writes_only_its_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), 0).unwrap();
        store.append(&[ev(HOUR, "first\r\n"), ev(2 * HOUR, "second")], 0).unwrap();
        store.append(&[ev(3 * HOUR, "third"), ev(HOUR, "fourth\rline")], 0).unwrap();
        let all = segments(dir.path(), Window::ALL).unwrap();
        let texts: Vec<String> = all.iter().map(|p| fs::read_to_string(p).unwrap()).collect();
        assert_eq!(texts, ["first\nfourth line\n", "second\n", "third\n"]);
        let metas: Vec<usize> = all.iter().map(|p| fs::read_to_string(p.with_file_name(META)).unwrap().lines().count()).collect();
        assert_eq!(metas, [2, 1, 1]);
    }

    #[test]
    fn torn_tails_are_cut_to_the_events_complete_in_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), 0).unwrap();
        store.append(&[ev(0, "one"), ev(1, "two")], 0).unwrap();
        drop(store);
        let seg = segments(dir.path(), Window::ALL).unwrap().remove(0);
        // A crash after the third text line was written but before its metadata line was whole.
        OpenOptions::new().append(true).open(&seg).unwrap().write_all(b"three\nfou").unwrap();
        OpenOptions::new().append(true).open(seg.with_file_name(META)).unwrap().write_all(b"{\"_index").unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        assert_eq!(store.recovery.events, 2);
        assert_eq!(store.recovery.truncated_segments, 1);
        assert_eq!(fs::read_to_string(&seg).unwrap(), "one\ntwo\n");
        assert_eq!(fs::read_to_string(seg.with_file_name(META)).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_segment_without_a_complete_event_is_removed_on_open_and_never_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(partition_name(0));
        fs::create_dir_all(&part).unwrap();
        // Killed after creating the files of a new segment (or mid-way through its first line).
        fs::write(part.join(LOG), "").unwrap();
        fs::write(part.join(META), "{\"_ti").unwrap();
        let mut store = Store::open(dir.path(), 0).unwrap();
        assert_eq!(store.recovery.truncated_segments, 1);
        assert!(!part.join(LOG).exists() && !part.join(META).exists());
        assert_eq!(store.seal_idle(10 * HOUR, 0).unwrap(), 0);
        assert_eq!(fs::read_dir(&part).unwrap().count(), 0, "nothing was set aside");
    }
}
