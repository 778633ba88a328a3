//! Ingest: Splunk's HTTP Event Collector (HEC) endpoints, in front of the store.
//!
//! ```text
//! request --auth (token, constant time)--> body (gunzip, limits) --parse--> events
//!   --stamp (_indextime = arrival, partition time)--> commit queue --fsync--> answer / ack true
//! ```
//!
//! Without indexer acknowledgement the answer (`{"text":"Success","code":0}`) is sent only
//! after the events are fsynced. With it (token `ack = true`) the answer carries an `ackId`
//! at once, and `/services/collector/ack` reports that id true only after the fsync.

mod acks;
pub mod budget;
pub mod envelope;
mod errors;
pub mod parse;
pub mod stats;

pub use errors::HecError;

use crate::commit::Committer;
use crate::config::{Limits, TokenConfig};
use crate::indexed;
use crate::store::StoredEvent;
use acks::Acks;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use parse::{Defaults, Incoming};
use serde_json::json;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;
use vigil_model::Micros;

/// The ingest side's shared state.
pub struct Hec {
    /// Replaced whole on reload.
    tokens: RwLock<Arc<Vec<TokenConfig>>>,
    committer: Committer,
    limits: RwLock<Limits>,
    /// Request bodies in memory (`max_inflight_body_bytes`, set at start).
    budget: budget::Budget,
    acks: Acks,
    /// The server's clock (micros): arrival times come from it.
    clock: Arc<dyn Fn() -> Micros + Send + Sync>,
    /// What was stored, per token and sourcetype (the API's ingest status).
    pub stats: Arc<stats::IngestStats>,
}

impl Hec {
    pub fn new(tokens: Vec<TokenConfig>, committer: Committer, limits: Limits, clock: Arc<dyn Fn() -> Micros + Send + Sync>) -> Hec {
        Hec {
            tokens: RwLock::new(Arc::new(tokens)),
            committer,
            budget: budget::Budget::new(limits.max_inflight_body_bytes),
            limits: RwLock::new(limits),
            acks: Acks::default(),
            clock,
            stats: Arc::default(),
        }
    }

    /// Applies reloaded tokens and limits to the requests that start from now on.
    pub fn reconfigure(&self, tokens: Vec<TokenConfig>, limits: Limits) {
        if let Ok(mut t) = self.tokens.write() {
            *t = Arc::new(tokens);
        }
        if let Ok(mut l) = self.limits.write() {
            *l = limits;
        }
    }

    fn limits(&self) -> Limits {
        self.limits.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// The commit queue (its depth for /metrics, its flush on shutdown).
    pub fn committer(&self) -> &Committer {
        &self.committer
    }

    /// The token of `Authorization: Splunk <token>`. Every configured token is compared, in
    /// constant time, so timing does not tell how much of a guess was right.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<TokenConfig, HecError> {
        let value = headers.get(header::AUTHORIZATION).ok_or(HecError::TokenRequired)?;
        let value = value.to_str().map_err(|_| HecError::InvalidAuthorization)?.trim();
        let (scheme, given) = value.split_once(' ').ok_or(HecError::InvalidAuthorization)?;
        if !scheme.eq_ignore_ascii_case("splunk") {
            return Err(HecError::InvalidAuthorization);
        }
        let given = given.trim().as_bytes();
        let mut found = None;
        let tokens = self.tokens.read().map(|t| t.clone()).map_err(|_| HecError::Internal)?;
        for t in tokens.iter() {
            if bool::from(t.token.as_bytes().ct_eq(given)) {
                found = Some(t);
            }
        }
        found.cloned().ok_or(HecError::InvalidToken)
    }
}

/// The HEC routes.
pub fn router(hec: Arc<Hec>) -> Router {
    Router::new()
        .route("/services/collector", post(event))
        .route("/services/collector/event", post(event))
        .route("/services/collector/event/1.0", post(event))
        .route("/services/collector/raw", post(raw))
        .route("/services/collector/raw/1.0", post(raw))
        .route("/services/collector/ack", post(ack))
        .route("/services/collector/health", get(health))
        .route("/services/collector/health/1.0", get(health))
        .with_state(hec)
}

type Params = Query<HashMap<String, String>>;

