//! Splunk's REST API, as much as search scripts use: log in, server info, export and oneshot
//! searches, so that the Splunk Python SDK (`client.connect`, `service.jobs.export`,
//! `service.jobs.oneshot`) and curl scripts written for Splunk run unchanged.
//!
//! What the SDK sends (splunklib 2.x, read in its source): `POST /services/auth/login`
//! (form `username`, `password`, `cookie=1`; the answer's XML `sessionKey` becomes
//! `Authorization: Splunk <key>`; no `splunkd_*` cookie is set, so it keeps using the header);
//! `GET /services/server/info` (Atom XML; `version` >= 9.0.2 makes it use the `search/v2/jobs`
//! paths, older ones `search/jobs`); `POST .../jobs/export` with `search`, `segmentation`,
//! `output_mode` and the time range; `POST .../jobs` with `exec_mode=oneshot`. Paths may also be
//! namespaced (`/servicesNS/<owner>/<app>/...`). Basic auth (`curl -u`) and Bearer API tokens
//! work as in the rest of the API.
//!
//! Output: `output_mode=json` (export: one JSON object per line, `{"preview":false,"offset":N,
//! "result":{...}}`, the last with `"lastrow":true`; oneshot: one document with `fields` and
//! `results`) and `csv`. Field values are strings (multivalue: lists of strings) as Splunk
//! writes them. Errors are Splunk's `{"messages":[{"type":..,"text":..}]}` (or its XML).

use super::auth::Caller;
use super::http::{blocking, time_range, ApiError};
use super::state::{Api, Routes};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;
use std::sync::Arc;
use vigil_model::{Record, Value};

/// The version `server/info` reports: new enough for the SDK's v2 search paths.
pub const SPLUNK_VERSION: &str = "9.1.0";

/// Where oneshot jobs are posted, with and without the SDK's trailing slash.
pub const JOB_PATHS: [&str; 8] = [
    "/services/search/jobs",
    "/services/search/jobs/",
    "/services/search/v2/jobs",
    "/services/search/v2/jobs/",
    "/servicesNS/{owner}/{app}/search/jobs",
    "/servicesNS/{owner}/{app}/search/jobs/",
    "/servicesNS/{owner}/{app}/search/v2/jobs",
    "/servicesNS/{owner}/{app}/search/v2/jobs/",
];

pub(super) fn routes(r: Routes) -> Routes {
    let mut r = r.add("/services/auth/login", &["POST"], post(login)).add("/services/server/info", &["GET"], get(info)).add(
        "/servicesNS/{owner}/{app}/server/info",
        &["GET"],
        get(info),
    );
    for path in [
        "/services/search/jobs/export",
        "/services/search/v2/jobs/export",
        "/servicesNS/{owner}/{app}/search/jobs/export",
        "/servicesNS/{owner}/{app}/search/v2/jobs/export",
    ] {
        r = r.add(path, &["GET", "POST"], get(export).post(export));
    }
    // The SDK posts to the collection path with a trailing slash (`search/v2/jobs/`).
    for path in JOB_PATHS {
        r = r.add(path, &["POST"], post(jobs));
    }
    r
}

/// Query string and form body parameters together (Splunk reads both).
fn params(query: Option<String>, body: &Bytes) -> HashMap<String, String> {
    let mut p: HashMap<String, String> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        p.extend(form);
    }
    p
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// An error as Splunk answers it: JSON when asked, else XML.
fn splunk_error(status: StatusCode, kind: &str, text: &str, json_mode: bool) -> Response {
    if json_mode {
        return (status, axum::Json(json!({"messages": [{"type": kind, "text": text}]}))).into_response();
    }
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n  <messages>\n    <msg type=\"{kind}\">{}</msg>\n  </messages>\n</response>\n", xml_escape(text));
    (status, [(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], body).into_response()
}

