//! In-process API tests: the router called with tower's `oneshot`, a real data directory.

use super::*;
use crate::admin::Clock;
use std::sync::Mutex;

#[test]
fn the_openapi_document_describes_exactly_the_routes_served() {
    let doc = openapi::document();
    let paths = doc["paths"].as_object().unwrap();
    let mut served: Vec<(String, String)> = routes().list.iter().map(|(m, p)| (m.to_lowercase(), p.to_string())).collect();
    served.sort();
    let mut documented: Vec<(String, String)> =
        paths.iter().flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone()))).collect();
    documented.sort();
    assert_eq!(served, documented);
    // Every path parameter is declared.
    for (p, ops) in paths {
        for (m, op) in ops.as_object().unwrap() {
            let declared: Vec<&str> =
                op["parameters"].as_array().unwrap().iter().filter(|x| x["in"] == "path").map(|x| x["name"].as_str().unwrap()).collect();
            let in_path: Vec<&str> = p.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            assert_eq!(declared, in_path, "{m} {p}");
        }
    }
}

/// An API over a fresh data directory with the built-in content, and a cookie session of an
/// admin.
fn api_with_session() -> (tempfile::TempDir, Arc<Api>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let clock = Arc::new(Clock::new(Some(1_795_168_800_000_000)));
    let content = vigil_content::ContentSet::builtin();
    let selection = crate::schedule::Selection::default();
    let normalizer = vigil_normalize::Normalizer::builtin().unwrap();
    let driver = vigil_scan::Driver::new(Some(1)).unwrap();
    let risk = vigil_alert::RiskStore::open(&data.join("risk.db")).unwrap();
    let extra = std::sync::Arc::new(Vec::new);
    let scheduler =
        crate::schedule::Scheduler::new(content.clone(), extra, normalizer, driver, &selection, &data, risk, clock.now()).unwrap();
    let scheduler = Arc::new(Mutex::new(scheduler));
    let detections = DetectionControl::new(content, selection, data.clone(), Some(scheduler));
    let alerts = Default::default();
    let setup = Setup { data_dir: data, clock, detections, ingest: Arc::default(), seal_idle_secs: 600, secure_cookies: true, alerts };
    let api = Arc::new(Api::new(setup).unwrap());
    api.users.add("root", users::Role::Admin, "root-password", api.now()).unwrap();
    let (session, csrf) = api.users.create_session("root", api.now(), SESSION_TTL).unwrap();
    (dir, api, session, csrf)
}

async fn call(api: &Arc<Api>, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().method(method).uri(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router(api.clone()).oneshot(req.body(axum::body::Body::from("{}")).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Every state-changing route refuses a cookie session without its CSRF token; with it the
/// request gets past authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_made_with_a_cookie_needs_the_csrf_token() {
    let (_dir, api, _, _) = api_with_session();
    let mut checked = 0;
    for (method, path) in routes().list {
        // Logging in is not made with a session.
        if method == "GET" || path.ends_with("/auth/login") {
            continue;
        }
        // A session per route: logging out ends one.
        let (session, csrf) = api.users.create_session("root", api.now(), SESSION_TTL).unwrap();
        let cookie = format!("{SESSION_COOKIE}={session}");
        let path = path.replace("{owner}", "nobody").replace("{app}", "search").replace('{', "x").replace('}', "");
        let (status, body) = call(&api, method, &path, &[("cookie", &cookie)]).await;
        assert_eq!(status, 403, "{method} {path} without CSRF: {body}");
        let (status, body) = call(&api, method, &path, &[("cookie", &cookie), ("x-csrf-token", "not-it")]).await;
        assert_eq!(status, 403, "{method} {path} with a wrong CSRF token: {body}");
        let (status, body) = call(&api, method, &path, &[("cookie", &cookie), ("x-csrf-token", &csrf)]).await;
        assert!(status != 403 && status != 401 && status < 500, "{method} {path} with the CSRF token: {status} {body}");
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
    // Reading needs no token.
    let (session, _) = api.users.create_session("root", api.now(), SESSION_TTL).unwrap();
    assert_eq!(call(&api, "GET", "/api/v1/notables", &[("cookie", &format!("{SESSION_COOKIE}={session}"))]).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_cookie_is_http_only_strict_and_secure_when_asked() {
    use tower::ServiceExt;
    let (_dir, api, _, _) = api_with_session();
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"username":"root","password":"root-password"}"#))
        .unwrap();
    let resp = router(api.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    for part in ["vigil_session=", "HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // Unknown endpoints answer in the API's error format.
    let (status, body) = call(&api, "GET", "/api/v1/nope", &[]).await;
    assert_eq!(status, 404);
    assert!(body.contains(r#""status":404"#), "{body}");
}
