//! Read positions of tailed files, kept across restarts so that each event is stored once.
//!
//! A file is known by its identity, device and inode (a renamed or rotated file keeps its
//! position under its new name), checked against a fingerprint of its first bytes (an inode
//! reused by a new file starts over). Positions are saved in `<data_dir>/tail/positions.json`
//! (written whole, fsynced, renamed) after each batch is stored.
//!
//! A crash between storing a batch and saving positions would read the batch again. So the
//! last event of every batch carries the position after it (`_tail` in the store's metadata,
//! with a sequence number); on start, the metadata files written since the positions file
//! are searched for later positions ([`Positions::recover`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use vigil_model::Micros;

/// How many leading bytes identify a file's content (as Splunk's `initCrcLength`).
pub const HEAD_BYTES: u64 = 256;

/// Where reading a file stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// Line-oriented text: every complete line before `offset` is stored.
    Lines { offset: u64 },
    /// Files read whole once they stop changing (EVTX, compressed, JSON arrays): `events`
    /// stored so far, the highest EVTX record id among them, and the size and modification
    /// time of the file when read.
    Whole { events: u64, max_record: u64, size: u64, mtime: i64 },
}

/// One tailed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePos {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// FNV-1a of the first `head_len` bytes.
    pub head: u64,
    pub head_len: u64,
    pub progress: Progress,
    /// Server clock when the file was last seen in its directory.
    pub seen: Micros,
}

impl FilePos {
    pub fn key(&self) -> String {
        key(self.dev, self.ino)
    }
}

pub fn key(dev: u64, ino: u64) -> String {
    format!("{dev}:{ino}")
}

/// A position as carried by a batch's last event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub seq: u64,
    pub pos: FilePos,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    seq: u64,
    files: BTreeMap<String, FilePos>,
}

/// Every tailed file's position, by identity.
pub struct Positions {
    path: PathBuf,
    seq: u64,
    pub files: BTreeMap<String, FilePos>,
}

impl Positions {
    /// Loads `<dir>/positions.json` (none yet: empty).
    pub fn load(dir: &Path) -> Result<Positions, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("positions.json");
        let saved: Saved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Positions { path, seq: saved.seq, files: saved.files })
    }

    /// The marker for the batch that brings `pos` forward (the sequence advances).
    pub fn marker(&mut self, pos: &FilePos) -> serde_json::Value {
        self.seq += 1;
        serde_json::to_value(Marker { seq: self.seq, pos: pos.clone() }).unwrap_or(serde_json::Value::Null)
    }

    /// Writes the positions durably.
    pub fn save(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&Saved { seq: self.seq, files: self.files.clone() }).map_err(std::io::Error::other)?;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Takes the positions that batches stored after the last save carry (see the module
    /// notes): the metadata files of `store_root` modified since the positions file was
    /// (all of them when there is none). Returns how many positions moved.
    pub fn recover(&mut self, store_root: &Path) -> Result<usize, String> {
        let since = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let files = crate::store::segments(store_root, vigil_time::Window::ALL).map_err(|e| format!("{}: {e}", store_root.display()))?;
        let mut markers: Vec<Marker> = Vec::new();
        for log in files {
            let Some(meta) = vigil_read::sidecar::sidecar_for(&log) else { continue };
            let modified = std::fs::metadata(&meta).and_then(|m| m.modified()).ok();
            // Two seconds of slack for file systems with coarse timestamps.
            let slack = std::time::Duration::from_secs(2);
            if let (Some(since), Some(m)) = (since, modified) {
                if m + slack < since {
                    continue;
                }
            }
            vigil_read::sidecar::read_sidecar(&meta, &mut |_, line| {
                if memchr::memmem::find(line, b"\"_tail\"").is_none() {
                    return;
                }
                #[derive(Deserialize)]
                struct Line {
                    #[serde(rename = "_tail")]
                    tail: Marker,
                }
                if let Ok(l) = serde_json::from_slice::<Line>(line) {
                    markers.push(l.tail);
                }
            })
            .map_err(|e| format!("{}: {e}", meta.display()))?;
        }
        Ok(self.apply(markers))
    }

    /// Takes the markers later than the saved sequence, the latest per file.
    fn apply(&mut self, mut markers: Vec<Marker>) -> usize {
        markers.retain(|m| m.seq > self.seq);
        markers.sort_by_key(|m| m.seq);
        let moved = markers.len();
        for m in markers {
            self.seq = self.seq.max(m.seq);
            self.files.insert(m.pos.key(), m.pos);
        }
        moved
    }

    /// Forgets files not seen since `before` (removed or rotated away long ago).
    pub fn forget_unseen(&mut self, before: Micros) -> usize {
        let n = self.files.len();
        self.files.retain(|_, f| f.seen >= before);
        n - self.files.len()
    }
}

/// FNV-1a 64: stable across builds (a std hasher is not), enough to tell files apart.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(ino: u64, offset: u64) -> FilePos {
        FilePos { path: "a.log".into(), dev: 1, ino, head: 7, head_len: 3, progress: Progress::Lines { offset }, seen: 0 }
    }

    #[test]
    fn markers_after_the_saved_sequence_win_latest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Positions::load(dir.path()).unwrap();
        p.files.insert(pos(1, 10).key(), pos(1, 10));
        let m1 = p.marker(&pos(1, 10));
        p.save().unwrap();
        let mut q = Positions::load(dir.path()).unwrap();
        assert_eq!(q.files, p.files);
        // Stored after the save: a later offset, then the file truncated and read again.
        let later: Vec<Marker> = [(2, 500), (3, 40)]
            .iter()
            .map(|(seq, off)| Marker { seq: *seq, pos: pos(1, *off) })
            .chain([serde_json::from_value(m1).unwrap()])
            .collect();
        assert_eq!(q.apply(later), 2);
        assert_eq!(q.files[&pos(1, 0).key()].progress, Progress::Lines { offset: 40 });
        assert_eq!(q.seq, 3);
    }
}
