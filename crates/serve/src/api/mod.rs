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

mod accounts;
mod auth;
mod detections;
mod ingest_status;
mod notables;
pub mod openapi;
mod risk;
pub mod search;
pub mod splunk;
pub mod throttle;
pub mod users;
mod users_backend;
mod users_postgres;
mod users_sqlite;

pub use auth::{Caller, SESSION_COOKIE};
pub use detections::{effective_selection, DetectionControl};

use crate::admin::Clock;
use crate::ingest::stats::IngestStats;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigil_alert::RiskStore;
use vigil_model::Micros;

/// How long a console or Splunk-API session lasts.
pub const SESSION_TTL: Micros = 12 * 3_600 * 1_000_000;

/// The API's shared state.
pub struct Api {
    pub users: users::Users,
    pub throttle: throttle::Throttle,
    /// The API's own connection to the alert store (the scheduler writes through another; with
    /// PostgreSQL, other processes too).
    pub risk: Mutex<RiskStore>,
    pub clock: Arc<Clock>,
    pub detections: DetectionControl,
    pub ingest: Arc<IngestStats>,
    pub store_root: PathBuf,
    pub seal_idle_secs: u64,
    pub jobs: search::Jobs,
    /// Session cookies carry `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
}

/// What the server hands the API when it starts.
pub struct Setup {
    pub data_dir: PathBuf,
    pub clock: Arc<Clock>,
    pub detections: DetectionControl,
    pub ingest: Arc<IngestStats>,
    pub seal_idle_secs: u64,
    pub secure_cookies: bool,
    /// `[alerts]`: the alert store the API reads and triages.
    pub alerts: crate::config::AlertsConfig,
}

impl Api {
    pub fn new(s: Setup) -> Result<Api, String> {
        let users = users::Users::open_configured(s.alerts.postgres_url(), &s.data_dir).map_err(|e| e.to_string())?;
        let risk = s.alerts.open(&s.data_dir)?;
        let store_root = crate::store::store_dir(&s.data_dir);
        let jobs = search::Jobs::new(s.detections.content(), store_root.clone(), &s.data_dir)?;
        Ok(Api {
            users,
            throttle: throttle::Throttle::default(),
            risk: Mutex::new(risk),
            clock: s.clock,
            detections: s.detections,
            ingest: s.ingest,
            store_root,
            seal_idle_secs: s.seal_idle_secs,
            jobs,
            secure_cookies: s.secure_cookies,
        })
    }

    pub fn now(&self) -> Micros {
        self.clock.now()
    }

    /// Runs `f` with the risk index on a blocking thread.
    pub(crate) async fn with_risk<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut RiskStore) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let api = self.clone();
        blocking(move || {
            let mut risk = api.risk.lock().map_err(|_| ApiError::Internal("risk index lock poisoned".into()))?;
            f(&mut risk)
        })
        .await
    }
}

/// Runs blocking work (SQLite, argon2, the engine) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("worker failed: {e}")))?
}

/// An API error: its HTTP status and a message for people, as `{"error": {"status", "message"}}`.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    /// Try again after this long.
    TooManyRequests(Duration, String),
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Internal(m)
            | ApiError::TooManyRequests(_, m) => m.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(m) = &self {
            eprintln!("vigil serve: api: {m}");
        }
        let status = self.status();
        let body = axum::Json(json!({"error": {"status": status.as_u16(), "message": self.message()}}));
        match self {
            ApiError::TooManyRequests(wait, _) => {
                (status, [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())], body).into_response()
            }
            _ => (status, body).into_response(),
        }
    }
}

impl ApiError {
    /// Logins refused by the throttle for `wait`.
    pub fn throttled(wait: Duration) -> ApiError {
        ApiError::TooManyRequests(wait, format!("too many failed logins; try again in {} s", wait.as_secs().max(1)))
    }
}

impl From<users::UserError> for ApiError {
    fn from(e: users::UserError) -> Self {
        use users::UserError as U;
        match e {
            U::Invalid(m) => ApiError::BadRequest(m),
            U::Exists(_) => ApiError::Conflict(e.to_string()),
            U::NoUser(_) | U::NoToken(_) => ApiError::NotFound(e.to_string()),
            U::Db { .. } | U::Internal(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<vigil_alert::StoreError> for ApiError {
    fn from(e: vigil_alert::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The router's routes with their methods, as registered (the OpenAPI test reads them).
pub struct Routes {
    router: Router<Arc<Api>>,
    pub list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn new() -> Routes {
        Routes { router: Router::new(), list: Vec::new() }
    }

    /// Registers `path` for `methods` (upper case, as listed in the OpenAPI document).
    fn add(mut self, path: &'static str, methods: &[&'static str], handler: MethodRouter<Arc<Api>>) -> Routes {
        self.router = self.router.route(path, handler);
        self.list.extend(methods.iter().map(|m| (*m, path)));
        self
    }
}

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

/// A JSON request body; a body that is not JSON of the expected shape is a 400 in the API's
/// error format (axum's own rejection is plain text).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// Query parameters, with the API's error format.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// A path parameter, with the API's error format.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(PathParam(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// `offset` / `count` of a listing, bounded.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(default)]
pub struct Paging {
    pub offset: usize,
    pub count: usize,
}

impl Default for Paging {
    fn default() -> Self {
        Paging { offset: 0, count: 50 }
    }
}

/// The most rows one page may ask for.
pub const MAX_PAGE: usize = 1000;

impl Paging {
    pub fn checked(self) -> Result<Paging, ApiError> {
        if self.count > MAX_PAGE {
            return Err(ApiError::BadRequest(format!("count {} is over the maximum of {MAX_PAGE}", self.count)));
        }
        Ok(self)
    }
}

/// `earliest` / `latest` (Splunk time modifiers, epoch seconds or ISO 8601) resolved against
/// the server's clock; `None` bounds are open.
pub fn time_range(earliest: Option<&str>, latest: Option<&str>, now: Micros) -> Result<(Option<Micros>, Option<Micros>), ApiError> {
    let tz = vigil_time::Tz::utc();
    let resolve = |what: &str, t: Option<&str>| -> Result<Option<Micros>, ApiError> {
        match t.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => {
                let spec = vigil_time::parse_modifier(t).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))?;
                Ok(Some(vigil_time::resolve(&spec, now, &tz)))
            }
        }
    };
    let (e, l) = (resolve("earliest", earliest)?, resolve("latest", latest)?);
    if let (Some(e), Some(l)) = (e, l) {
        if e > l {
            return Err(ApiError::BadRequest("earliest is after latest".into()));
        }
    }
    Ok((e, l))
}

/// ISO 8601 UTC to the second.
pub fn iso(t: Micros) -> String {
    vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%SZ", &vigil_time::Tz::utc())
}

/// A comma-separated query parameter as a list.
pub fn list_param(v: &Option<String>) -> Vec<String> {
    v.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests;
