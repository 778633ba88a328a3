//! Sealing: a partition's open segment (`events.log` + `events.meta`) becomes a numbered,
//! zstd-compressed pair (`events-<k>.log.zst`, `events-<k>.meta.zst`), read by the readers
//! like any `.zst` log. Late events for a sealed hour start a new open segment there.
//!
//! Every step is a rename or a write of a new file, fsynced, so a crash at any moment leaves
//! a state [`recover`] finishes:
//! 1. `events.log` -> `events-<k>.log`, `events.meta` -> `events-<k>.meta` (renames)
//! 2. each compressed to `<name>.zst.tmp`, fsynced; renamed to `<name>.zst`, the metadata
//!    first (a reader that finds `events-<k>.log.zst` finds its `.meta.zst`)
//! 3. the plain `events-<k>.*` removed, the log first (by the [`Sealer`], a grace period
//!    later, so that a scan that listed them just before step 2 still reads them)
//!
//! Step 1 is done by the commit thread (it owns the open files; later appends start a new
//! `events.log`); steps 2 and 3, which take seconds for a busy hour, run on the [`Sealer`]'s
//! own thread, so acknowledgements never wait for compression. A reader listing a partition
//! meanwhile reads the plain pair, or the compressed pair once both are renamed.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const LOG: &str = "events.log";
pub const META: &str = "events.meta";
/// zstd level: fast to write, about as small as gzip -6 on event text.
const LEVEL: i32 = 3;

/// Seals the open segment of the partition `dir` (its files must be closed), compressing it
/// before returning.
#[cfg(test)]
pub fn seal(dir: &Path) -> io::Result<()> {
    match set_aside(dir)? {
        Some(k) => finish(dir, k),
        None => Ok(()),
    }
}

/// Step 1: renames the open segment of the partition `dir` (its files must be closed) to the
/// next number, which it returns (none without an open segment). Fast: two renames and a
/// directory fsync; [`finish`] compresses it.
pub fn set_aside(dir: &Path) -> io::Result<Option<u64>> {
    if !dir.join(LOG).exists() {
        return Ok(None);
    }
    let k = next_number(dir)?;
    fs::rename(dir.join(LOG), dir.join(format!("events-{k}.log")))?;
    if dir.join(META).exists() {
        fs::rename(dir.join(META), dir.join(format!("events-{k}.meta")))?;
    }
    sync_dir(dir)?;
    Ok(Some(k))
}

/// Steps 2 and 3: compresses and removes the plain files of sealed segment `k`.
pub fn finish(dir: &Path, k: u64) -> io::Result<()> {
    compress(dir, k)?;
    remove_plain(dir, k)
}

/// Step 2: compresses the plain files of segment `k` (those not compressed yet).
fn compress(dir: &Path, k: u64) -> io::Result<()> {
    let mut renames = Vec::new();
    for ext in ["meta", "log"] {
        let plain = dir.join(format!("events-{k}.{ext}"));
        let packed = dir.join(format!("events-{k}.{ext}.zst"));
        if !plain.exists() || packed.exists() {
            continue;
        }
        let tmp = dir.join(format!("events-{k}.{ext}.zst.tmp"));
        let mut out = BufWriter::new(File::create(&tmp)?);
        zstd::stream::copy_encode(BufReader::new(File::open(&plain)?), &mut out, LEVEL)?;
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        renames.push((tmp, packed));
    }
    // Both compressed before either is renamed: a reader that lists the segment from now on
    // finds the compressed pair.
    for (tmp, packed) in renames {
        fs::rename(&tmp, &packed)?;
    }
    sync_dir(dir)
}

