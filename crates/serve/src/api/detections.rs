//! Detections: `/api/v1/detections` (enabled, schedule, next run, last runs with duration,
//! results and errors, missed ticks), enable/disable (admin), `/api/v1/runs`.
//!
//! Enabling or disabling is kept in `<data dir>/detections.json` (on top of the config's
//! `[scheduler]` and `--enable`, so it survives restarts) and takes effect by rebuilding the
//! scheduler with the new selection, through the same constructor the server starts with:
//! its saved state makes the new one go on from the last run, without repeating it.
//!
//! Run records come from `runs.jsonl`, or from the alert store when it is shared (PostgreSQL).
//! A `--role api` process has no scheduler: it shows the detections and their runs, and
//! refuses to enable or disable (the processes that schedule have their own selection).

use super::users::Role;
use super::{blocking, Api, ApiError, Body, Caller, Params, PathParam, Routes};
use crate::schedule::{ScheduleInfo, Scheduler, Selection};
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vigil_content::{ContentSet, Detection};

/// How much of the end of runs.jsonl is read for "last runs".
const RUNS_TAIL_BYTES: u64 = 4 << 20;
/// Last runs shown per detection.
const LAST_RUNS: usize = 10;

/// Enable/disable choices made through the API, kept in the data directory.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Overrides {
    enable: Vec<String>,
    disable: Vec<String>,
}

fn overrides_path(data_dir: &Path) -> PathBuf {
    data_dir.join("detections.json")
}

fn load_overrides(data_dir: &Path) -> Overrides {
    std::fs::read(overrides_path(data_dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// The config's selection with the API's choices on top (what the scheduler runs).
pub fn effective_selection(base: &Selection, data_dir: &Path) -> Selection {
    apply(base, &load_overrides(data_dir))
}

fn apply(base: &Selection, o: &Overrides) -> Selection {
    let mut s = base.clone();
    s.enable.retain(|n| !o.disable.contains(n));
    s.disable.retain(|n| !o.enable.contains(n));
    s.enable.extend(o.enable.iter().cloned());
    s.disable.extend(o.disable.iter().cloned());
    s
}

/// What the API needs to show and change the schedule.
#[derive(Clone)]
pub struct DetectionControl {
    inner: Arc<Control>,
}

struct Control {
    content: ContentSet,
    base: Selection,
    data_dir: PathBuf,
    /// `None` in a `--role api` process.
    scheduler: Option<Arc<Mutex<Scheduler>>>,
    overrides: Mutex<Overrides>,
    /// The scheduler's schedules as last read: shown while a run holds the scheduler.
    last_seen: Mutex<Option<SchedulerView>>,
}

/// What the API reads from the scheduler.
#[derive(Clone)]
struct SchedulerView {
    schedules: Vec<ScheduleInfo>,
    not_scheduled: Vec<(String, String)>,
}

impl SchedulerView {
    fn of(s: &Scheduler) -> SchedulerView {
        SchedulerView { schedules: s.schedules(), not_scheduled: s.not_scheduled().to_vec() }
    }
}

impl DetectionControl {
    /// `scheduler`: `None` for a process that serves the API without scheduling (`--role api`).
    pub fn new(content: ContentSet, base: Selection, data_dir: PathBuf, scheduler: Option<Arc<Mutex<Scheduler>>>) -> DetectionControl {
        let overrides = Mutex::new(load_overrides(&data_dir));
        let last_seen = Mutex::new(None);
        DetectionControl { inner: Arc::new(Control { content, base, data_dir, scheduler, overrides, last_seen }) }
    }

    pub fn content(&self) -> ContentSet {
        self.inner.content.clone()
    }

    /// The scheduler's state; while a run holds the scheduler, the last one read (so the API
    /// does not wait for a long run), unless there is none yet.
    fn view(&self) -> Result<SchedulerView, ApiError> {
        let c = &self.inner;
        let Some(scheduler) = &c.scheduler else {
            return Ok(SchedulerView { schedules: Vec::new(), not_scheduled: Vec::new() });
        };
        let fresh = match scheduler.try_lock() {
            Ok(s) => Some(SchedulerView::of(&s)),
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(_)) => return Err(ApiError::Internal("scheduler lock poisoned".into())),
        };
        let mut last = c.last_seen.lock().map_err(|_| ApiError::Internal("lock poisoned".into()))?;
        let view = match (fresh, last.clone()) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => SchedulerView::of(&*scheduler.lock().map_err(|_| ApiError::Internal("scheduler lock poisoned".into()))?),
        };
        *last = Some(view.clone());
        Ok(view)
    }

    fn selection(&self) -> Selection {
        let o = self.inner.overrides.lock().map(|o| o.clone()).unwrap_or_default();
        apply(&self.inner.base, &o)
    }

    /// A detection's headline, by id (the notable detail shows it).
    pub fn describe_by_id(&self, id: &str) -> Option<Value> {
        self.inner.content.detections().iter().find(|d| d.id == id).map(headline)
    }

    /// Enables or disables `name` and rebuilds the scheduler with the new selection.
    fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), ApiError> {
        let c = &self.inner;
        let Some(scheduler) = &c.scheduler else {
            return Err(ApiError::Conflict(
                "this process does not schedule detections (--role api): change the selection of the processes that do".into(),
            ));
        };
        let mut o = c.overrides.lock().map_err(|_| ApiError::Internal("lock poisoned".into()))?;
        let before = o.clone();
        o.enable.retain(|n| n != name);
        o.disable.retain(|n| n != name);
        match enabled {
            true => o.enable.push(name.to_string()),
            false => o.disable.push(name.to_string()),
        }
        let selection = apply(&c.base, &o);
        let rebuilt = (|| -> Result<(), String> {
            // Held while re-planning: no run starts on the old selection meanwhile. Unchanged
            // schedules keep their engines, the tick position and the alert actions stay.
            let mut current = scheduler.lock().map_err(|_| "scheduler lock poisoned".to_string())?;
            let content = current.content().clone();
            current.reload(content, &selection)?;
            // Seen at once, even if a run holds the scheduler when the answer is made.
            if let Ok(mut last) = c.last_seen.lock() {
                *last = Some(SchedulerView::of(&current));
            }
            Ok(())
        })();
        if let Err(e) = rebuilt {
            *o = before;
            return Err(ApiError::Internal(format!("cannot reschedule: {e}")));
        }
        let text = serde_json::to_vec_pretty(&*o).map_err(|e| ApiError::Internal(e.to_string()))?;
        let path = overrides_path(&c.data_dir);
        std::fs::write(&path, text).map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))
    }
}

