//! Risk: `/api/v1/risk/objects` (risk by object over a time range), one object's risk events
//! and score over time, `/api/v1/risk/incidents` (the notables of the risk incident rules).

use super::auth::Caller;
use super::http::{time_range, ApiError, Paging, Params, PathParam};
use super::state::{Api, Routes};
use super::users::Role;
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use vigil_alert::{NotableFilter, ATTACK_TACTIC_RULE, RISK_THRESHOLD_RULE};
use vigil_model::Micros;

/// At most this many risk events are returned for one object.
const MAX_OBJECT_EVENTS: usize = 5000;

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/risk/objects", &["GET"], get(objects)).add("/api/v1/risk/objects/{type}/{object}", &["GET"], get(object)).add(
        "/api/v1/risk/incidents",
        &["GET"],
        get(incidents),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RangeQuery {
    earliest: Option<String>,
    latest: Option<String>,
    /// `user`, `system` or `other`.
    r#type: Option<String>,
    offset: Option<usize>,
    count: Option<usize>,
    /// Seconds per timeline bucket (default: chosen from the range).
    span: Option<u64>,
}

fn bounds(q: &RangeQuery, now: Micros) -> Result<(Micros, Micros), ApiError> {
    let (from, to) = time_range(q.earliest.as_deref(), q.latest.as_deref(), now)?;
    Ok((from.unwrap_or(Micros::MIN), to.unwrap_or(Micros::MAX)))
}

fn paging(q: &RangeQuery) -> Result<Paging, ApiError> {
    Paging { offset: q.offset.unwrap_or(0), count: q.count.unwrap_or(Paging::default().count) }.checked()
}

async fn objects(State(api): State<Arc<Api>>, caller: Caller, Params(q): Params<RangeQuery>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let (from, to) = bounds(&q, api.now())?;
    let p = paging(&q)?;
    api.with_risk(move |r| {
        let mut all = r.risk_by_object(from, to)?;
        if let Some(t) = q.r#type.as_deref().filter(|t| !t.is_empty()) {
            all.retain(|o| o.risk_object_type == t);
        }
        let total = all.len();
        let page: Vec<_> = all.into_iter().skip(p.offset).take(p.count).collect();
        Ok(Json(json!({"total": total, "offset": p.offset, "count": page.len(), "objects": page})))
    })
    .await
}

/// One object: its sum, detections, tactics, risk events and score per time bucket.
async fn object(
    State(api): State<Arc<Api>>,
    caller: Caller,
    PathParam((kind, name)): PathParam<(String, String)>,
    Params(q): Params<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let (from, to) = bounds(&q, api.now())?;
    if q.span == Some(0) {
        return Err(ApiError::BadRequest("span must be at least 1 second".into()));
    }
    api.with_risk(move |r| {
        let key = name.to_lowercase();
        let summary = r.risk_by_object(from, to)?.into_iter().find(|o| o.risk_object == key && o.risk_object_type == kind);
        let Some(summary) = summary else {
            return Err(ApiError::NotFound(format!("no risk for {kind} `{name}` in this range")));
        };
        let events = r.risk_events_of(&key, &kind, from, to, MAX_OBJECT_EVENTS)?;
        let span = q
            .span
            .map(|s| s.min(u64::MAX / 2_000_000) as Micros * 1_000_000)
            .unwrap_or_else(|| auto_span(summary.first_time, summary.last_time));
        let timeline = score_timeline(&events, span);
        Ok(Json(json!({"object": summary, "events": events, "timeline": {"span": span / 1_000_000, "buckets": timeline}})))
    })
    .await
}

/// About 50 buckets over the span of the events, at least a minute each.
pub(crate) fn auto_span(first: Micros, last: Micros) -> Micros {
    const STEPS: [Micros; 9] = [60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400];
    let width = last.saturating_sub(first).max(1) / 1_000_000;
    let step = STEPS.iter().copied().find(|s| width / s <= 50).unwrap_or_else(|| (width / 50 / 86_400 + 1) * 86_400);
    step * 1_000_000
}

/// Sum of risk scores and count of risk events per bucket of `span`, in time order.
fn score_timeline(events: &[Value], span: Micros) -> Vec<Value> {
    let mut buckets: std::collections::BTreeMap<Micros, (f64, usize)> = Default::default();
    for e in events {
        let Some(t) = e.get("_time").and_then(Value::as_f64).and_then(vigil_time::micros_from_secs) else { continue };
        let b = buckets.entry(t.div_euclid(span) * span).or_default();
        b.0 += e.get("risk_score").and_then(Value::as_f64).unwrap_or(0.0);
        b.1 += 1;
    }
    buckets.into_iter().map(|(t, (score, count))| json!({"time": t / 1_000_000, "risk_score": score, "count": count})).collect()
}

async fn incidents(State(api): State<Arc<Api>>, caller: Caller, Params(q): Params<RangeQuery>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let (from, to) = time_range(q.earliest.as_deref(), q.latest.as_deref(), api.now())?;
    let p = paging(&q)?;
    api.with_risk(move |r| {
        let mut out = Vec::new();
        let mut total = 0;
        // The two rules' notables, newest first, paged over both.
        for rule in [RISK_THRESHOLD_RULE, ATTACK_TACTIC_RULE] {
            let f = NotableFilter { from, to, detection: Some(rule.to_string()), ..Default::default() };
            let (page, n) = r.review_list(&f, 0, p.offset.saturating_add(p.count))?;
            total += n;
            out.extend(page);
        }
        out.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.id.cmp(&b.id)));
        let page: Vec<_> = out.into_iter().skip(p.offset).take(p.count).collect();
        Ok(Json(json!({"total": total, "offset": p.offset, "count": page.len(), "incidents": page})))
    })
    .await
}
