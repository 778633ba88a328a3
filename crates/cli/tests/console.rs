//! The web console in a real browser: `vigil serve` with a test clock, users made with
//! `vigil user add`, the seed samples sent over HEC, then web/tests/console.e2e.mjs drives
//! Debian's chromium with playwright-core as a new analyst would (log in, see the seed's notable
//! arrive after the scheduled run, set it in progress with a comment, read the audit trail,
//! drill down into Search), then an admin disables and re-enables the seed. Screenshots of every page land in target/screenshots/console/.
//!
//! Needs node, web/node_modules (`npm ci` in web/) and /usr/bin/chromium (`.ci/run` installs
//! them). Under CI (`CI` set) a missing piece fails the test; elsewhere it is skipped and says so.

mod apiserver;
mod common;

use apiserver::{have_curl, start, SEED};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// What the browser test needs and is missing, if anything.
fn missing_prerequisite(web: &std::path::Path, chromium: &std::path::Path) -> Option<String> {
    if !have_curl() {
        return Some("curl(1) not found".into());
    }
    if !Command::new("node").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        return Some("node not found".into());
    }
    if !web.join("node_modules/playwright-core/package.json").is_file() {
        return Some(format!("{}/node_modules/playwright-core missing (run `npm ci` in web/)", web.display()));
    }
    if !chromium.is_file() {
        return Some(format!("{} missing (apt-get install chromium)", chromium.display()));
    }
    None
}

#[test]
fn an_analyst_triages_the_seed_notable_in_chromium() {
    let web = common::repo().join("web");
    let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if let Some(why) = missing_prerequisite(&web, &chromium) {
        assert!(!in_ci(), "CI: the browser test cannot run: {why}; .ci/run installs node modules and chromium");
        eprintln!("skipped: {why}");
        return;
    }
    let s = start();
    let (code, page) = s.curl(&[], "/");
    assert_eq!(code, 200);
    if !page.contains("/assets/") {
        assert!(!in_ci(), "CI: vigil was built without the web console (npm missing at build time?):\n{page}");
        eprintln!("skipped: this vigil binary was built without the web console (no npm at build time)");
        return;
    }
    s.send_samples();

    let shots = std::env::var_os("VIGIL_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots/console"));
    let _ = std::fs::remove_dir_all(&shots);
    let log = s.data.with_file_name("browser.log");
    let mut child = Command::new("node")
        .arg(web.join("tests/console.e2e.mjs"))
        .current_dir(&web)
        .env("VIGIL_URL", s.url(""))
        .env("VIGIL_USER", "analyst")
        .env("VIGIL_PASSWORD", "analyst-password")
        .env("VIGIL_ADMIN_USER", "admin")
        .env("VIGIL_ADMIN_PASSWORD", "admin-password")
        .env("VIGIL_HEC_TOKEN", &s.hec_token)
        .env("VIGIL_CLOCK_TO", "2026-11-20T11:00:00Z")
        .env("VIGIL_DETECTION", SEED)
        .env("VIGIL_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
        .spawn()
        .expect("run node");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser script did not finish in 240 s:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    let server_log = std::fs::read_to_string(&s.log).unwrap_or_default();
    assert!(status.success(), "browser script failed ({status}); screenshots in {}:\n{out}\nserver:\n{server_log}", shots.display());
    assert!(out.contains(r#""ok":true"#), "{out}");
    eprintln!("{out}screenshots: {}", shots.display());
    for page in ["login", "incident-review", "search", "risk", "detections", "ingest", "detections-admin"] {
        let png = std::fs::read(shots.join(format!("{page}.png"))).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{page}.png missing or blank ({} bytes)", png.len());
    }

    // What the browser did is what the server kept: the API agrees.
    let admin = ["-u", "admin:admin-password"];
    let (_, seed) = s.json(&admin, &format!("/api/v1/detections/{}", SEED.replace(' ', "%20")));
    assert_eq!((seed["enabled"].as_bool(), seed["scheduled"].as_bool()), (Some(true), Some(true)), "re-enabled: {seed}");
    let journal = std::fs::read_to_string(s.data.join("detections.json")).unwrap_or_default();
    assert!(journal.contains(SEED), "the admin's toggles are kept: {journal}");
    let (_, list) = s.json(&admin, "/api/v1/notables?status=in_progress");
    assert_eq!(list["total"], 1, "{list}");
    let id = list["notables"][0]["id"].as_str().unwrap();
    let (_, audit) = s.json(&admin, &format!("/api/v1/notables/{id}/audit"));
    let entries: Vec<(&str, &str, &str)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["user"].as_str().unwrap(), a["field"].as_str().unwrap(), a["new_value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        [("analyst", "status", "in_progress"), ("analyst", "comment", "Checked the MSI URL: not ours, isolating the host")]
    );
}
