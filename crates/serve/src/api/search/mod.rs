//! Ad-hoc search as asynchronous jobs: `/api/v1/search/jobs` (create, list), a job's status
//! and progress, its results by page, its timeline, cancel and delete.
//!
//! A job runs on its own thread (the scan inside uses the driver's workers). Jobs are kept in
//! memory: a finished job for [`KEEP_FINISHED`] after it ended, at most [`MAX_JOBS`] jobs,
//! at most [`MAX_RUNNING`] running at once (more: 429). A job is its owner's; admins see all.

pub mod exec;

use super::users::Role;
use super::{blocking, iso, time_range, Api, ApiError, Body, Caller, Paging, Params, PathParam, Routes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use exec::{Control, Outcome, Searcher};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_content::ContentSet;
use vigil_model::Micros;

pub const MAX_RUNNING: usize = 4;
pub const MAX_JOBS: usize = 200;
pub const KEEP_FINISHED: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Failed => "failed",
            Phase::Cancelled => "cancelled",
        }
    }
}

struct Job {
    id: String,
    owner: String,
    search: String,
    earliest: Option<Micros>,
    latest: Option<Micros>,
    created: Micros,
    control: Arc<Control>,
    segments: usize,
    span: Micros,
    timeline_start: Micros,
    state: Mutex<JobState>,
}

struct JobState {
    phase: Phase,
    started: Instant,
    ended: Option<Instant>,
    outcome: Option<Outcome>,
    columns: Vec<String>,
}

/// The search jobs of this server.
pub struct Jobs {
    pub searcher: Arc<Searcher>,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    pub fn new(content: ContentSet, store_root: PathBuf) -> Result<Jobs, String> {
        Ok(Jobs { searcher: Arc::new(Searcher::new(content, store_root)?), jobs: Mutex::new(HashMap::new()) })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>>, ApiError> {
        self.jobs.lock().map_err(|_| ApiError::Internal("jobs lock poisoned".into()))
    }

    /// Drops finished jobs past their time, then the oldest finished ones past the cap.
    fn expire(map: &mut HashMap<String, Arc<Job>>) {
        let now = Instant::now();
        map.retain(|_, j| j.state.lock().map(|s| s.ended.is_none_or(|e| now.duration_since(e) < KEEP_FINISHED)).unwrap_or(false));
        while map.len() >= MAX_JOBS {
            let oldest =
                map.values().filter(|j| j.state.lock().is_ok_and(|s| s.ended.is_some())).min_by_key(|j| j.created).map(|j| j.id.clone());
            match oldest {
                Some(id) => map.remove(&id),
                None => break,
            };
        }
    }

    fn get(&self, id: &str, caller: &Caller) -> Result<Arc<Job>, ApiError> {
        let job = self.lock()?.get(id).cloned();
        job.filter(|j| j.owner == caller.user.name || caller.user.role == Role::Admin)
            .ok_or_else(|| ApiError::NotFound(format!("no search job {id}")))
    }
}

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/search/jobs", &["GET", "POST"], get(list).post(create))
        .add("/api/v1/search/jobs/{id}", &["GET", "DELETE"], get(status).delete(remove))
        .add("/api/v1/search/jobs/{id}/results", &["GET"], get(results))
        .add("/api/v1/search/jobs/{id}/timeline", &["GET"], get(timeline))
        .add("/api/v1/search/jobs/{id}/cancel", &["POST"], post(cancel))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    search: String,
    earliest: Option<String>,
    latest: Option<String>,
}

fn job_json(j: &Job) -> Value {
    let Ok(s) = j.state.lock() else { return json!({"id": j.id, "state": "failed"}) };
    let o = s.outcome.as_ref();
    let elapsed = s.ended.unwrap_or_else(Instant::now).duration_since(s.started);
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
        "results_kept": o.map_or(0, |o| o.rows.len()),
        "truncated": o.is_some_and(|o| o.rows.len() < o.result_count),
        "error": o.and_then(|o| o.error.clone()),
        "duration_ms": elapsed.as_millis() as u64,
    })
}

