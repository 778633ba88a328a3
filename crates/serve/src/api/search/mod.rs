//! Ad-hoc search as asynchronous jobs: `/api/v1/search/jobs` (create, list), a job's status
//! and progress, its results by page, its timeline, cancel and delete.
//!
//! A job runs on its own thread (the scan inside uses the driver's workers). Jobs are kept in
//! memory and on disk (disk.rs): a finished job for [`KEEP_FINISHED`] after it ended, across
//! restarts, at most [`MAX_JOBS`] jobs, at most [`MAX_RUNNING`] running at once (more: 429).
//! A job is its owner's; admins see all.

pub mod disk;
pub mod exec;
pub mod jobs;

pub use jobs::{KEEP_FINISHED, MAX_JOBS, MAX_RUNNING};

use super::auth::Caller;
use super::http::{blocking, iso, time_range, ApiError, Body, Paging, Params, PathParam};
use super::state::{Api, Routes};
use super::users::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use exec::Control;
use jobs::{job_json, Job, JobState, Phase};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_model::Micros;

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
        state: Mutex::new(JobState {
            phase: Phase::Running,
            started: Instant::now(),
            ended: None,
            outcome: None,
            kept: 0,
            columns: Vec::new(),
            rows_on_disk: false,
        }),
    });
    {
        let mut map = api.jobs.lock()?;
        api.jobs.expire(&mut map);
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
    let (j, api2) = (job.clone(), api.clone());
    std::thread::Builder::new()
        .name("vigil-search".into())
        .spawn(move || {
            // On disk as running first: a restart then says the job was cut short.
            if let Ok(s) = j.state.lock() {
                api2.jobs.save(&j, &s, None);
            }
            let outcome = api2.jobs.searcher.run(&prepared, &j.control);
            api2.jobs.finish(&j, outcome);
        })
        .map_err(|e| ApiError::Internal(format!("cannot start a search thread: {e}")))?;
    Ok((StatusCode::CREATED, Json(job_json(&job))))
}

async fn list(State(api): State<Arc<Api>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let mut map = api.jobs.lock()?;
    api.jobs.expire(&mut map);
    let mut jobs: Vec<&Arc<Job>> = map.values().filter(|j| j.owner == caller.user.name || caller.user.role == Role::Admin).collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.created));
    Ok(Json(json!({"jobs": jobs.iter().map(|j| job_json(j)).collect::<Vec<_>>()})))
}

async fn status(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller.user)?;
    Ok(Json(job_json(&job)))
}

async fn results(
    State(api): State<Arc<Api>>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Params(p): Params<Paging>,
) -> Result<Json<Value>, ApiError> {
    let p = p.checked()?;
    let job = api.jobs.get(&id, &caller.user)?;
    // A restored job's rows are read back from disk the first time they are asked for.
    blocking(move || {
        let mut s = job.lock()?;
        if s.rows_on_disk {
            let rows = api.jobs.disk.rows(&job.id).map_err(|e| ApiError::Internal(format!("search job {}: its results: {e}", job.id)))?;
            if let Some(o) = s.outcome.as_mut() {
                o.rows = rows;
            }
            s.rows_on_disk = false;
        }
        let rows = s.outcome.as_ref().map(|o| &o.rows[..]).unwrap_or(&[]);
        let page: Vec<&vigil_model::Record> = rows.iter().skip(p.offset).take(p.count).collect();
        Ok(Json(json!({
            "state": s.phase.as_str(), "total": rows.len(), "offset": p.offset, "count": page.len(), "fields": s.columns, "results": page
        })))
    })
    .await
}

async fn timeline(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller.user)?;
    let s = job.lock()?;
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
    let job = api.jobs.get(&id, &caller.user)?;
    job.control.cancel.store(true, Ordering::Relaxed);
    if let Ok(mut s) = job.state.lock() {
        if s.phase == Phase::Running {
            s.phase = Phase::Cancelled;
        }
    }
    Ok(Json(job_json(&job)))
}

async fn remove(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    let job = api.jobs.get(&id, &caller.user)?;
    job.control.cancel.store(true, Ordering::Relaxed);
    api.jobs.lock()?.remove(&id);
    api.jobs.disk.remove(&id);
    Ok(Json(json!({"deleted": id})))
}
