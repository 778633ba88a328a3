//! Indexed metadata kept next to a log file: `vigil serve`'s store segments.
//!
//! A store segment is a pair: `events.log` (one event text per line, read like any log) and
//! `events.meta` (line N: a JSON object with the metadata of line N's event). Sealed segments
//! are `events-<k>.log.zst` / `events-<k>.meta.zst`. The metadata is what the event was
//! indexed with (HEC envelope, tailed file, arrival time), so it wins over what the reader
//! derives from the text, as Splunk's indexed fields do:
//!
//! - `_time` (epoch seconds): the event's `_time`;
//! - `host`, `source`, `sourcetype`, `index`: override the reader's values when present;
//! - `_indextime` (epoch seconds): the arrival time, kept as the field `_indextime`;
//! - `fields`: HEC indexed fields (a string, number or array of them each), kept as fields.
//!
//! Other keys are ignored. Only files named as the store names them have a sidecar, so an
//! ordinary `x.log` next to an `x.meta` is read as before. A segment with a sidecar is read
//! whole (never in pieces): the sidecar is walked line by line beside it. An event whose
//! metadata line is missing or unreadable (an open segment being written) is skipped and
//! counted, not emitted with the reader's values.

use serde::Deserialize;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use vigil_model::Event;

/// The sidecar of a store segment's event file, when the name is a store name and the
/// sidecar exists.
pub fn sidecar_for(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let meta = meta_name(name)?;
    let p = path.with_file_name(meta);
    p.is_file().then_some(p)
}

/// `events.log` -> `events.meta`, `events-3.log.zst` -> `events-3.meta.zst`.
fn meta_name(log: &str) -> Option<String> {
    let (stem, zst) = match log.strip_suffix(".zst") {
        Some(s) => (s, ".zst"),
        None => (log, ""),
    };
    let base = stem.strip_suffix(".log")?;
    let numbered = base.strip_prefix("events-").is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
    (base == "events" || numbered).then(|| format!("{base}.meta{zst}"))
}

/// Whether `path` is the sidecar of a store event file next to it (not an input itself).
pub fn is_sidecar(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    let (stem, zst) = match name.strip_suffix(".zst") {
        Some(s) => (s, ".zst"),
        None => (name, ""),
    };
    let Some(base) = stem.strip_suffix(".meta") else { return false };
    let log = format!("{base}.log{zst}");
    meta_name(&log).is_some() && path.with_file_name(log).exists()
}

/// One line of a sidecar.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MetaLine {
    #[serde(rename = "_time")]
    pub time: Option<f64>,
    #[serde(rename = "_indextime")]
    pub indextime: Option<f64>,
    pub host: Option<String>,
    pub source: Option<String>,
    pub sourcetype: Option<String>,
    pub index: Option<String>,
    pub fields: serde_json::Map<String, Value>,
}

