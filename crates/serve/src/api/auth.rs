//! Who is calling: a [`Caller`] from the request, and the login endpoints.
//!
//! Credentials, in the order they are looked at:
//! - `Authorization: Bearer <API token>` (scripts; `vigil user token NAME` makes one);
//! - `Authorization: Basic` (user name and password, as `curl -u` sends them to Splunk);
//! - `Authorization: Splunk <session key>` (what `/services/auth/login` gives, as Splunk does);
//! - the `vigil_session` cookie (the browser), with `X-CSRF-Token` required on every request
//!   that is not GET/HEAD/OPTIONS: a page on another site can make the browser send the cookie
//!   but cannot read the token.
//!
//! HEC tokens are none of these: `Splunk <HEC token>` is not a session key, so an HEC token
//! never opens the API; and ingest accepts only HEC tokens, so an API token never ingests.
//! No answer carries `WWW-Authenticate: Basic`, so browsers never offer a password prompt
//! that would then send Basic credentials on their own.

use super::http::{blocking, ApiError, Body};
use super::state::{Api, Routes, SESSION_TTL};
use super::users::{Role, User};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub const SESSION_COOKIE: &str = "vigil_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq)]
pub enum Via {
    Cookie,
    Token,
    Basic,
    SessionKey,
}

/// The authenticated user of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub via: Via,
    /// The id of the API token the request came with (`Via::Token`).
    pub token_id: Option<String>,
}

impl Caller {
    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        match self.user.role >= role {
            true => Ok(()),
            false => Err(ApiError::Forbidden(format!(
                "this needs the {} role; {} is {}",
                role.as_str(),
                self.user.name,
                self.user.role.as_str()
            ))),
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The client's address, for login throttling.
fn client_ip(parts: &Parts) -> String {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

fn throttle_keys(user: &str, ip: &str) -> Vec<String> {
    vec![format!("user:{user}"), format!("ip:{ip}")]
}

/// Checks a password under the login throttle; `Ok(None)` is a wrong name or password.
pub(crate) async fn password_login(api: &Arc<Api>, name: &str, password: &str, ip: &str) -> Result<Option<User>, ApiError> {
    let keys = throttle_keys(name, ip);
    api.throttle.check(&keys, Instant::now()).map_err(ApiError::throttled)?;
    let (a, n, p) = (api.clone(), name.to_string(), password.to_string());
    let user = blocking(move || Ok(a.users.verify(&n, &p)?)).await?;
    match &user {
        Some(_) => api.throttle.succeeded(&keys[0]),
        None => api.throttle.failed(&keys, Instant::now()),
    }
    Ok(user)
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("log in first (session cookie), or send Authorization: Bearer <API token>, Basic or Splunk <session key>".into())
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Caller, ApiError> {
        let now = api.now();
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| unauthorized())?.trim();
            let (scheme, cred) = value.split_once(' ').ok_or_else(unauthorized)?;
            let cred = cred.trim().to_string();
            let a = api.clone();
            let mut token_id = None;
            let (user, via) = match scheme.to_ascii_lowercase().as_str() {
                "bearer" => {
                    let found = blocking(move || Ok(a.users.token_user(&cred, now)?)).await?;
                    token_id = found.as_ref().map(|(_, id)| id.clone());
                    (found.map(|(u, _)| u), Via::Token)
                }
                "splunk" => (blocking(move || Ok(a.users.session(&cred, now)?.map(|s| s.user))).await?, Via::SessionKey),
                "basic" => {
                    let decoded = <base64ct::Base64 as base64ct::Encoding>::decode_vec(&cred).map_err(|_| unauthorized())?;
                    let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
                    let (name, password) = text.split_once(':').ok_or_else(unauthorized)?;
                    (password_login(api, name, password, &client_ip(parts)).await?, Via::Basic)
                }
                _ => (None, Via::Token),
            };
            return user.map(|user| Caller { user, via, token_id }).ok_or_else(unauthorized);
        }
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(unauthorized)?.to_string();
        let a = api.clone();
        let session = blocking(move || Ok(a.users.session(&id, now)?)).await?.ok_or_else(unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), session.csrf.as_bytes())) {
                return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token header (GET /api/v1/auth/session gives it)".into()));
            }
        }
        Ok(Caller { user: session.user, via: Via::Cookie, token_id: None })
    }
}

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/auth/login", &["POST"], post(login))
        .add("/api/v1/auth/logout", &["POST"], post(logout))
        .add("/api/v1/auth/session", &["GET"], get(session))
        .add("/api/v1/auth/password", &["POST"], post(change_password))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

fn session_cookie(api: &Api, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let secure = if api.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// `POST /api/v1/auth/login`: a session cookie and the CSRF token that goes with it.
async fn login(State(api): State<Arc<Api>>, ConnectInfoOpt(ip): ConnectInfoOpt, Body(body): Body<Login>) -> Result<Response, ApiError> {
    let user = password_login(&api, &body.username, &body.password, &ip)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("wrong user name or password".into()))?;
    let (a, name, now) = (api.clone(), user.name.clone(), api.now());
    let (id, csrf) = blocking(move || Ok(a.users.create_session(&name, now, SESSION_TTL)?)).await?;
    let cookie = session_cookie(&api, &id, SESSION_TTL / 1_000_000)?;
    let body = json!({"user": user.name, "role": user.role, "csrf_token": csrf});
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /api/v1/auth/logout`: ends the cookie's session (or the Splunk session key's).
async fn logout(State(api): State<Arc<Api>>, caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = match caller.via {
        Via::Cookie => cookie(&headers, SESSION_COOKIE).map(str::to_string),
        Via::SessionKey => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .map(|(_, k)| k.trim().to_string()),
        _ => None,
    };
    if let Some(id) = id {
        let a = api.clone();
        blocking(move || Ok(a.users.end_session(&id)?)).await?;
    }
    Ok(([(header::SET_COOKIE, session_cookie(&api, "", 0)?)], Json(json!({"logged_out": caller.user.name}))).into_response())
}

/// `GET /api/v1/auth/session`: who is logged in, with the session's CSRF token.
async fn session(State(api): State<Arc<Api>>, caller: Caller, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    let csrf = match caller.via {
        Via::Cookie => {
            let id = cookie(&headers, SESSION_COOKIE).unwrap_or("").to_string();
            let (a, now) = (api.clone(), api.now());
            blocking(move || Ok(a.users.session(&id, now)?)).await?.map(|s| s.csrf)
        }
        _ => None,
    };
    let via = format!("{:?}", caller.via).to_lowercase();
    Ok(Json(json!({"user": caller.user.name, "role": caller.user.role, "via": via, "csrf_token": csrf})))
}

#[derive(Deserialize)]
struct PasswordChange {
    current: String,
    new: String,
}

/// `POST /api/v1/auth/password`: a user changes their own password (their sessions end).
async fn change_password(
    State(api): State<Arc<Api>>,
    ConnectInfoOpt(ip): ConnectInfoOpt,
    caller: Caller,
    Body(body): Body<PasswordChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if password_login(&api, &caller.user.name, &body.current, &ip).await?.is_none() {
        return Err(ApiError::Forbidden("the current password is wrong".into()));
    }
    let (a, name) = (api.clone(), caller.user.name.clone());
    blocking(move || Ok(a.users.set_password(&name, &body.new)?)).await?;
    Ok(Json(json!({"user": caller.user.name, "password_changed": true})))
}

/// The client address, or `unknown` when the server was not started with connection info.
pub struct ConnectInfoOpt(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ConnectInfoOpt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ConnectInfoOpt(client_ip(parts)))
    }
}