fn headline(d: &Detection) -> Value {
    json!({
        "name": d.name,
        "id": d.id,
        "type": d.kind,
        "status": d.status,
        "description": d.description.trim(),
        "data_source": d.data_source,
        "mitre_attack_id": d.tags.mitre_attack_id,
        "analytic_story": d.tags.analytic_story,
        "known_false_positives": d.known_false_positives,
    })
}

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/detections", &["GET"], get(list)).add("/api/v1/detections/{name}", &["GET", "PATCH"], get(one).patch(change)).add(
        "/api/v1/runs",
        &["GET"],
        get(runs),
    )
}

/// The most run records read from a shared store at once (the detection list reads the latest).
const STORE_RUNS: usize = 10_000;

/// The latest run records of `detection` (all when `None`), newest first, at most `count`:
/// from the shared alert store, else from the end of runs.jsonl.
fn latest_runs(api: &Api, detection: Option<&str>, count: usize) -> Result<Vec<Value>, ApiError> {
    let risk = api.risk.lock().map_err(|_| ApiError::Internal("risk index lock poisoned".into()))?;
    if risk.is_shared() {
        return Ok(risk.recent_runs(detection, count.min(STORE_RUNS))?);
    }
    drop(risk);
    let path = crate::schedule::runs_log_path(&api.detections.inner.data_dir);
    let of = |r: &Value| detection.is_none_or(|d| r["detections"].as_array().is_some_and(|a| a.iter().any(|n| n == d)));
    Ok(read_runs(&path).into_iter().rev().filter(of).take(count).collect())
}