async fn event(State(hec): State<Arc<Hec>>, Query(q): Params, headers: HeaderMap, body: Body) -> Response {
    ingest(hec, false, q, headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn raw(State(hec): State<Arc<Hec>>, Query(q): Params, headers: HeaderMap, body: Body) -> Response {
    ingest(hec, true, q, headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn health(State(hec): State<Arc<Hec>>) -> Response {
    if hec.committer.is_full() {
        return HecError::Unhealthy.into_response();
    }
    Json(json!({"text": "HEC is healthy", "code": 17})).into_response()
}

/// The request's channel: `X-Splunk-Request-Channel` header, else `channel` parameter.
fn channel(headers: &HeaderMap, q: &HashMap<String, String>) -> Option<String> {
    let h = headers.get("x-splunk-request-channel").and_then(|v| v.to_str().ok()).map(str::to_string);
    h.or_else(|| q.get("channel").cloned()).map(|c| c.trim().to_string()).filter(|c| !c.is_empty())
}

async fn ingest(hec: Arc<Hec>, raw: bool, q: HashMap<String, String>, headers: HeaderMap, body: Body) -> Result<Response, HecError> {
    let received = std::time::Instant::now();
    let token = hec.authorize(&headers)?;
    let channel = channel(&headers, &q);
    if token.ack && channel.is_none() {
        return Err(HecError::ChannelMissing);
    }
    let limits = hec.limits();
    let (body, mut held) = budget::read_body(body, &headers, limits.max_body_bytes, &hec.budget).await?;
    let gzip = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let now = (hec.clock)();
    let ack = token.ack;
    let token_name = token.name.clone().unwrap_or_else(|| "unnamed".into());
    // Decompressing, parsing and reading event times is CPU work: off the async threads.
    let (events, held) = tokio::task::spawn_blocking(move || -> Result<(Vec<StoredEvent>, budget::Held), HecError> {
        let body = if gzip { gunzip(&body, limits.max_body_bytes, &mut held)? } else { body };
        let defaults = defaults(&token, &q)?;
        let incoming = match raw {
            true => parse::parse_raw_body(&body, &defaults, limits.max_event_bytes)?,
            false => parse::parse_event_body(&body, &defaults, limits.max_event_bytes)?,
        };
        Ok((stamp(incoming, &token, now)?, held))
    })
    .await
    .map_err(|_| HecError::Internal)??;
    let counts = count_by_sourcetype(&events);
    for (st, (n, b)) in &counts {
        crate::metrics::global().received(&token_name, st, *n, *b);
    }
    // The body's bytes stay counted until its events are durable: the commit queue is in the budget.
    let done = hec.committer.submit(events).map_err(|_| {
        crate::metrics::global().hec_busy("queue");
        HecError::Busy
    })?;
    let record = {
        let (h, now) = (hec.clone(), (hec.clock)());
        move || counts.iter().for_each(|(st, (n, b))| h.stats.record(&token_name, st, *n, *b, now))
    };
    match (ack, channel) {
        (true, Some(channel)) => {
            let id = hec.acks.register(&channel).ok_or_else(|| {
                crate::metrics::global().hec_busy("acks");
                HecError::Busy
            })?;
            let h = hec.clone();
            tokio::spawn(async move {
                let stored = matches!(done.await, Ok(Ok(())));
                drop(held);
                crate::metrics::global().ack_latency(received.elapsed().as_secs_f64());
                if stored {
                    record();
                }
                h.acks.complete(&channel, id, stored);
            });
            Ok(Json(json!({"text": "Success", "code": 0, "ackId": id})).into_response())
        }
        _ => {
            let stored = done.await;
            drop(held);
            match stored {
                Ok(Ok(())) => {
                    crate::metrics::global().ack_latency(received.elapsed().as_secs_f64());
                    record();
                    Ok(Json(json!({"text": "Success", "code": 0})).into_response())
                }
                _ => Err(HecError::Internal),
            }
        }
    }
}

/// Events and bytes of event text per sourcetype.
fn count_by_sourcetype(events: &[StoredEvent]) -> Vec<(String, (u64, u64))> {
    let mut out: Vec<(String, (u64, u64))> = Vec::new();
    for e in events {
        match out.iter_mut().find(|(st, _)| *st == e.sourcetype) {
            Some((_, (n, b))) => {
                *n += 1;
                *b += e.text.len() as u64;
            }
            None => out.push((e.sourcetype.clone(), (1, e.text.len() as u64))),
        }
    }
    out
}

/// Metadata given for every event of the request: query parameters (`/raw`, and `/event`
/// too), then the token's configured sourcetype and index. Empty: not given (see
/// [`crate::indexed`] for what is used then).
fn defaults(token: &TokenConfig, q: &HashMap<String, String>) -> Result<Defaults, HecError> {
    let param = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let time = match param("time") {
        Some(t) => Some(t.trim().parse::<f64>().map_err(|_| HecError::InvalidFormat(0))?),
        None => None,
    };
    let index = token.default_index.clone().or_else(|| token.indexes.first().cloned()).unwrap_or_else(|| "main".into());
    Ok(Defaults {
        host: param("host").unwrap_or_default(),
        source: param("source").unwrap_or_default(),
        sourcetype: param("sourcetype").or_else(|| token.sourcetype.clone()).unwrap_or_default(),
        index: param("index").unwrap_or(index),
        time,
    })
}

/// A request's events as stored: indexes checked, arrival stamped, `_time` and metadata
/// resolved (what the sender did not give is read from the texts, in one reader pass over
/// the events that miss something).
fn stamp(incoming: Vec<Incoming>, token: &TokenConfig, now: Micros) -> Result<Vec<StoredEvent>, HecError> {
    let mut given = Vec::with_capacity(incoming.len());
    let mut bodies = Vec::with_capacity(incoming.len());
    for (n, e) in incoming.into_iter().enumerate() {
        if !token.indexes.is_empty() && !token.indexes.contains(&e.index) {
            return Err(HecError::IncorrectIndex(n));
        }
        given.push(indexed::Given { time: e.time, host: e.host, source: e.source, sourcetype: e.sourcetype, index: e.index });
        bodies.push((e.text, e.fields));
    }
    let derived = indexed::Derived::for_missing(&bodies.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>(), &given);
    let fallback = indexed::Fallback {
        host: "vigil".into(),
        source: format!("http:{}", token.name.as_deref().unwrap_or("hec")),
        sourcetype: "httpevent".into(),
    };
    let events = bodies
        .into_iter()
        .zip(given)
        .zip(derived)
        .map(|(((text, fields), given), derived)| indexed::resolve(text, given, derived, &fallback, fields, now))
        .collect();
    Ok(events)
}

/// Inflates a gzip body within `limit` bytes, taking the inflated bytes from the budget as
/// they come (a small bomb cannot take more memory than the budget lets it).
fn gunzip(body: &[u8], limit: usize, held: &mut budget::Held) -> Result<Bytes, HecError> {
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(body);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = dec.read(&mut chunk).map_err(|_| HecError::InvalidFormat(0))?;
        if n == 0 {
            return Ok(Bytes::from(out));
        }
        if out.len() + n > limit {
            return Err(HecError::BodyTooLarge);
        }
        held.grow(n)?;
        out.extend_from_slice(&chunk[..n]);
    }
}

#[derive(serde::Deserialize)]
struct AckRequest {
    acks: Vec<u64>,
}

async fn ack(State(hec): State<Arc<Hec>>, Query(q): Params, headers: HeaderMap, body: Bytes) -> Response {
    let answer = || -> Result<Response, HecError> {
        let token = hec.authorize(&headers)?;
        if !token.ack {
            return Err(HecError::AckDisabled);
        }
        let channel = channel(&headers, &q).ok_or(HecError::ChannelMissing)?;
        let req: AckRequest = serde_json::from_slice(&body).map_err(|_| HecError::InvalidFormat(0))?;
        let status = hec.acks.query(&channel, &req.acks).ok_or(HecError::InvalidChannel)?;
        let map: serde_json::Map<String, serde_json::Value> = status.into_iter().map(|(id, ok)| (id.to_string(), ok.into())).collect();
        Ok(Json(json!({ "acks": map })).into_response())
    };
    answer().unwrap_or_else(IntoResponse::into_response)
}
