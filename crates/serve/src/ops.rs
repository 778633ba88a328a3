//! Operations endpoints: `GET /metrics` (Prometheus text, no token: it holds counts and
//! token names only, and the server binds loopback unless configured) and
//! `POST /vigil/reload` (any HEC token; what SIGHUP does).

use crate::actions::Actions;
use crate::ingest::Hec;
use crate::metrics;
use crate::reload::Reloader;
use crate::schedule::Scheduler;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Ops {
    pub hec: Arc<Hec>,
    pub actions: Arc<Actions>,
    pub store_root: PathBuf,
    /// Detections scheduled, kept current by the scheduler's owner (no lock at scrape time).
    pub scheduled: Arc<AtomicUsize>,
    pub reloader: Arc<Mutex<Reloader>>,
}

pub fn router(ops: Ops) -> Router {
    Router::new().route("/metrics", get(scrape)).route("/vigil/reload", post(reload)).with_state(ops)
}

async fn scrape(State(o): State<Ops>) -> Response {
    let text = tokio::task::spawn_blocking(move || {
        let sources = metrics::Sources {
            queued: o.hec.committer().stats.queued.load(Ordering::Relaxed),
            store_root: &o.store_root,
            scheduled: o.scheduled.load(Ordering::Relaxed),
            actions: o.actions.depths(),
        };
        metrics::global().render(&sources)
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

async fn reload(State(o): State<Ops>, headers: HeaderMap) -> Response {
    if let Err(e) = o.hec.authorize(&headers) {
        return e.into_response();
    }
    let done = tokio::task::spawn_blocking(move || match o.reloader.lock() {
        Ok(mut r) => r.reload(),
        Err(_) => Err("reload: lock poisoned".to_string()),
    })
    .await
    .unwrap_or_else(|_| Err("reload: the reload task failed".into()));
    match done {
        Ok(summary) => Json(json!({"text": "Reloaded", "summary": summary})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"text": "Reload failed; the running configuration is unchanged", "error": e})))
            .into_response(),
    }
}

/// Keeps [`Ops::scheduled`] current.
pub fn count_scheduled(s: &Scheduler, into: &AtomicUsize) {
    into.store(s.detection_count(), Ordering::Relaxed);
}
