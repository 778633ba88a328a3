//! The web console: the page and its assets, built from web/ by vite and embedded at compile
//! time (build.rs), answered at `/` and `/assets/*`. Everything it shows comes from `/api/v1`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// Shown when the binary was built without the console (no npm at build time).
const NOT_BUILT: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil console not built</title>
<style>body{font-family:system-ui,sans-serif;background:#0f1420;color:#dde3ee;max-width:640px;margin:60px auto;line-height:1.5}
code,pre{background:#1c2536;padding:2px 6px;border-radius:4px}pre{padding:10px}</style></head><body>
<h1>The web console was not built into this binary</h1>
<p>npm was not available (or the front-end build failed) when <code>vigil</code> was compiled. The API under
<code>/api/v1</code> and HEC work regardless. To build the console, install Node.js 20+ and run:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build
cargo build --release --bin vigil</pre></body></html>"#;

/// Scripts and styles only from the server itself; inline style attributes are used by the
/// charts.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> Router {
    Router::new().route("/", get(index)).route("/index.html", get(index)).route("/assets/{*file}", get(asset))
}

/// Whether the console's assets are in the binary.
pub fn built() -> bool {
    find("/index.html").is_some()
}

fn find(path: &str) -> Option<&'static [u8]> {
    CONSOLE_FILES.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

async fn index() -> Response {
    let body = find("/index.html").unwrap_or(NOT_BUILT.as_bytes());
    respond(body, "text/html; charset=utf-8", "no-cache")
}

async fn asset(Path(file): Path<String>) -> Response {
    match find(&format!("/assets/{file}")) {
        // Vite names assets by content hash: a name never changes its bytes.
        Some(body) => respond(body, content_type(&file), "public, max-age=31536000, immutable"),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

fn respond(body: &'static [u8], kind: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index-abc.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index-abc.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    async fn get_path(path: &str) -> Response {
        use tower::ServiceExt;
        let req = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
        router().oneshot(req).await.unwrap()
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_their_types_and_policy() {
        let page = get_path("/").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
        for (path, _) in CONSOLE_FILES.iter().filter(|(p, _)| p.starts_with("/assets/")) {
            let r = get_path(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], content_type(path), "{path}");
            assert!(r.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
        }
        assert_eq!(get_path("/assets/no-such-file.js").await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn embedded_files_are_the_index_and_its_assets() {
        for (path, bytes) in CONSOLE_FILES {
            assert!(*path == "/index.html" || path.starts_with("/assets/"), "{path}");
            assert!(!bytes.is_empty(), "{path}");
        }
        if built() {
            let index = String::from_utf8_lossy(find("/index.html").unwrap_or_default());
            assert!(index.contains("/assets/"), "{index}");
        }
    }
}