/// Step 3: removes the plain files of segment `k` (gone already, e.g. by retention: fine).
fn remove_plain(dir: &Path, k: u64) -> io::Result<()> {
    for ext in ["log", "meta"] {
        match fs::remove_file(dir.join(format!("events-{k}.{ext}"))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    match sync_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Compresses set-aside segments ([`set_aside`]) on its own thread, one after the other, and
/// removes their plain files `grace` later: a scan that listed the plain files just before
/// they were compressed opens them later (as late as the scan's end), and must still find them.
pub struct Sealer {
    tx: mpsc::Sender<(PathBuf, u64)>,
}

impl Sealer {
    pub fn start(grace: Duration) -> io::Result<Sealer> {
        let (tx, rx) = mpsc::channel::<(PathBuf, u64)>();
        std::thread::Builder::new().name("vigil-seal".into()).spawn(move || seal_loop(&rx, grace))?;
        Ok(Sealer { tx })
    }

    /// Compresses segment `k` of `dir` later (now, on this thread, if the sealer stopped).
    pub fn finish_later(&self, dir: PathBuf, k: u64) -> io::Result<()> {
        match self.tx.send((dir, k)) {
            Ok(()) => Ok(()),
            Err(mpsc::SendError((dir, k))) => finish(&dir, k),
        }
    }
}

/// The sealer's thread. Plain files still waiting for removal when the server stops are
/// removed by [`recover`] on the next start.
fn seal_loop(rx: &mpsc::Receiver<(PathBuf, u64)>, grace: Duration) {
    let mut removals: VecDeque<(Instant, PathBuf, u64)> = VecDeque::new();
    loop {
        while removals.front().is_some_and(|(due, _, _)| *due <= Instant::now()) {
            if let Some((_, dir, k)) = removals.pop_front() {
                if let Err(e) = remove_plain(&dir, k) {
                    eprintln!("vigil serve: cannot remove the plain files of segment {k} of {}: {e}", dir.display());
                }
            }
        }
        let next = match removals.front() {
            Some((due, _, _)) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            // A failure leaves the plain files, read as they are and finished on start.
            Ok((dir, k)) => match compress(&dir, k) {
                Ok(()) => removals.push_back((Instant::now() + grace, dir, k)),
                Err(e) => eprintln!("vigil serve: cannot compress segment {k} of {}: {e}", dir.display()),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Finishes a seal a crash interrupted; removes half-written compressed files.
pub fn recover(dir: &Path) -> io::Result<()> {
    let mut plain = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if name.ends_with(".zst.tmp") {
            fs::remove_file(dir.join(&name))?;
        } else if let Some(k) = number(&name, ".log").or_else(|| number(&name, ".meta")) {
            plain.push(k);
        }
    }
    plain.sort();
    plain.dedup();
    // Stopped between the two renames of step 1: the open metadata belongs to the segment
    // set aside last (the highest number), never to an older one.
    if let Some(&k) = plain.last() {
        let meta_k = dir.join(format!("events-{k}.meta"));
        let meta_packed = dir.join(format!("events-{k}.meta.zst"));
        if !meta_k.exists() && !meta_packed.exists() && dir.join(META).exists() && !dir.join(LOG).exists() {
            fs::rename(dir.join(META), &meta_k)?;
        }
    }
    for k in plain {
        finish(dir, k)?;
    }
    Ok(())
}

/// The sealed event files of a partition, by number, then the open one. A segment being
/// compressed is listed once: compressed once its `.log.zst` is there, else plain.
pub fn event_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut sealed: Vec<(u64, bool, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if let Some(k) = number(&name, ".log.zst") {
            sealed.push((k, false, dir.join(&name)));
        } else if let Some(k) = number(&name, ".log") {
            sealed.push((k, true, dir.join(&name)));
        }
    }
    // The compressed file (false) sorts before the plain one of the same number.
    sealed.sort();
    sealed.dedup_by_key(|(k, _, _)| *k);
    let mut files: Vec<PathBuf> = sealed.into_iter().map(|(_, _, p)| p).collect();
    if dir.join(LOG).exists() {
        files.push(dir.join(LOG));
    }
    Ok(files)
}

fn next_number(dir: &Path) -> io::Result<u64> {
    let mut next = 0;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        for suffix in [".log.zst", ".meta.zst", ".log", ".meta", ".log.zst.tmp", ".meta.zst.tmp"] {
            if let Some(k) = number(&name, suffix) {
                next = next.max(k + 1);
            }
        }
    }
    Ok(next)
}

/// `k` of `events-<k><suffix>`.
fn number(name: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix("events-")?.strip_suffix(suffix)?.parse().ok()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn sealing_compresses_and_numbers_segments() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join(LOG), "a\nb\n").unwrap();
        fs::write(d.join(META), "{}\n{}\n").unwrap();
        seal(d).unwrap();
        fs::write(d.join(LOG), "late\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        seal(d).unwrap();
        assert_eq!(names(d), ["events-0.log.zst", "events-0.meta.zst", "events-1.log.zst", "events-1.meta.zst"]);
        let text = zstd::decode_all(File::open(d.join("events-0.log.zst")).unwrap()).unwrap();
        assert_eq!(text, b"a\nb\n");
        assert_eq!(event_files(d).unwrap(), [d.join("events-0.log.zst"), d.join("events-1.log.zst")]);
    }

    #[test]
    fn a_segment_being_compressed_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join(LOG), "a\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        assert_eq!(set_aside(d).unwrap(), Some(0));
        assert_eq!(event_files(d).unwrap(), [d.join("events-0.log")]);
        // Between the renames of step 2 and the removals of step 3: the compressed pair.
        fs::write(d.join("events-0.log.zst"), zstd::encode_all(&b"a\n"[..], 3).unwrap()).unwrap();
        fs::write(d.join("events-0.meta.zst"), zstd::encode_all(&b"{}\n"[..], 3).unwrap()).unwrap();
        assert_eq!(event_files(d).unwrap(), [d.join("events-0.log.zst")]);
        finish(d, 0).unwrap();
        assert_eq!(names(d), ["events-0.log.zst", "events-0.meta.zst"]);
    }

    #[test]
    fn the_sealer_compresses_on_its_own_thread_while_new_events_start_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join(LOG), "a\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        let sealer = Sealer::start(Duration::ZERO).unwrap();
        let k = set_aside(d).unwrap().unwrap();
        // A late event arrives before the compression is done: the next number is taken.
        fs::write(d.join(LOG), "late\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        assert_eq!(set_aside(d).unwrap(), Some(k + 1));
        sealer.finish_later(d.to_path_buf(), k).unwrap();
        sealer.finish_later(d.to_path_buf(), k + 1).unwrap();
        let want = ["events-0.log.zst", "events-0.meta.zst", "events-1.log.zst", "events-1.meta.zst"];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while names(d) != want && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(names(d), want);
        assert_eq!(zstd::decode_all(File::open(d.join("events-1.log.zst")).unwrap()).unwrap(), b"late\n");
    }

    #[test]
    fn plain_files_listed_before_compression_stay_readable_for_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join(LOG), "a\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        let k = set_aside(d).unwrap().unwrap();
        let listed = event_files(d).unwrap();
        let sealer = Sealer::start(Duration::from_secs(3600)).unwrap();
        sealer.finish_later(d.to_path_buf(), k).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !d.join("events-0.log.zst").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Compressed and listed as such, while the scan that listed the plain log reads it.
        assert_eq!(event_files(d).unwrap(), [d.join("events-0.log.zst")]);
        assert_eq!(fs::read_to_string(&listed[0]).unwrap(), "a\n");
        // A restart before the grace period ended removes them.
        drop(sealer);
        recover(d).unwrap();
        assert_eq!(names(d), ["events-0.log.zst", "events-0.meta.zst"]);
    }

    #[test]
    fn an_interrupted_seal_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Stopped after the first rename of step 1.
        fs::write(d.join("events-0.log"), "a\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        recover(d).unwrap();
        assert_eq!(names(d), ["events-0.log.zst", "events-0.meta.zst"]);
        // Stopped while compressing: the half-written file is dropped and redone.
        fs::write(d.join("events-1.log"), "b\n").unwrap();
        fs::write(d.join("events-1.meta"), "{}\n").unwrap();
        fs::write(d.join("events-1.log.zst.tmp"), "garbage").unwrap();
        recover(d).unwrap();
        assert_eq!(zstd::decode_all(File::open(d.join("events-1.log.zst")).unwrap()).unwrap(), b"b\n");
        assert_eq!(names(d).len(), 4);
    }

    #[test]
    fn the_open_metadata_goes_to_the_segment_set_aside_last() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // An older segment left without metadata (a store written before the metadata was
        // created first), and the next one stopped between the two renames of step 1.
        fs::write(d.join("events-0.log"), "").unwrap();
        fs::write(d.join("events-1.log"), "b\n").unwrap();
        fs::write(d.join(META), "{}\n").unwrap();
        recover(d).unwrap();
        assert!(!d.join("events-0.meta.zst").exists());
        assert_eq!(zstd::decode_all(File::open(d.join("events-1.meta.zst")).unwrap()).unwrap(), b"{}\n");
    }
}