fn from_api_error(e: ApiError, json_mode: bool) -> Response {
    let kind = if e.status().is_server_error() { "ERROR" } else { "WARN" };
    let mut r = splunk_error(e.status(), kind, &e.message(), json_mode);
    if let ApiError::TooManyRequests(wait, _) = &e {
        if let Ok(v) = wait.as_secs().max(1).to_string().parse() {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

fn wants_json(p: &HashMap<String, String>) -> bool {
    p.get("output_mode").is_some_and(|m| m.eq_ignore_ascii_case("json"))
}

/// `POST /services/auth/login`: a session key for `Authorization: Splunk <key>`.
async fn login(
    State(api): State<Arc<Api>>,
    super::auth::ConnectInfoOpt(ip): super::auth::ConnectInfoOpt,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let json_mode = wants_json(&p);
    let (Some(name), Some(password)) = (p.get("username"), p.get("password")) else {
        return splunk_error(StatusCode::BAD_REQUEST, "WARN", "username and password are required", json_mode);
    };
    let user = match super::auth::password_login(&api, name, password, &ip).await {
        Ok(Some(u)) => u,
        Ok(None) => return splunk_error(StatusCode::UNAUTHORIZED, "WARN", "Login failed", json_mode),
        Err(e) => return from_api_error(e, json_mode),
    };
    let (a, now) = (api.clone(), api.now());
    let key = match blocking(move || Ok(a.users.create_session(&user.name, now, super::state::SESSION_TTL)?)).await {
        Ok((key, _)) => key,
        Err(e) => return from_api_error(e, json_mode),
    };
    if json_mode {
        return axum::Json(json!({"sessionKey": key, "message": "", "code": ""})).into_response();
    }
    let body =
        format!("<response>\n  <sessionKey>{key}</sessionKey>\n  <messages>\n    <msg code=\"\"></msg>\n  </messages>\n</response>\n");
    ([(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], body).into_response()
}

/// `GET /services/server/info`: the version and names clients check.
async fn info(caller: Result<Caller, ApiError>, RawQuery(q): RawQuery) -> Response {
    let p = params(q, &Bytes::new());
    let json_mode = wants_json(&p);
    if let Err(e) = caller {
        return from_api_error(e, json_mode);
    }
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "vigil".into());
    let fields = [
        ("version", SPLUNK_VERSION.to_string()),
        ("build", "vigil".to_string()),
        ("product_type", "enterprise".to_string()),
        ("serverName", host.clone()),
        ("host", host),
        ("vigil_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    if json_mode {
        let content: Map<String, Json> = fields.iter().map(|(k, v)| (k.to_string(), Json::from(v.clone()))).collect();
        return axum::Json(json!({"generator": {"version": SPLUNK_VERSION}, "entry": [{"name": "server-info", "content": content}]}))
            .into_response();
    }
    let keys: String = fields.iter().map(|(k, v)| format!("        <s:key name=\"{k}\">{}</s:key>\n", xml_escape(v))).collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:s=\"http://dev.splunk.com/ns/rest\">\n  <title>server-info</title>\n  <id>/services/server/info</id>\n  <entry>\n    <title>server-info</title>\n    <id>/services/server/info/server-info</id>\n    <content type=\"text/xml\">\n      <s:dict>\n{keys}      </s:dict>\n    </content>\n  </entry>\n</feed>\n"
    );
    ([(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], body).into_response()
}

/// A result row as Splunk writes it: every value a string, multivalue a list of strings.
fn splunk_row(r: &Record) -> Json {
    let mut m = Map::new();
    for (k, v) in r.iter() {
        let v = match v {
            Value::Null => continue,
            Value::Str(s) => Json::from(s.as_str()),
            Value::Num(n) => Json::from(vigil_model::value::format_num(*n)),
            Value::Multi(items) => Json::from(items.clone()),
        };
        m.insert(k.to_string(), v);
    }
    Json::Object(m)
}

/// Runs a search for the Splunk endpoints: the rows, or a Splunk error answer.
async fn run_search(api: &Arc<Api>, p: &HashMap<String, String>) -> Result<Vec<Record>, Response> {
    let json_mode = wants_json(p);
    let mode = p.get("output_mode").map(|m| m.to_ascii_lowercase()).unwrap_or_else(|| "xml".into());
    if mode != "json" && mode != "csv" {
        let text = format!("output_mode={mode} is not supported by Vigil; use output_mode=json or csv");
        return Err(splunk_error(StatusCode::BAD_REQUEST, "FATAL", &text, json_mode));
    }
    let Some(search) = p.get("search").filter(|s| !s.trim().is_empty()).cloned() else {
        return Err(splunk_error(StatusCode::BAD_REQUEST, "FATAL", "Empty search.", json_mode));
    };
    let now = api.now();
    let (earliest, latest) = time_range(p.get("earliest_time").map(String::as_str), p.get("latest_time").map(String::as_str), now)
        .map_err(|e| from_api_error(e, json_mode))?;
    let searcher = api.jobs.searcher.clone();
    let outcome = blocking(move || {
        let prepared = searcher.prepare(&search, earliest, latest, now).map_err(ApiError::BadRequest)?;
        Ok(searcher.run(&prepared, &Arc::default()))
    })
    .await
    .map_err(|e| match e {
        ApiError::BadRequest(m) => splunk_error(StatusCode::BAD_REQUEST, "FATAL", &m, json_mode),
        e => from_api_error(e, json_mode),
    })?;
    if let Some(e) = outcome.error {
        return Err(splunk_error(StatusCode::BAD_REQUEST, "FATAL", &e, json_mode));
    }
    Ok(outcome.rows)
}

fn csv_body(rows: &[Record]) -> Response {
    let cols = vigil_model::Record::columns(rows);
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match r.get(c) {
                Some(Value::Multi(items)) => quote(&items.join("\n")),
                Some(Value::Num(n)) => quote(&vigil_model::value::format_num(*n)),
                Some(v) => quote(&v.as_text().unwrap_or_default()),
                None => String::new(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=UTF-8")], out).into_response()
}

/// `search/jobs/export`: the results as a stream of JSON lines (or CSV).
async fn export(State(api): State<Arc<Api>>, caller: Result<Caller, ApiError>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = params(q, &body);
    if let Err(e) = caller {
        return from_api_error(e, wants_json(&p));
    }
    let rows = match run_search(&api, &p).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !wants_json(&p) {
        return csv_body(&rows);
    }
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let mut line = json!({"preview": false, "offset": i});
        if i + 1 == rows.len() {
            line["lastrow"] = Json::Bool(true);
        }
        line["result"] = splunk_row(r);
        out.push_str(&line.to_string());
        out.push('\n');
    }
    ([(header::CONTENT_TYPE, "application/json; charset=UTF-8")], out).into_response()
}

/// `POST search/jobs` with `exec_mode=oneshot`: the results in one document.
async fn jobs(State(api): State<Arc<Api>>, caller: Result<Caller, ApiError>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = params(q, &body);
    let json_mode = wants_json(&p);
    if let Err(e) = caller {
        return from_api_error(e, json_mode);
    }
    if !p.get("exec_mode").is_some_and(|m| m.eq_ignore_ascii_case("oneshot")) {
        let text =
            "Vigil runs Splunk search jobs with exec_mode=oneshot (and search/jobs/export); for asynchronous jobs use /api/v1/search/jobs";
        return splunk_error(StatusCode::BAD_REQUEST, "FATAL", text, json_mode);
    }
    let rows = match run_search(&api, &p).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !json_mode {
        return csv_body(&rows);
    }
    let fields: Vec<Json> = vigil_model::Record::columns(&rows).into_iter().map(|c| json!({"name": c})).collect();
    let results: Vec<Json> = rows.iter().map(splunk_row).collect();
    axum::Json(json!({"preview": false, "init_offset": 0, "messages": [], "fields": fields, "results": results, "highlighted": {}}))
        .into_response()
}
