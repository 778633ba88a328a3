//! Sealing: a partition's open segment (`events.log` + `events.meta`) becomes a numbered,
//! zstd-compressed pair (`events-<k>.log.zst`, `events-<k>.meta.zst`), read by the readers
//! like any `.zst` log. Late events for a sealed hour start a new open segment there.
//!
//! Every step is a rename or a write of a new file, fsynced, so a crash at any moment leaves
//! a state [`recover`] finishes:
//! 1. `events.log` -> `events-<k>.log`, `events.meta` -> `events-<k>.meta` (renames)
//! 2. each compressed to `<name>.zst.tmp`, fsynced, renamed to `<name>.zst`
//! 3. the plain `events-<k>.*` removed

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};

pub const LOG: &str = "events.log";
pub const META: &str = "events.meta";
/// zstd level: fast to write, about as small as gzip -6 on event text.
const LEVEL: i32 = 3;

/// Seals the open segment of the partition `dir` (its files must be closed).
pub fn seal(dir: &Path) -> io::Result<()> {
    if !dir.join(LOG).exists() {
        return Ok(());
    }
    let k = next_number(dir)?;
    fs::rename(dir.join(LOG), dir.join(format!("events-{k}.log")))?;
    if dir.join(META).exists() {
        fs::rename(dir.join(META), dir.join(format!("events-{k}.meta")))?;
    }
    sync_dir(dir)?;
    finish(dir, k)
}

/// Compresses and removes the plain files of sealed segment `k`.
fn finish(dir: &Path, k: u64) -> io::Result<()> {
    for ext in ["log", "meta"] {
        let plain = dir.join(format!("events-{k}.{ext}"));
        let packed = dir.join(format!("events-{k}.{ext}.zst"));
        if !plain.exists() {
            continue;
        }
        if !packed.exists() {
            let tmp = dir.join(format!("events-{k}.{ext}.zst.tmp"));
            let mut out = BufWriter::new(File::create(&tmp)?);
            zstd::stream::copy_encode(BufReader::new(File::open(&plain)?), &mut out, LEVEL)?;
            let f = out.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            fs::rename(&tmp, &packed)?;
            sync_dir(dir)?;
        }
        fs::remove_file(&plain)?;
    }
    sync_dir(dir)
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
    for k in plain {
        // Stopped between the two renames of step 1: the open metadata belongs to `k`.
        let meta_k = dir.join(format!("events-{k}.meta"));
        let meta_packed = dir.join(format!("events-{k}.meta.zst"));
        if !meta_k.exists() && !meta_packed.exists() && dir.join(META).exists() && !dir.join(LOG).exists() {
            fs::rename(dir.join(META), &meta_k)?;
        }
        finish(dir, k)?;
    }
    Ok(())
}

/// The sealed event files of a partition, by number, then the open one.
pub fn event_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut sealed: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if let Some(k) = number(&name, ".log.zst").or_else(|| number(&name, ".log")) {
            sealed.push((k, dir.join(&name)));
        }
    }
    sealed.sort();
    let mut files: Vec<PathBuf> = sealed.into_iter().map(|(_, p)| p).collect();
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
}
