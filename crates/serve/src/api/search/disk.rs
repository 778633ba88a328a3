//! Search jobs on disk, so that a restart keeps them until their time to live is over, as
//! Splunk keeps a finished job's artefacts in its dispatch directory for the job's TTL.
//!
//! ```text
//! <data>/search_jobs/<id>/job.json       the job: search, range, state, counts, timeline, columns,
//!                                        when it ended (written when it starts and when it ends)
//!                        /results.jsonl  the kept result rows, one JSON object a line, in order
//! ```
//!
//! Decisions:
//! - `job.json` is written when the job starts too, so a job the server was running when it
//!   stopped comes back as failed with a message saying so, not as a 404 nobody can explain.
//! - Both files are written to a temporary name and renamed: a crash leaves the old file or
//!   the new one. They are not fsynced: losing a search's results to a power cut costs a
//!   re-run, and fsync on every search would slow the store's own commits.
//! - Rows are read back only when someone asks for a restored job's results.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vigil_model::{Micros, Record, Value};

const JOB: &str = "job.json";
const RESULTS: &str = "results.jsonl";

/// What `job.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedJob {
    pub id: String,
    pub owner: String,
    pub search: String,
    pub earliest: Option<Micros>,
    pub latest: Option<Micros>,
    pub created: Micros,
    pub segments: usize,
    pub span: Micros,
    pub timeline_start: Micros,
    /// `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// Wall-clock seconds since the epoch when the job ended (its TTL counts from there).
    pub ended_at: Option<u64>,
    pub duration_ms: u64,
    pub bytes_total: u64,
    pub bytes_read: u64,
    pub events_scanned: u64,
    pub result_count: usize,
    /// Rows in `results.jsonl`.
    pub results_kept: usize,
    pub error: Option<String>,
    pub columns: Vec<String>,
    /// Per timeline bucket: events read, result rows.
    pub timeline: Vec<(u64, u64)>,
}

/// The jobs directory of a data directory.
pub struct JobsDir {
    root: PathBuf,
}