/// The last run records (newest last), from the end of runs.jsonl.
fn read_runs(path: &Path) -> Vec<Value> {
    let Ok(mut f) = std::fs::File::open(path) else { return Vec::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(RUNS_TAIL_BYTES);
    let mut text = String::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_string(&mut text).is_err() {
        let mut bytes = Vec::new();
        let _ = f.seek(SeekFrom::Start(start)).and_then(|_| f.read_to_end(&mut bytes));
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    // The first line may be cut by the seek; it does not parse and is skipped.
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Everything the list and the detail show, for every detection that has a schedule.
fn describe_all(api: &Api) -> Result<Vec<Value>, ApiError> {
    let ctl = &api.detections;
    let c = &ctl.inner;
    let selection = ctl.selection();
    let SchedulerView { schedules, not_scheduled } = ctl.view()?;
    let mut runs = latest_runs(api, None, usize::MAX)?;
    runs.reverse();
    let mut out = Vec::new();
    for d in c.content.detections() {
        let Some(sched) = c.content.deployment_for(d).map(|dep| &dep.scheduling) else { continue };
        if sched.cron_schedule.as_deref().is_none_or(|c| c.trim().is_empty()) {
            continue;
        }
        let enabled = (sched.disabled != Some(true) || selection.enable.contains(&d.name)) && !selection.disable.contains(&d.name);
        let group = schedules.iter().find(|s| s.detections.contains(&d.name));
        let mine: Vec<&Value> = runs
            .iter()
            .filter(|r| {
                r.get("detections").and_then(Value::as_array).is_some_and(|a| a.iter().any(|n| n.as_str() == Some(d.name.as_str())))
            })
            .collect();
        let last_runs: Vec<&Value> = mine.iter().rev().take(LAST_RUNS).copied().collect();
        let last_error = mine.iter().rev().find_map(|r| r.get("error").cloned());
        let mut v = headline(d);
        let extra = json!({
            "enabled": enabled,
            "scheduled": group.is_some(),
            "not_scheduled_reason": not_scheduled.iter().find(|(n, _)| *n == d.name).map(|(_, why)| why),
            "cron": group.map(|g| g.cron.clone()).or(sched.cron_schedule.clone()),
            "earliest": group.map(|g| g.earliest.clone()).or(sched.earliest_time.clone()),
            "latest": group.map(|g| g.latest.clone()).or(sched.latest_time.clone()),
            "next_run": group.and_then(|g| g.next_run),
            "missed_ticks": group.map_or(0, |g| g.missed_ticks),
            "runs": mine.len(),
            "last_runs": last_runs,
            "last_error": last_error,
        });
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        out.push(v);
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    enabled: Option<bool>,
    q: Option<String>,
}

async fn list(State(api): State<Arc<Api>>, caller: Caller, Params(q): Params<ListQuery>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let api = api.clone();
    let mut all = blocking(move || describe_all(&api)).await?;
    if let Some(e) = q.enabled {
        all.retain(|d| d["enabled"] == e);
    }
    if let Some(text) = q.q.map(|t| t.to_lowercase()).filter(|t| !t.is_empty()) {
        all.retain(|d| d["name"].as_str().is_some_and(|n| n.to_lowercase().contains(&text)));
    }
    Ok(Json(json!({"total": all.len(), "detections": all})))
}

fn find(all: Vec<Value>, name: &str) -> Result<Value, ApiError> {
    all.into_iter()
        .find(|d| d["name"] == name || d["id"] == name)
        .ok_or_else(|| ApiError::NotFound(format!("no scheduled detection named `{name}`")))
}

async fn one(State(api): State<Arc<Api>>, caller: Caller, PathParam(name): PathParam<String>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let api = api.clone();
    let all = blocking(move || describe_all(&api)).await?;
    Ok(Json(find(all, &name)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    enabled: bool,
}

async fn change(
    State(api): State<Arc<Api>>,
    caller: Caller,
    PathParam(name): PathParam<String>,
    Body(b): Body<Change>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let api = api.clone();
    blocking(move || {
        let real = find(describe_all(&api)?, &name)?["name"].as_str().unwrap_or(&name).to_string();
        api.detections.set_enabled(&real, b.enabled)?;
        eprintln!("vigil serve: {} {} detection `{real}`", caller.user.name, if b.enabled { "enabled" } else { "disabled" });
        Ok(Json(find(describe_all(&api)?, &real)?))
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RunsQuery {
    detection: Option<String>,
    count: Option<usize>,
}

/// `/api/v1/runs`: the latest run records, newest first.
async fn runs(State(api): State<Arc<Api>>, caller: Caller, Params(q): Params<RunsQuery>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let count = q.count.unwrap_or(50).min(super::MAX_PAGE);
    let api = api.clone();
    blocking(move || {
        let runs = latest_runs(&api, q.detection.as_deref(), count)?;
        Ok(Json(json!({"count": runs.len(), "runs": runs})))
    })
    .await
}
