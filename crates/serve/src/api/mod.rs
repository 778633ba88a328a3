//! The console's HTTP API (`/api/v1`, JSON, described by `/api/v1/openapi.json`) and the parts
//! of Splunk's REST API that search scripts use (`/services/auth/login`, `/services/server/info`,
//! `/services/search/jobs/export`, oneshot jobs).
//!
//! ```text
//! request --auth.rs (session cookie + CSRF | Bearer API token | Basic | Splunk session key)
//!   --> Caller (user, role) --> handler --> risk index (notables.rs, risk.rs), scheduler
//!   (detections.rs), ingest counters and store (ingest_status.rs), search jobs (search/),
//!   users and tokens (accounts.rs)
//! ```
//!
//! Every route is registered through [`Routes`], which records its method and path, so a test
//! checks that the OpenAPI document (openapi.rs) describes exactly the routes served.
//!
//! Imports run one way: the handler modules use state.rs (the shared [`Api`], [`Routes`]) and
//! http.rs (errors, extractors, parameters); state.rs uses only the parts the state holds
//! (control.rs, search/jobs.rs, users, throttle); this file only mounts the handlers' routes.

mod accounts;
mod auth;
mod control;
mod detections;
mod http;
mod ingest_status;
mod notables;
pub mod openapi;
mod risk;
pub mod search;
pub mod splunk;
mod state;
pub mod throttle;
pub mod users;
mod users_backend;
mod users_postgres;
mod users_sqlite;

pub use auth::{Caller, SESSION_COOKIE};
pub use control::{effective_selection, DetectionControl};
pub use http::{iso, list_param, time_range, ApiError, Body, Paging, Params, PathParam, MAX_PAGE};
pub use state::{Api, Routes, Setup, SESSION_TTL};

use axum::Router;
use std::sync::Arc;

/// Every route of the API and the Splunk REST endpoints, not yet bound to a state.
pub fn routes() -> Routes {
    let r = Routes::new().add("/api/v1/openapi.json", &["GET"], axum::routing::get(openapi::serve));
    let r = auth::routes(r);
    let r = accounts::routes(r);
    let r = notables::routes(r);
    let r = risk::routes(r);
    let r = detections::routes(r);
    let r = ingest_status::routes(r);
    let r = search::routes(r);
    splunk::routes(r)
}

/// The API's router, bound to its state.
pub fn router(api: Arc<Api>) -> Router {
    routes().router.fallback(not_found).with_state(api)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
}
#[cfg(test)]
mod tests;
