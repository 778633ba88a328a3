//! The search jobs a server keeps: in memory and on disk (disk.rs), expired after their time
//! to live, each run on its own thread by the searcher (exec.rs); the handlers are in mod.rs.

use super::disk::{epoch_secs, JobsDir, SavedJob};
use super::exec::{Control, Outcome, Searcher};
use crate::api::http::{iso, ApiError};
use crate::api::users::{Role, User};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_content::ContentSet;
use vigil_model::Micros;

pub const MAX_RUNNING: usize = 4;
pub const MAX_JOBS: usize = 200;
/// A finished job's time to live (Splunk's `ttl`), counted from when it ended.
pub const KEEP_FINISHED: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Phase {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Phase {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Failed => "failed",
            Phase::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Phase {
        match s {
            "done" => Phase::Done,
            "cancelled" => Phase::Cancelled,
            "running" => Phase::Running,
            _ => Phase::Failed,
        }
    }
}

pub(super) struct Job {
    pub(super) id: String,
    pub(super) owner: String,
    pub(super) search: String,
    pub(super) earliest: Option<Micros>,
    pub(super) latest: Option<Micros>,
    pub(super) created: Micros,
    pub(super) control: Arc<Control>,
    pub(super) segments: usize,
    pub(super) span: Micros,
    pub(super) timeline_start: Micros,
    pub(super) state: Mutex<JobState>,
}

pub(super) struct JobState {
    pub(super) phase: Phase,
    pub(super) started: Instant,
    /// When the job ended (wall clock: its TTL counts from there, across restarts) and how
    /// long it ran, in ms.
    pub(super) ended: Option<(SystemTime, u64)>,
    pub(super) outcome: Option<Outcome>,
    /// Rows kept (in `outcome`, or on disk until read back).
    pub(super) kept: usize,
    pub(super) columns: Vec<String>,
    /// A job restored after a restart: its rows are still on disk.
    pub(super) rows_on_disk: bool,
}

impl Job {
    /// The job as `job.json` keeps it.
    fn saved(&self, s: &JobState) -> SavedJob {
        let o = s.outcome.as_ref();
        SavedJob {
            id: self.id.clone(),
            owner: self.owner.clone(),
            search: self.search.clone(),
            earliest: self.earliest,
            latest: self.latest,
            created: self.created,
            segments: self.segments,
            span: self.span,
            timeline_start: self.timeline_start,
            state: s.phase.as_str().into(),
            ended_at: s.ended.map(|(t, _)| epoch_secs(t)),
            duration_ms: s.ended.map_or(0, |(_, ms)| ms),
            bytes_total: self.control.bytes_total.load(Ordering::Relaxed),
            bytes_read: self.control.bytes_done.load(Ordering::Relaxed),
            events_scanned: o.map_or(0, |o| o.events_scanned),
            result_count: o.map_or(0, |o| o.result_count),
            results_kept: s.kept,
            error: o.and_then(|o| o.error.clone()),
            columns: s.columns.clone(),
            timeline: o.map(|o| o.timeline.clone()).unwrap_or_default(),
        }
    }

    /// A job read back from disk (its rows stay there until asked for).
    fn restored(j: SavedJob) -> Job {
        let control = Control::default();
        control.bytes_total.store(j.bytes_total, Ordering::Relaxed);
        control.bytes_done.store(j.bytes_read, Ordering::Relaxed);
        let outcome = Outcome {
            result_count: j.result_count,
            events_scanned: j.events_scanned,
            error: j.error,
            timeline: j.timeline,
            ..Default::default()
        };
        let ended = UNIX_EPOCH + Duration::from_secs(j.ended_at.unwrap_or(0));
        Job {
            id: j.id,
            owner: j.owner,
            search: j.search,
            earliest: j.earliest,
            latest: j.latest,
            created: j.created,
            control: Arc::new(control),
            segments: j.segments,
            span: j.span,
            timeline_start: j.timeline_start,
            state: Mutex::new(JobState {
                phase: Phase::parse(&j.state),
                started: Instant::now(),
                ended: Some((ended, j.duration_ms)),
                outcome: Some(outcome),
                kept: j.results_kept,
                columns: j.columns,
                rows_on_disk: j.results_kept > 0,
            }),
        }
    }

    pub(super) fn lock(&self) -> Result<std::sync::MutexGuard<'_, JobState>, ApiError> {
        self.state.lock().map_err(|_| ApiError::Internal("job lock poisoned".into()))
    }
}

/// The search jobs of this server.
pub struct Jobs {
    pub searcher: Arc<Searcher>,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    pub(super) disk: JobsDir,
}

