//! The OpenAPI 3 document of the API, served at `/api/v1/openapi.json`.
//!
//! Written by hand (no derive macros across the handlers); a test checks that it describes
//! exactly the routes [`super::routes`] registers, method by method, and the API fuzz test
//! (schemathesis) sends requests generated from it.

use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

pub async fn serve() -> Response {
    axum::Json(document()).into_response()
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn path(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}, "description": description})
}

fn nullable(t: &str) -> Value {
    json!({"type": t, "nullable": true})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn time_params() -> Vec<Value> {
    vec![
        query("earliest", string(), "Start (inclusive): a Splunk time modifier (-24h@h, @d), epoch seconds or ISO 8601."),
        query("latest", string(), "End (exclusive), same forms."),
    ]
}

fn paging_params() -> Vec<Value> {
    vec![
        query("offset", json!({"type": "integer", "minimum": 0}), "Rows to skip."),
        query("count", json!({"type": "integer", "minimum": 0, "maximum": super::http::MAX_PAGE}), "Rows to return (default 50)."),
    ]
}

/// An operation: summary, tag, parameters, optional JSON body, and its success answer.
fn op(tag: &str, summary: &str, params: Vec<Value>, body: Option<Value>, status: &str, answer: Value) -> Value {
    let mut o = json!({
        "tags": [tag],
        "summary": summary,
        "parameters": params,
        "responses": {
            status: {"description": "Success", "content": {"application/json": {"schema": answer}}},
            "default": {"description": "Error", "content": {"application/json": {"schema": schema_ref("Error")}}},
        },
    });
    if let Some(b) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    o
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn any_object() -> Value {
    json!({"type": "object"})
}

/// A Splunk REST operation: form-encoded parameters, answers in Splunk's formats.
fn splunk_op(summary: &str, form: Value, params: Vec<Value>, get: bool) -> Value {
    let mut o = json!({
        "tags": ["splunk"],
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": {"description": "Success (JSON, CSV or XML by output_mode)", "content": {"application/json": {}, "text/csv": {}, "text/xml": {}}},
            "default": {"description": "Splunk error messages", "content": {"application/json": {}, "text/xml": {}}},
        },
    });
    if !get {
        o["requestBody"] = json!({"required": false, "content": {"application/x-www-form-urlencoded": {"schema": form}}});
    }
    o
}

fn splunk_search_form() -> Value {
    json!({"type": "object", "properties": {
        "search": {"type": "string", "description": "SPL, e.g. `search index=main | head 5`"},
        "earliest_time": string(), "latest_time": string(),
        "output_mode": {"type": "string", "enum": ["json", "csv"]},
        "exec_mode": {"type": "string"},
    }})
}

fn splunk_query_params() -> Vec<Value> {
    ["search", "earliest_time", "latest_time", "output_mode"]
        .iter()
        .map(|n| query(n, string(), "As the form field of the same name."))
        .collect()
}

fn splunk_paths(paths: &mut Map<String, Value>) {
    paths.insert(
        "/services/auth/login".into(),
        json!({"post": splunk_op("Log in: a session key for `Authorization: Splunk <key>`",
            json!({"type": "object", "properties": {"username": string(), "password": string(), "output_mode": string()}}), vec![], false)}),
    );
    let ns = || vec![path("owner", "Namespace owner"), path("app", "Namespace app")];
    let info = |p: Vec<Value>| json!({"get": splunk_op("Server info (version) as Splunk gives it", json!({}), [p, vec![query("output_mode", string(), "json for JSON")]].concat(), true)});
    paths.insert("/services/server/info".into(), info(vec![]));
    paths.insert("/servicesNS/{owner}/{app}/server/info".into(), info(ns()));
    for (p, namespaced) in [
        ("/services/search/jobs/export", false),
        ("/services/search/v2/jobs/export", false),
        ("/servicesNS/{owner}/{app}/search/jobs/export", true),
        ("/servicesNS/{owner}/{app}/search/v2/jobs/export", true),
    ] {
        let params = |extra: Vec<Value>| [if namespaced { ns() } else { vec![] }, extra].concat();
        paths.insert(
            p.into(),
            json!({
                "get": splunk_op("Export: run a search, results as JSON lines (output_mode=json) or CSV", json!({}), params(splunk_query_params()), true),
                "post": splunk_op("Export: run a search, results as JSON lines (output_mode=json) or CSV", splunk_search_form(), params(vec![]), false),
            }),
        );
    }
    for p in super::splunk::JOB_PATHS {
        let params = if p.starts_with("/servicesNS") { ns() } else { vec![] };
        paths.insert(p.into(), json!({"post": splunk_op("A oneshot search job (exec_mode=oneshot): all results in one answer", splunk_search_form(), params, false)}));
    }
}

fn schemas() -> Value {
    json!({
        "Error": object(json!({"error": object(json!({"status": {"type": "integer"}, "message": string()}), &["status", "message"])}), &["error"]),
        "Session": any_object(),
        "User": object(json!({"name": string(), "role": {"type": "string", "enum": ["analyst", "admin"]}, "created": {"type": "integer"}}), &["name", "role", "created"]),
        "Token": object(json!({"id": string(), "user": string(), "label": string(), "created": {"type": "integer"}, "last_used": nullable("integer")}), &["id", "user", "label", "created"]),
        "Notable": {"type": "object", "description": "A notable with its review state; `notable` holds every field it was raised with.",
            "properties": {"id": string(), "time": {"type": "number"}, "search_name": string(), "rule_name": string(), "rule_title": string(),
                "severity": string(), "urgency": string(), "status": {"type": "string", "enum": vigil_alert::STATUSES}, "owner": string(),
                "updated": {"type": "number"}, "notable": any_object()},
            "required": ["id", "time", "search_name", "status", "owner", "urgency", "notable"]},
        "AuditEntry": object(json!({"time": {"type": "number"}, "user": string(), "field": string(), "old_value": nullable("string"), "new_value": nullable("string")}), &["time", "user", "field"]),
        "ObjectRisk": {"type": "object", "properties": {"risk_object": string(), "risk_object_type": string(), "total_score": {"type": "number"}, "count": {"type": "integer"},
            "detections": {"type": "array", "items": string()}, "tactics": {"type": "array", "items": string()}, "techniques": {"type": "array", "items": string()},
            "first_time": {"type": "number"}, "last_time": {"type": "number"}}},
        "Detection": {"type": "object", "description": "A scheduled detection: content headline, enabled, schedule, next run, last runs, last error.",
            "properties": {"name": string(), "id": string(), "type": string(), "enabled": {"type": "boolean"}, "scheduled": {"type": "boolean"},
                "cron": nullable("string"), "next_run": nullable("integer"), "missed_ticks": {"type": "integer"},
                "last_runs": {"type": "array", "items": schema_ref("Run")}, "last_error": nullable("string")}},
        "Run": {"type": "object", "description": "One scheduled run: detections, scheduled time, window, start, duration, events scanned, results, error.",
            "properties": {"detections": {"type": "array", "items": string()}, "scheduled_time": string(), "duration_ms": {"type": "integer"},
                "events_scanned": {"type": "integer"}, "results": {"type": "integer"}, "error": string()}},
        "Job": {"type": "object", "properties": {"id": string(), "state": {"type": "string", "enum": ["running", "done", "failed", "cancelled"]},
            "progress": {"type": "number"}, "result_count": {"type": "integer"}, "error": nullable("string"),
            "ttl": {"type": "integer", "description": "seconds a finished job is kept (across restarts)"}, "expires": nullable("string")}},
    })
}

fn list_of(key: &str, item: Value) -> Value {
    json!({"type": "object", "properties": {key: {"type": "array", "items": item}, "total": {"type": "integer"}}, "required": [key]})
}

/// The whole document.
pub fn document() -> Value {
    let mut p = Map::new();
    let mut add = |path: &str, ops: Value| {
        p.insert(path.to_string(), ops);
    };
    let login_body = object(json!({"username": string(), "password": string()}), &["username", "password"]);
    add("/api/v1/openapi.json", json!({"get": op("meta", "This document", vec![], None, "200", any_object())}));
    add(
        "/api/v1/auth/login",
        json!({"post": op("auth", "Log in: sets the session cookie, returns the CSRF token", vec![], Some(login_body), "200", schema_ref("Session"))}),
    );
    add("/api/v1/auth/logout", json!({"post": op("auth", "End this session", vec![], None, "200", any_object())}));
    add(
        "/api/v1/auth/session",
        json!({"get": op("auth", "Who is logged in, with the CSRF token of a cookie session", vec![], None, "200", schema_ref("Session"))}),
    );
    add(
        "/api/v1/auth/password",
        json!({"post": op("auth", "Change one's own password", vec![], Some(object(json!({"current": string(), "new": string()}), &["current", "new"])), "200", any_object())}),
    );
    add(
        "/api/v1/users",
        json!({
            "get": op("users", "Users (admin)", vec![], None, "200", list_of("users", schema_ref("User"))),
            "post": op("users", "Add a user (admin)", vec![], Some(object(json!({"name": string(), "role": {"type": "string", "enum": ["analyst", "admin"]}, "password": string()}), &["name", "role", "password"])), "201", schema_ref("User")),
        }),
    );
    add(
        "/api/v1/users/{name}",
        json!({
            "patch": op("users", "Change a user's role or password (admin)", vec![path("name", "User name")], Some(object(json!({"role": {"type": "string", "enum": ["analyst", "admin"]}, "password": string()}), &[])), "200", schema_ref("User")),
            "delete": op("users", "Remove a user with their sessions and tokens (admin)", vec![path("name", "User name")], None, "200", any_object()),
        }),
    );
    add(
        "/api/v1/tokens",
        json!({
            "get": op("users", "API tokens (admin)", vec![query("user", string(), "Only this user's")], None, "200", list_of("tokens", schema_ref("Token"))),
            "post": op("users", "A new API token; the secret is in this answer only (admin)", vec![], Some(object(json!({"user": string(), "label": string()}), &[])), "201", any_object()),
        }),
    );
    add(
        "/api/v1/tokens/{id}",
        json!({"delete": op("users", "Revoke an API token (admin)", vec![path("id", "Token id")], None, "200", any_object())}),
    );
    let filters = [
        time_params(),
        vec![
            query("detection", string(), "Detection name (or the notable's search name)"),
            query("urgency", string(), "Comma-separated urgencies"),
            query("status", string(), "Comma-separated: new, in_progress, pending, resolved, closed"),
            query("owner", string(), "Owner (`unassigned` for none)"),
            query("dest", string(), "dest value, case-insensitive, * wildcard"),
            query("user", string(), "user value, case-insensitive, * wildcard"),
            query("q", string(), "Text anywhere in the notable"),
        ],
        paging_params(),
    ]
    .concat();
    add(
        "/api/v1/notables",
        json!({"get": op("notables", "Notables, newest first, filtered and paged", filters, None, "200", list_of("notables", schema_ref("Notable")))}),
    );
    let update = object(
        json!({"status": {"type": "string", "enum": vigil_alert::STATUSES}, "owner": string(), "urgency": {"type": "string", "enum": vigil_alert::URGENCIES}, "comment": string()}),
        &[],
    );
    add(
        "/api/v1/notables/{id}",
        json!({
            "get": op("notables", "A notable with its audit trail, risk events and detection", vec![path("id", "The notable's event_hash")], None, "200", any_object()),
            "patch": op("notables", "Triage: status, owner, urgency, comment (audited)", vec![path("id", "The notable's event_hash")], Some(update), "200", any_object()),
        }),
    );
    add(
        "/api/v1/notables/{id}/audit",
        json!({"get": op("notables", "The notable's audit trail", vec![path("id", "The notable's event_hash")], None, "200", list_of("audit", schema_ref("AuditEntry")))}),
    );
    let risk_params = [time_params(), vec![query("type", string(), "user, system or other")], paging_params()].concat();
    add(
        "/api/v1/risk/objects",
        json!({"get": op("risk", "Risk by object (sum, events, detections, tactics), highest first", risk_params.clone(), None, "200", list_of("objects", schema_ref("ObjectRisk")))}),
    );
    let obj_params = [
        vec![path("type", "Risk object type"), path("object", "Risk object")],
        time_params(),
        vec![query("span", json!({"type": "integer", "minimum": 1}), "Seconds per timeline bucket")],
    ]
    .concat();
    add(
        "/api/v1/risk/objects/{type}/{object}",
        json!({"get": op("risk", "One object: its risk, events and score over time", obj_params, None, "200", any_object())}),
    );
    add(
        "/api/v1/risk/incidents",
        json!({"get": op("risk", "Risk incidents (the risk threshold and ATT&CK tactic rules' notables)", [time_params(), paging_params()].concat(), None, "200", list_of("incidents", schema_ref("Notable")))}),
    );
    add(
        "/api/v1/detections",
        json!({"get": op("detections", "Scheduled detections and their health", vec![query("enabled", json!({"type": "boolean"}), "Only enabled / disabled"), query("q", string(), "Name contains")], None, "200", list_of("detections", schema_ref("Detection")))}),
    );
    add(
        "/api/v1/detections/{name}",
        json!({
            "get": op("detections", "One detection", vec![path("name", "Detection name or id")], None, "200", schema_ref("Detection")),
            "patch": op("detections", "Enable or disable (admin; 409 in a process that does not schedule, --role api)", vec![path("name", "Detection name or id")], Some(object(json!({"enabled": {"type": "boolean"}}), &["enabled"])), "200", schema_ref("Detection")),
        }),
    );
    add(
        "/api/v1/runs",
        json!({"get": op("detections", "Latest scheduled runs, newest first", vec![query("detection", string(), "Only runs of this detection"), query("count", json!({"type": "integer", "minimum": 0}), "How many")], None, "200", list_of("runs", schema_ref("Run")))}),
    );
    add(
        "/api/v1/ingest",
        json!({"get": op("ingest", "Ingest rates per token and sourcetype, store size, retention", vec![], None, "200", any_object())}),
    );
    let job_body =
        object(json!({"search": {"type": "string", "description": "SPL"}, "earliest": string(), "latest": string()}), &["search"]);
    add(
        "/api/v1/search/jobs",
        json!({
            "get": op("search", "My search jobs (admins: all)", vec![], None, "200", list_of("jobs", schema_ref("Job"))),
            "post": op("search", "Start a search over the stored events", vec![], Some(job_body), "201", schema_ref("Job")),
        }),
    );
    let id = || vec![path("id", "Job id")];
    add(
        "/api/v1/search/jobs/{id}",
        json!({
            "get": op("search", "A job's state and progress", id(), None, "200", schema_ref("Job")),
            "delete": op("search", "Cancel and forget a job", id(), None, "200", any_object()),
        }),
    );
    add(
        "/api/v1/search/jobs/{id}/results",
        json!({"get": op("search", "A page of results", [id(), paging_params()].concat(), None, "200", list_of("results", any_object()))}),
    );
    add("/api/v1/search/jobs/{id}/timeline", json!({"get": op("search", "Events and results over time", id(), None, "200", any_object())}));
    add("/api/v1/search/jobs/{id}/cancel", json!({"post": op("search", "Cancel a running job", id(), None, "200", schema_ref("Job"))}));
    splunk_paths(&mut p);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Vigil API", "version": "1",
            "description": "Triage notables, read risk, watch detections and search stored events. Authenticate with the session cookie from /api/v1/auth/login (send X-CSRF-Token on changes), `Authorization: Bearer <API token>`, or Basic. See docs/api.md."},
        "servers": [{"url": "/"}],
        "paths": p,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": super::auth::SESSION_COOKIE},
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
        "security": [{"cookie": []}, {"bearer": []}, {"basic": []}],
    })
}