pub fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl JobsDir {
    pub fn new(data_dir: &Path) -> JobsDir {
        JobsDir { root: data_dir.join("search_jobs") }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Writes the job's description (and, when given, its rows first).
    pub fn save(&self, job: &SavedJob, rows: Option<&[Record]>) -> io::Result<()> {
        let dir = self.dir(&job.id);
        fs::create_dir_all(&dir)?;
        if let Some(rows) = rows {
            let tmp = dir.join(format!("{RESULTS}.tmp"));
            let mut out = BufWriter::new(fs::File::create(&tmp)?);
            for r in rows {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
            out.into_inner().map_err(|e| e.into_error())?;
            fs::rename(&tmp, dir.join(RESULTS))?;
        }
        let tmp = dir.join(format!("{JOB}.tmp"));
        fs::write(&tmp, serde_json::to_vec_pretty(job)?)?;
        fs::rename(&tmp, dir.join(JOB))
    }

    /// A job's kept rows, in order.
    pub fn rows(&self, id: &str) -> io::Result<Vec<Record>> {
        let file = match fs::File::open(self.dir(id).join(RESULTS)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other?,
        };
        let mut rows = Vec::new();
        for line in io::BufReader::new(file).lines() {
            let line = line?;
            if !line.is_empty() {
                rows.push(serde_json::from_str::<Row>(&line).map_err(io::Error::other)?.0);
            }
        }
        Ok(rows)
    }

    pub fn remove(&self, id: &str) {
        let _ = fs::remove_dir_all(self.dir(id));
    }

    /// The jobs kept: those past `ttl` after they ended, and unreadable ones, are deleted;
    /// a job still `running` on disk ended with the server, so it comes back failed.
    pub fn load(&self, ttl: Duration, now: SystemTime) -> Vec<SavedJob> {
        let Ok(entries) = fs::read_dir(&self.root) else { return Vec::new() };
        let mut jobs = Vec::new();
        for dir in entries.flatten().map(|e| e.path()) {
            let saved = fs::read(dir.join(JOB)).ok().and_then(|b| serde_json::from_slice::<SavedJob>(&b).ok());
            let Some(mut job) = saved.filter(|j| dir.file_name().is_some_and(|n| *n == *j.id)) else {
                eprintln!("vigil serve: search jobs: {} is not a search job; deleting it", dir.display());
                let _ = fs::remove_dir_all(&dir);
                continue;
            };
            if job.state == "running" {
                job.state = "failed".into();
                job.error = Some("the server stopped while this search ran; run it again".into());
                job.ended_at = Some(epoch_secs(now));
                if let Err(e) = self.save(&job, None) {
                    eprintln!("vigil serve: search jobs: {}: {e}", dir.display());
                }
            }
            let ended = UNIX_EPOCH + Duration::from_secs(job.ended_at.unwrap_or(0));
            if now.duration_since(ended).is_ok_and(|age| age >= ttl) {
                let _ = fs::remove_dir_all(&dir);
                continue;
            }
            jobs.push(job);
        }
        jobs
    }
}

/// A result row read back in its column order (serde_json's map would sort the names).
struct Row(Record);

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Row, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a result row (an object of text or lists of text)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut r = Record::new();
                while let Some((name, v)) = map.next_entry::<String, Field>()? {
                    r.set(name, v.0);
                }
                Ok(Row(r))
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// A field as [`Value`] serializes it: text (numbers were written as text), a list of text
/// for a multivalue, or null.
struct Field(Value);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        Ok(Field(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(items) => {
                Value::Multi(items.into_iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect())
            }
            other => Value::Str(other.to_string()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, state: &str, ended_at: Option<u64>) -> SavedJob {
        SavedJob {
            id: id.into(),
            owner: "ann".into(),
            search: "search *".into(),
            earliest: Some(1),
            latest: None,
            created: 5,
            segments: 2,
            span: 60_000_000,
            timeline_start: 0,
            state: state.into(),
            ended_at,
            duration_ms: 12,
            bytes_total: 100,
            bytes_read: 100,
            events_scanned: 3,
            result_count: 2,
            results_kept: 2,
            error: None,
            columns: vec!["z".into(), "a".into()],
            timeline: vec![(3, 2)],
        }
    }

    #[test]
    fn a_finished_job_and_its_rows_come_back_in_column_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = JobsDir::new(tmp.path());
        let rows: Vec<Record> = vec![
            [("z".to_string(), Value::str("1")), ("a".to_string(), Value::Num(2.5))].into_iter().collect(),
            [("z".to_string(), Value::Multi(vec!["x".into(), "y".into()]))].into_iter().collect(),
        ];
        let now = SystemTime::now();
        let saved = job("j1", "done", Some(epoch_secs(now)));
        dir.save(&saved, Some(&rows)).unwrap();
        assert_eq!(dir.load(Duration::from_secs(60), now), vec![saved]);
        let back = dir.rows("j1").unwrap();
        assert_eq!(back[0].names().collect::<Vec<_>>(), ["z", "a"]);
        assert_eq!(back[0].get("a"), Some(&Value::str("2.5")));
        assert_eq!(back[1].get("z"), Some(&Value::Multi(vec!["x".into(), "y".into()])));
    }

    #[test]
    fn expired_jobs_are_deleted_and_running_ones_come_back_failed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = JobsDir::new(tmp.path());
        let now = SystemTime::now();
        dir.save(&job("old", "done", Some(epoch_secs(now) - 120)), Some(&[])).unwrap();
        dir.save(&job("cut", "running", None), None).unwrap();
        fs::create_dir_all(tmp.path().join("search_jobs/junk")).unwrap();
        let kept = dir.load(Duration::from_secs(60), now);
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!((kept[0].id.as_str(), kept[0].state.as_str()), ("cut", "failed"));
        assert!(kept[0].error.as_deref().unwrap().contains("server stopped"));
        assert!(!tmp.path().join("search_jobs/old").exists() && !tmp.path().join("search_jobs/junk").exists());
        // The change is on disk: a second start reads it as failed.
        assert_eq!(dir.load(Duration::from_secs(60), now)[0].state, "failed");
    }
}
