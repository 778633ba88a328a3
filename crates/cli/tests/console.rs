//! The web console in a real browser: `vigil serve` with a test clock, users made with
//! `vigil user add`, the seed samples sent over HEC, then web/tests/console.e2e.mjs drives
//! Debian's chromium with playwright-core as a new analyst would (log in, see the seed's notable
//! arrive after the scheduled run, set it in progress with a comment, read the audit trail,
//! drill down into Search), then an admin disables and re-enables the seed. Screenshots of every page land in target/screenshots/console/.
//! Besides the seed, two days of benign events on host LOAD-01 ([`send_load`]) give Search a
//! job long enough to cancel and results that fill more than one page.
//!
//! Needs node, web/node_modules (`npm ci` in web/) and /usr/bin/chromium (`.ci/run` installs
//! them). Under CI (`CI` set) a missing piece fails the test; elsewhere it is skipped and says so.

mod apiserver;
mod common;

use apiserver::{have_curl, start, Served, SEED};
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
    send_load(&s);

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
        .env("VIGIL_LOAD_HOST", LOAD_HOST)
        .env("VIGIL_LOAD_PER_HOUR", LOAD_PER_HOUR.to_string())
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
    for page in
        ["login", "incident-review", "search", "search-paged", "search-cancelled", "risk", "detections", "ingest", "detections-admin"]
    {
        let png = std::fs::read(shots.join(format!("{page}.png"))).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{page}.png missing or blank ({} bytes)", png.len());
    }

    // What the browser did is what the server kept: the API agrees.
    let admin = ["-u", "admin:admin-password"];
    let (_, seed) = s.json(&admin, &format!("/api/v1/detections/{}", SEED.replace(' ', "%20")));
    assert_eq!((seed["enabled"].as_bool(), seed["scheduled"].as_bool()), (Some(true), Some(true)), "re-enabled: {seed}");
    let journal = std::fs::read_to_string(s.data.join("detections.json")).unwrap_or_default();
    assert!(journal.contains(SEED), "the admin's toggles are kept: {journal}");
    // The job cancelled in the browser is cancelled for the API too, and kept (with the paged one).
    let summary: serde_json::Value =
        out.lines().find_map(|l| serde_json::from_str(l).ok().filter(|v: &serde_json::Value| v["ok"] == true)).unwrap();
    let (_, cancelled) = s.json(&admin, &format!("/api/v1/search/jobs/{}", summary["cancelled_job"].as_str().unwrap()));
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let (_, paged) = s.json(&admin, &format!("/api/v1/search/jobs/{}", summary["paged_job"].as_str().unwrap()));
    assert_eq!((paged["state"].as_str(), paged["result_count"].as_u64()), (Some("done"), Some(LOAD_PER_HOUR)), "{paged}");
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

const LOAD_HOST: &str = "LOAD-01.example.test";
const LOAD_PER_HOUR: u64 = 100;

/// Background load for Search: [`LOAD_PER_HOUR`] events an hour over the 48 hours before the
/// seed's day, sent over HEC. Each is the samples' last Sysmon event (the installer service, a
/// near miss for the seed, so no notable) moved to host [`LOAD_HOST`] and its own time.
fn send_load(s: &Served) {
    let samples = std::fs::read_to_string(common::repo().join("samples/sysmon_msiexec.xml")).unwrap();
    let template = samples.lines().last().unwrap().replace("WIN10-ART-04.attackrange.local", LOAD_HOST);
    assert!(template.contains("2026-11-20T10:25:01") && template.contains("2026-11-20 10:25:01"), "{template}");
    let hec = format!("Authorization: Splunk {}", s.hec_token);
    for hour in 0..48 {
        let day = format!("2026-11-{}", 18 + hour / 24);
        let mut body = String::new();
        for k in 0..LOAD_PER_HOUR {
            let secs = k * 3600 / LOAD_PER_HOUR;
            let hms = format!("{:02}:{:02}:{:02}", hour % 24, secs / 60, secs % 60);
            body += &template
                .replace("2026-11-20T10:25:01", &format!("{day}T{hms}"))
                .replace("2026-11-20 10:25:01", &format!("{day} {hms}"))
                .replace("<EventRecordID>20006", &format!("<EventRecordID>{}", 100_000 + hour * 1000 + k));
            body.push('\n');
        }
        // From a file: an hour's events are more than one command-line argument may hold.
        let file = s.data.with_file_name("load.xml");
        std::fs::write(&file, body).unwrap();
        let data = format!("@{}", file.display());
        let (code, answer) = s.curl(&["-H", &hec, "--data-binary", &data], "/services/collector/raw?sourcetype=XmlWinEventLog");
        assert_eq!((code, answer.as_str()), (200, r#"{"text":"Success","code":0}"#), "hour {hour}");
    }
}
