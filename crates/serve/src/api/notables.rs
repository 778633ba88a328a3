//! Incident review: `/api/v1/notables` (list with filters and paging, one notable with its
//! audit trail and risk events, triage changes).

use super::auth::Caller;
use super::http::{list_param, time_range, ApiError, Body, Paging, Params, PathParam};
use super::state::{Api, Routes};
use super::users::Role;
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use vigil_alert::{NotableFilter, ReviewChange, ReviewError};

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/notables", &["GET"], get(list)).add("/api/v1/notables/{id}", &["GET", "PATCH"], get(one).patch(update)).add(
        "/api/v1/notables/{id}/audit",
        &["GET"],
        get(audit),
    )
}

/// The listing's query parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    earliest: Option<String>,
    latest: Option<String>,
    detection: Option<String>,
    /// Comma-separated.
    urgency: Option<String>,
    /// Comma-separated.
    status: Option<String>,
    owner: Option<String>,
    dest: Option<String>,
    user: Option<String>,
    /// Full text over the notable's fields.
    q: Option<String>,
    offset: Option<usize>,
    count: Option<usize>,
}

fn check_values(what: &str, values: &[String], allowed: &[&str]) -> Result<(), ApiError> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(v) => Err(ApiError::BadRequest(format!("{what} `{v}` is not one of {}", allowed.join(", ")))),
        None => Ok(()),
    }
}

async fn list(State(api): State<Arc<Api>>, caller: Caller, Params(q): Params<ListQuery>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let (from, to) = time_range(q.earliest.as_deref(), q.latest.as_deref(), api.now())?;
    let paging = Paging { offset: q.offset.unwrap_or(0), count: q.count.unwrap_or(Paging::default().count) }.checked()?;
    let (status, urgency) = (list_param(&q.status), list_param(&q.urgency));
    check_values("status", &status, &vigil_alert::STATUSES)?;
    check_values("urgency", &urgency, &vigil_alert::URGENCIES)?;
    let filter = NotableFilter {
        from,
        to,
        detection: q.detection.filter(|d| !d.is_empty()),
        urgency,
        status,
        owner: q.owner.filter(|o| !o.is_empty()),
        dest: q.dest.filter(|d| !d.is_empty()),
        user: q.user.filter(|u| !u.is_empty()),
        text: q.q.filter(|t| !t.is_empty()),
    };
    let (page, total) = api.with_risk(move |r| Ok(r.review_list(&filter, paging.offset, paging.count)?)).await?;
    Ok(Json(json!({"total": total, "offset": paging.offset, "count": page.len(), "notables": page})))
}

/// One notable: its review state, audit trail and the risk events its detection raised for
/// the same result (same detection, same `_time` as the notable's run).
async fn one(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let detections = api.detections.clone();
    api.with_risk(move |r| {
        let n = r.review_get(&id)?.ok_or_else(|| ApiError::NotFound(format!("no notable with id {id}")))?;
        let audit = r.review_audit(&id)?;
        let risk: Vec<Value> = r
            .risk_events_json(n.time, n.time.saturating_add(1))?
            .into_iter()
            .filter(|e| e.get("search_name").and_then(Value::as_str) == Some(n.search_name.as_str()))
            .filter(|e| same_result(e, &n.notable))
            .collect();
        let detection = n.notable.get("detection_id").and_then(Value::as_str).and_then(|id| detections.describe_by_id(id));
        Ok(Json(json!({"notable": n, "audit": audit, "risk_events": risk, "detection": detection})))
    })
    .await
}

/// Whether a risk event came from the same result row as the notable: every `orig_` field the
/// notable has agrees.
fn same_result(risk: &Value, notable: &Value) -> bool {
    let (Some(r), Some(n)) = (risk.as_object(), notable.as_object()) else { return false };
    n.iter().filter(|(k, _)| k.starts_with("orig_")).all(|(k, v)| r.get(k).is_none_or(|rv| rv == v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    status: Option<String>,
    owner: Option<String>,
    urgency: Option<String>,
    comment: Option<String>,
}

async fn update(
    State(api): State<Arc<Api>>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Body(u): Body<Update>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let now = api.now();
    let who = caller.user.name.clone();
    let change = ReviewChange { status: u.status, owner: u.owner, urgency: u.urgency, comment: u.comment };
    api.with_risk(move |r| {
        let n = r.review_update(&id, &change, &who, now).map_err(|e| match e {
            ReviewError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ReviewError::Invalid(m) => ApiError::BadRequest(m),
            ReviewError::Store(e) => e.into(),
        })?;
        let audit = r.review_audit(&id)?;
        Ok(Json(json!({"notable": n, "audit": audit})))
    })
    .await
}

async fn audit(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    api.with_risk(move |r| {
        if r.review_get(&id)?.is_none() {
            return Err(ApiError::NotFound(format!("no notable with id {id}")));
        }
        Ok(Json(json!({"audit": r.review_audit(&id)?})))
    })
    .await
}
