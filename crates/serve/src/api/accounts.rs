//! Users and API tokens (admin): `/api/v1/users`, `/api/v1/tokens`.
//!
//! The console never locks itself out: the last admin cannot be removed or made an analyst, an
//! admin does not remove, demote or reset themselves here (their own password changes through
//! `/api/v1/auth/password`, with the current one), and a request cannot revoke the API token it
//! came with.

use super::auth::Caller;
use super::http::{blocking, ApiError, Body, Params, PathParam};
use super::state::{Api, Routes};
use super::users::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/users", &["GET", "POST"], get(list_users).post(add_user))
        .add("/api/v1/users/{name}", &["PATCH", "DELETE"], patch(change_user).delete(remove_user))
        .add("/api/v1/tokens", &["GET", "POST"], get(list_tokens).post(create_token))
        .add("/api/v1/tokens/{id}", &["DELETE"], delete(revoke_token))
}

async fn list_users(State(api): State<Arc<Api>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let users = blocking(move || Ok(api.users.list()?)).await?;
    Ok(Json(json!({ "users": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: String,
    password: String,
}

async fn add_user(State(api): State<Arc<Api>>, caller: Caller, Body(b): Body<NewUser>) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let role = Role::parse(&b.role)?;
    let now = api.now();
    let user = blocking(move || Ok(api.users.add(&b.name, role, &b.password, now)?)).await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    role: Option<String>,
    password: Option<String>,
}

async fn change_user(
    State(api): State<Arc<Api>>,
    caller: Caller,
    PathParam(name): PathParam<String>,
    Body(b): Body<UserChange>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let role = b.role.as_deref().map(Role::parse).transpose()?;
    if name == caller.user.name {
        return Err(ApiError::Conflict("change your own password with /api/v1/auth/password; another admin changes your role".into()));
    }
    blocking(move || {
        let user = api.users.get(&name)?.ok_or_else(|| ApiError::NotFound(format!("no user `{name}`")))?;
        if role == Some(Role::Analyst) && user.role == Role::Admin && api.users.admins()? <= 1 {
            return Err(ApiError::Conflict(format!("`{name}` is the last admin")));
        }
        if let Some(p) = &b.password {
            api.users.set_password(&name, p)?;
        }
        if let Some(r) = role {
            api.users.set_role(&name, r)?;
        }
        let user = api.users.get(&name)?.ok_or_else(|| ApiError::NotFound(format!("no user `{name}`")))?;
        Ok(Json(json!(user)))
    })
    .await
}

async fn remove_user(State(api): State<Arc<Api>>, caller: Caller, PathParam(name): PathParam<String>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    if name == caller.user.name {
        return Err(ApiError::Conflict("you cannot remove yourself; another admin can".into()));
    }
    blocking(move || {
        let user = api.users.get(&name)?.ok_or_else(|| ApiError::NotFound(format!("no user `{name}`")))?;
        if user.role == Role::Admin && api.users.admins()? <= 1 {
            return Err(ApiError::Conflict(format!("`{name}` is the last admin")));
        }
        api.users.remove(&name)?;
        Ok(Json(json!({ "removed": name })))
    })
    .await
}

#[derive(Deserialize)]
struct TokenQuery {
    user: Option<String>,
}

async fn list_tokens(State(api): State<Arc<Api>>, caller: Caller, Params(q): Params<TokenQuery>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let tokens = blocking(move || Ok(api.users.tokens(q.user.as_deref())?)).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// Whose token (default: the caller).
    user: Option<String>,
    #[serde(default)]
    label: String,
}

/// The token's secret is in this answer only.
async fn create_token(State(api): State<Arc<Api>>, caller: Caller, Body(b): Body<NewToken>) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let user = b.user.unwrap_or(caller.user.name);
    let now = api.now();
    let (info, token) = blocking(move || Ok(api.users.create_token(&user, &b.label, now)?)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "info": info }))))
}

async fn revoke_token(State(api): State<Arc<Api>>, caller: Caller, PathParam(id): PathParam<String>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    if caller.token_id.as_deref() == Some(id.as_str()) {
        return Err(ApiError::Conflict("this request came with that token; revoke it with another credential".into()));
    }
    blocking(move || Ok(api.users.revoke_token(&id, None)?)).await?;
    Ok(Json(json!({ "revoked": true })))
}
