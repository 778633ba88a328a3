//! What every handler of the API shares: its error type (JSON errors with an HTTP status),
//! request extractors that answer in that format, paging and time-range parameters, and
//! running blocking work off the async threads.

use super::users;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;
use vigil_model::Micros;

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