impl MetaLine {
    /// Sets the event's metadata from this line (see the module notes).
    pub fn apply(&self, ev: &mut Event) {
        if let Some(t) = self.time.and_then(secs_to_micros) {
            ev.time = Some(t);
        }
        for (target, given) in [(&mut ev.host, &self.host), (&mut ev.source, &self.source), (&mut ev.sourcetype, &self.sourcetype)] {
            if let Some(v) = given.as_deref().filter(|v| !v.is_empty()) {
                target.clear();
                target.push_str(v);
            }
        }
        if let Some(v) = self.index.as_deref().filter(|v| !v.is_empty()) {
            ev.index.clear();
            ev.index.push_str(v);
        }
        if let Some(t) = self.indextime {
            ev.push("_indextime", t.to_string());
        }
        for (name, value) in &self.fields {
            match value {
                Value::Array(items) => items.iter().filter_map(scalar).for_each(|v| ev.push(name.as_str(), v)),
                v => {
                    if let Some(v) = scalar(v) {
                        ev.push(name.as_str(), v);
                    }
                }
            }
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn secs_to_micros(s: f64) -> Option<i64> {
    let m = (s * 1e6).round();
    (m.is_finite() && m.abs() < 9.0e18).then_some(m as i64)
}

/// A sidecar read beside its event file, one line per event line.
pub(crate) struct Sidecar {
    reader: Box<dyn BufRead>,
    path: PathBuf,
    /// Lines consumed so far.
    line: u64,
    buf: Vec<u8>,
}

impl Sidecar {
    /// Opens a sidecar (zstd-compressed or plain, told by content).
    pub(crate) fn open(path: &Path) -> io::Result<Sidecar> {
        let mut f = BufReader::new(File::open(path)?);
        let zstd = f.fill_buf()?.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let reader: Box<dyn BufRead> =
            if zstd { Box::new(BufReader::new(zstd::stream::read::Decoder::with_buffer(f)?)) } else { Box::new(f) };
        Ok(Sidecar { reader, path: path.to_path_buf(), line: 0, buf: Vec::new() })
    }

    /// The metadata of event line `line` (1-based); lines are read forward only.
    pub(crate) fn line(&mut self, line: u64) -> Result<MetaLine, String> {
        if line <= self.line {
            return Err(format!("{}: line {line} asked after line {}", self.path.display(), self.line));
        }
        while self.line < line {
            self.buf.clear();
            let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| format!("{}: {e}", self.path.display()))?;
            if n == 0 {
                return Err(format!("{}: ends before line {line}", self.path.display()));
            }
            self.line += 1;
        }
        serde_json::from_slice(&self.buf).map_err(|e| format!("{}:{line}: {e}", self.path.display()))
    }
}

/// Reads every line of a sidecar (plain or zstd), for tools that look at metadata only.
pub fn read_sidecar(path: &Path, each: &mut dyn FnMut(u64, &[u8])) -> io::Result<()> {
    let mut sc = Sidecar::open(path)?;
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        if sc.reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line += 1;
        each(line, &buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_store_names_have_sidecars() {
        assert_eq!(meta_name("events.log").as_deref(), Some("events.meta"));
        assert_eq!(meta_name("events-12.log.zst").as_deref(), Some("events-12.meta.zst"));
        assert_eq!(meta_name("events-.log"), None);
        assert_eq!(meta_name("app.log"), None);
        assert_eq!(meta_name("events.json"), None);
    }

    #[test]
    fn metadata_wins_over_the_reader() {
        let line: MetaLine = serde_json::from_str(
            r#"{"_time":1700000000.5,"_indextime":1700000100.25,"host":"h1","sourcetype":"","index":"win","fields":{"env":"prod","n":[1,"2"]},"other":1}"#,
        )
        .unwrap();
        let mut ev = Event { host: "reader".into(), sourcetype: "XmlWinEventLog".into(), time: Some(5), ..Event::default() };
        line.apply(&mut ev);
        assert_eq!(ev.time, Some(1_700_000_000_500_000));
        assert_eq!((ev.host.as_str(), ev.sourcetype.as_str(), ev.index.as_str()), ("h1", "XmlWinEventLog", "win"));
        assert_eq!(ev.get("_indextime"), Some("1700000100.25"));
        assert_eq!(ev.get_all("n").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(ev.get("env"), Some("prod"));
    }

    #[test]
    fn a_segment_reads_with_its_metadata_and_skips_events_without() {
        let dir = std::env::temp_dir().join(format!("vigil-sidecar-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("events.log"), "{\"a\":1}\n{\"a\":2}\n").unwrap();
        // The second line's metadata is not written yet (an open segment being appended to).
        std::fs::write(dir.join("events.meta"), "{\"_time\":1000.5,\"host\":\"h\",\"_indextime\":1001}\n").unwrap();
        let mut got = Vec::new();
        let report = crate::read_file(&dir.join("events.log"), &crate::ReadOptions::default(), &mut |ev| got.push(ev.clone()));
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].time, got[0].host.as_str(), got[0].get("_indextime")), (Some(1_000_500_000), "h", Some("1001")));
        assert_eq!(report.skipped_count("event without store metadata"), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sidecars_are_recognised_only_beside_their_log() {
        let dir = std::env::temp_dir().join(format!("vigil-sidecar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("events.meta"), "{}\n").unwrap();
        assert!(!is_sidecar(&dir.join("events.meta")));
        std::fs::write(dir.join("events.log"), "x\n").unwrap();
        assert!(is_sidecar(&dir.join("events.meta")));
        assert_eq!(sidecar_for(&dir.join("events.log")), Some(dir.join("events.meta")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
