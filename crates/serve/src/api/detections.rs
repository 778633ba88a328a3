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

use super::auth::Caller;
use super::control::{headline, SchedulerView};
use super::http::{blocking, ApiError, Body, Params, PathParam, MAX_PAGE};
use super::state::{Api, Routes};
use super::users::Role;
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// How much of the end of runs.jsonl is read for "last runs".
const RUNS_TAIL_BYTES: u64 = 4 << 20;
/// Last runs shown per detection.
const LAST_RUNS: usize = 10;

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
    let path = crate::schedule::runs_log_path(api.detections.data_dir());
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
    let content = ctl.content_ref();
    let selection = ctl.selection();
    let SchedulerView { schedules, not_scheduled } = ctl.view()?;
    let mut runs = latest_runs(api, None, usize::MAX)?;
    runs.reverse();
    let mut out = Vec::new();
    for d in content.detections() {
        let Some(sched) = content.deployment_for(d).map(|dep| &dep.scheduling) else { continue };
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
    let count = q.count.unwrap_or(50).min(MAX_PAGE);
    let api = api.clone();
    blocking(move || {
        let runs = latest_runs(&api, q.detection.as_deref(), count)?;
        Ok(Json(json!({"count": runs.len(), "runs": runs})))
    })
    .await
}