async fn create(State(api): State<Arc<Api>>, caller: Caller, Body(b): Body<NewJob>) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Analyst)?;
    let now = api.now();
    let (earliest, latest) = time_range(b.earliest.as_deref(), b.latest.as_deref(), now)?;
    let searcher = api.jobs.searcher.clone();
    let spl = b.search.clone();
    let prepared = blocking(move || searcher.prepare(&spl, earliest, latest, now).map_err(ApiError::BadRequest)).await?;
    let mut id_bytes = [0u8; 8];
    getrandom::fill(&mut id_bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    let job = Arc::new(Job {
        id: id_bytes.iter().map(|b| format!("{b:02x}")).collect(),
        owner: caller.user.name.clone(),
        search: b.search,
        earliest,
        latest,
        created: now,
        control: Arc::new(Control::default()),
        segments: prepared.segments().len(),
        span: prepared.span,
        timeline_start: prepared.timeline_start,
        state: Mutex::new(JobState { phase: Phase::Running, started: Instant::now(), ended: None, outcome: None, columns: Vec::new() }),
    });
    {
        let mut map = api.jobs.lock()?;
        Jobs::expire(&mut map);
        let running = map.values().filter(|j| j.state.lock().is_ok_and(|s| s.phase == Phase::Running)).count();
        if running >= MAX_RUNNING {
            return Err(ApiError::TooManyRequests(
                Duration::from_secs(5),
                format!("{running} searches are running; wait for one or cancel it"),
            ));
        }
        if map.len() >= MAX_JOBS {
            return Err(ApiError::TooManyRequests(Duration::from_secs(60), format!("{MAX_JOBS} search jobs are kept; delete some")));
        }
        map.insert(job.id.clone(), job.clone());
    }
    let (j, searcher) = (job.clone(), api.jobs.searcher.clone());
    std::thread::Builder::new()
        .name("vigil-search".into())
        .spawn(move || {
            let outcome = searcher.run(&prepared, &j.control);
            if let Ok(mut s) = j.state.lock() {
                s.phase = match (&outcome.error, outcome.cancelled || s.phase == Phase::Cancelled) {
                    (_, true) => Phase::Cancelled,
                    (Some(_), _) => Phase::Failed,
                    _ => Phase::Done,
                };
                s.columns = vigil_model::Record::columns(&outcome.rows);
                s.outcome = Some(outcome);
                s.ended = Some(Instant::now());
            }
        })
        .map_err(|e| ApiError::Internal(format!("cannot start a search thread: {e}")))?;
    Ok((StatusCode::CREATED, Json(job_json(&job))))
}

async fn list(State(api): State<Arc<Api>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let mut map = api.jobs.lock()?;
    Jobs::expire(&mut map);
    let mut jobs: Vec<&Arc<Job>> = map.values().filter(|j| j.owner == caller.user.name || caller.user.role == Role::Admin).collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.created));
    Ok(Json(json!({"jobs": jobs.iter().map(|j| job_json(j)).collect::<Vec<_>>()})))
}

async fn status(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller)?;
    Ok(Json(job_json(&job)))
}

async fn results(
    State(api): State<Arc<Api>>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Params(p): Params<Paging>,
) -> Result<Json<Value>, ApiError> {
    let p = p.checked()?;
    let job = api.jobs.get(&id, &caller)?;
    let s = job.state.lock().map_err(|_| ApiError::Internal("job lock poisoned".into()))?;
    let rows = s.outcome.as_ref().map(|o| &o.rows[..]).unwrap_or(&[]);
    let page: Vec<&vigil_model::Record> = rows.iter().skip(p.offset).take(p.count).collect();
    Ok(Json(
        json!({"state": s.phase.as_str(), "total": rows.len(), "offset": p.offset, "count": page.len(), "fields": s.columns, "results": page}),
    ))
}

async fn timeline(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller)?;
    let s = job.state.lock().map_err(|_| ApiError::Internal("job lock poisoned".into()))?;
    let buckets: Vec<Value> = s
        .outcome
        .as_ref()
        .map(|o| &o.timeline[..])
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, (events, results))| {
            let t = job.timeline_start + i as Micros * job.span;
            json!({"time": iso(t), "epoch": t / 1_000_000, "events": events, "results": results})
        })
        .collect();
    Ok(Json(json!({"state": s.phase.as_str(), "span": job.span / 1_000_000, "buckets": buckets})))
}

async fn cancel(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller)?;
    job.control.cancel.store(true, Ordering::Relaxed);
    if let Ok(mut s) = job.state.lock() {
        if s.phase == Phase::Running {
            s.phase = Phase::Cancelled;
        }
    }
    Ok(Json(job_json(&job)))
}

async fn remove(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller)?;
    job.control.cancel.store(true, Ordering::Relaxed);
    api.jobs.lock()?.remove(&id);
    Ok(Json(json!({"deleted": id})))
}