impl Jobs {
    /// The jobs of `data_dir` kept from earlier runs, and a searcher over `store_root`.
    pub fn new(content: ContentSet, store_root: PathBuf, data_dir: &Path) -> Result<Jobs, String> {
        let disk = JobsDir::new(data_dir);
        let kept = disk.load(KEEP_FINISHED, SystemTime::now());
        let jobs = kept.into_iter().map(|j| (j.id.clone(), Arc::new(Job::restored(j)))).collect();
        Ok(Jobs { searcher: Arc::new(Searcher::new(content, store_root)?), jobs: Mutex::new(jobs), disk })
    }

    pub(super) fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>>, ApiError> {
        self.jobs.lock().map_err(|_| ApiError::Internal("jobs lock poisoned".into()))
    }

    /// Drops finished jobs past their time, then the oldest finished ones past the cap, from
    /// memory and disk.
    pub(super) fn expire(&self, map: &mut HashMap<String, Arc<Job>>) {
        let now = SystemTime::now();
        let alive = |j: &Job| {
            j.state
                .lock()
                .map(|s| s.ended.is_none_or(|(t, _)| now.duration_since(t).map_or(true, |age| age < KEEP_FINISHED)))
                .unwrap_or(false)
        };
        let mut gone: Vec<String> = map.values().filter(|j| !alive(j)).map(|j| j.id.clone()).collect();
        for id in &gone {
            map.remove(id);
        }
        while map.len() >= MAX_JOBS {
            let oldest =
                map.values().filter(|j| j.state.lock().is_ok_and(|s| s.ended.is_some())).min_by_key(|j| j.created).map(|j| j.id.clone());
            let Some(id) = oldest else { break };
            map.remove(&id);
            gone.push(id);
        }
        for id in gone {
            self.disk.remove(&id);
        }
    }

    pub(super) fn get(&self, id: &str, user: &User) -> Result<Arc<Job>, ApiError> {
        let job = {
            let mut map = self.lock()?;
            self.expire(&mut map);
            map.get(id).cloned()
        };
        job.filter(|j| j.owner == user.name || user.role == Role::Admin).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no search job {id}: it was deleted, or it ended more than {} minutes ago and expired",
                KEEP_FINISHED.as_secs() / 60
            ))
        })
    }

    /// Writes `job` to disk as it stands (logged, not fatal: the job still works in memory).
    pub(super) fn save(&self, job: &Job, s: &JobState, rows: Option<&[vigil_model::Record]>) {
        if let Err(e) = self.disk.save(&job.saved(s), rows) {
            eprintln!("vigil serve: search job {}: cannot keep it on disk: {e}", job.id);
        }
    }

    /// Records a search's outcome: on disk first (rows, then the job), then in memory.
    pub(super) fn finish(&self, job: &Job, mut outcome: Outcome) {
        let Ok(mut s) = job.state.lock() else { return };
        s.phase = match (&outcome.error, outcome.cancelled || s.phase == Phase::Cancelled) {
            (_, true) => Phase::Cancelled,
            (Some(_), _) => Phase::Failed,
            _ => Phase::Done,
        };
        if s.phase == Phase::Cancelled {
            outcome.rows.clear();
        }
        s.columns = vigil_model::Record::columns(&outcome.rows);
        s.kept = outcome.rows.len();
        s.ended = Some((SystemTime::now(), s.started.elapsed().as_millis() as u64));
        let rows = std::mem::take(&mut outcome.rows);
        s.outcome = Some(outcome);
        self.save(job, &s, Some(&rows));
        if let Some(o) = s.outcome.as_mut() {
            o.rows = rows;
        }
        drop(s);
        // Deleted while it ran: nothing may stay on disk.
        if self.lock().is_ok_and(|m| !m.contains_key(&job.id)) {
            self.disk.remove(&job.id);
        }
    }
}

pub(super) fn job_json(j: &Job) -> Value {
    let Ok(s) = j.state.lock() else { return json!({"id": j.id, "state": "failed"}) };
    let o = s.outcome.as_ref();
    let duration_ms = s.ended.map_or_else(|| s.started.elapsed().as_millis() as u64, |(_, ms)| ms);
    let wall_micros = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as Micros);
    json!({
        "id": j.id,
        "owner": j.owner,
        "search": j.search,
        "earliest": j.earliest.map(iso),
        "latest": j.latest.map(iso),
        "created": iso(j.created),
        "state": s.phase.as_str(),
        "progress": if s.phase == Phase::Done { 1.0 } else { j.control.progress() },
        "bytes_total": j.control.bytes_total.load(Ordering::Relaxed),
        "bytes_read": j.control.bytes_done.load(Ordering::Relaxed),
        "segments": j.segments,
        "events_scanned": o.map_or(0, |o| o.events_scanned),
        "result_count": o.map_or(0, |o| o.result_count),
        "results_kept": s.kept,
        "truncated": o.is_some_and(|o| s.kept < o.result_count),
        "error": o.and_then(|o| o.error.clone()),
        "duration_ms": duration_ms,
        "ttl": KEEP_FINISHED.as_secs(),
        "expires": s.ended.map(|(t, _)| iso(wall_micros(t + KEEP_FINISHED))),
    })
}
