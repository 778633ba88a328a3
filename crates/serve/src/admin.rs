//! The test clock: with `--now`, the server's clock starts at that time and
//! `POST /vigil/clock?to=TIME` (any HEC token) moves it forward and runs every tick it passes,
//! answering with their run records. Tests drive an hour of schedule without sleeping; without
//! `--now` the endpoint answers 403.

use crate::ingest::{Hec, HecError};
use crate::schedule::Scheduler;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vigil_model::Micros;

/// The server's clock: the wall clock, or (test clock) a start time plus elapsed time plus
/// whatever `advance_to` added.
pub struct Clock {
    started: Instant,
    start: Micros,
    offset: AtomicI64,
    test: bool,
}

impl Clock {
    pub fn new(now: Option<Micros>) -> Clock {
        Clock { started: Instant::now(), start: now.unwrap_or_else(vigil_time::now_micros), offset: AtomicI64::new(0), test: now.is_some() }
    }

    pub fn now(&self) -> Micros {
        if !self.test {
            return vigil_time::now_micros();
        }
        let elapsed = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        self.start.saturating_add(elapsed).saturating_add(self.offset.load(Ordering::SeqCst))
    }

    /// Moves a test clock forward to `t` (never back).
    fn advance_to(&self, t: Micros) -> Result<Micros, String> {
        if !self.test {
            return Err("the clock can be moved only when the server was started with --now".into());
        }
        let now = self.now();
        if t > now {
            self.offset.fetch_add(t - now, Ordering::SeqCst);
        }
        Ok(self.now())
    }
}

#[derive(Clone)]
pub struct Admin {
    pub hec: Arc<Hec>,
    pub clock: Arc<Clock>,
    pub scheduler: Arc<Mutex<Scheduler>>,
}

pub fn router(admin: Admin) -> Router {
    Router::new().route("/vigil/clock", post(advance)).with_state(admin)
}

async fn advance(State(a): State<Admin>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    if let Err(e) = a.hec.authorize(&headers) {
        return e.into_response();
    }
    let Some(to) = q.get("to").and_then(|t| parse_time(t)) else {
        return HecError::InvalidFormat(0).into_response();
    };
    let now = match a.clock.advance_to(to) {
        Ok(n) => n,
        Err(e) => return (StatusCode::FORBIDDEN, Json(json!({"text": e}))).into_response(),
    };
    let sched = a.scheduler.clone();
    let runs = tokio::task::spawn_blocking(move || sched.lock().map(|mut s| s.run_due(now)).unwrap_or_default()).await.unwrap_or_default();
    Json(json!({"now": vigil_time::format_time(now, "%Y-%m-%dT%H:%M:%S.%6NZ", &vigil_time::Tz::utc()), "runs": runs})).into_response()
}

/// Epoch seconds or ISO 8601.
fn parse_time(t: &str) -> Option<Micros> {
    match t.trim().parse::<f64>() {
        Ok(s) => vigil_time::micros_from_secs(s),
        Err(_) => vigil_time::parse_iso8601_utc(t),
    }
}
