//! `vigil serve`: events in over Splunk's HTTP Event Collector, kept durably, detections run on
//! their schedules. One process, one machine.
//!
//! ```text
//! ingest (HEC: /services/collector/event|raw|health|ack)      ingest/
//!   --> commit (group commit: one fsync per round)             commit.rs
//!   --> store (hour segments, read by the same readers)        store.rs
//!   --> answer success / ackId true
//! schedule (cron ticks of the enabled detections, over the store) schedule.rs
//!   --> notables and risk events in the risk index; runs.jsonl
//! ```

pub mod admin;
pub mod commit;
pub mod config;
pub mod ingest;
pub mod schedule;
mod seal;
pub mod store;

pub use store::store_dir;

use config::{Config, TokenConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What `vigil serve` was asked to run.
pub struct Options {
    pub config: Config,
    /// Where the store, the generated token, the risk index and run records live.
    pub data_dir: PathBuf,
    /// Detections, macros, lookups (built-in plus `--content` layers).
    pub content: vigil_content::ContentSet,
    /// Detections enabled or disabled beyond their deployment (config and `--enable`).
    pub selection: schedule::Selection,
    /// Test clock: the server's time starts here (and `POST /vigil/clock` moves it).
    pub now: Option<i64>,
    /// Detections planned by the caller (Sigma rules), each with its schedule in its
    /// deployment and its query (planned against the built-in mappings' catalog).
    pub extra: Vec<(vigil_content::Detection, vigil_engine::Query)>,
}

/// Runs the server until SIGTERM or Ctrl-C; in-flight requests finish and are stored first.
pub fn run(opts: Options) -> Result<(), String> {
    let Options { config, data_dir, content, selection, now, extra } = opts;
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let tokens = tokens(&config, &data_dir)?;
    let store_path = store_dir(&data_dir);
    let clock = Arc::new(admin::Clock::new(now));
    let c = clock.clone();
    let now_fn: commit::Clock = Arc::new(move || c.now());
    let store = store::Store::open(&store_path, clock.now()).map_err(|e| format!("store {}: {e}", store_path.display()))?;
    let r = store.recovery;
    eprintln!(
        "vigil serve: store {}: {} hour partition(s), {} event(s) in open segments{}",
        store_path.display(),
        r.segments,
        r.events,
        if r.truncated_segments > 0 {
            format!("; torn tails cut in {} segment(s) (writes never acknowledged)", r.truncated_segments)
        } else {
            String::new()
        }
    );
    let seal_idle = i64::try_from(config.store.seal_idle_secs).unwrap_or(i64::MAX / 2).saturating_mul(1_000_000);
    let committer = commit::Committer::start(store, config.limits.max_queued_events, now_fn.clone(), seal_idle)
        .map_err(|e| format!("cannot start the commit thread: {e}"))?;
    let hec = Arc::new(ingest::Hec::new(tokens, committer, config.limits.clone(), now_fn));
    let normalizer = vigil_normalize::Normalizer::builtin().map_err(|e| format!("built-in mappings: {e}"))?;
    let driver = vigil_scan::Driver::new(None)?;
    let scheduler = schedule::Scheduler::new(content, extra, normalizer, driver, &selection, &data_dir, clock.now())?;
    let scheduled = scheduler.describe();
    eprintln!("vigil serve: {} schedule(s){}", scheduled.len(), scheduled.iter().map(|s| format!("\n  {s}")).collect::<String>());
    let scheduler = Arc::new(Mutex::new(scheduler));
    spawn_ticker(scheduler.clone(), clock.clone())?;
    let admin = admin::Admin { hec: hec.clone(), clock, scheduler };
    let app = ingest::router(hec).merge(admin::router(admin));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve_http(config.listen, app))
}

/// Checks the clock every second and runs the ticks it passed.
fn spawn_ticker(scheduler: Arc<Mutex<schedule::Scheduler>>, clock: Arc<admin::Clock>) -> Result<(), String> {
    // The first round runs at once: ticks missed while the server was down (catch-up).
    let run = move || loop {
        let Ok(mut s) = scheduler.lock() else { return };
        for r in s.run_due(clock.now()) {
            eprintln!("vigil serve: run {}", serde_json::to_string(&r).unwrap_or_default());
        }
        drop(s);
        std::thread::sleep(std::time::Duration::from_secs(1));
    };
    std::thread::Builder::new()
        .name("vigil-scheduler".into())
        .spawn(run)
        .map(|_| ())
        .map_err(|e| format!("cannot start the scheduler: {e}"))
}

async fn serve_http(addr: SocketAddr, app: axum::Router) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts wait for this line (the port is real even with :0).
    eprintln!("vigil serve: listening on http://{local}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await.map_err(|e| format!("server: {e}"))?;
    eprintln!("vigil serve: stopped");
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The configured tokens, or the one kept in the data directory (generated on first start).
fn tokens(config: &Config, data_dir: &std::path::Path) -> Result<Vec<TokenConfig>, String> {
    if !config.tokens.is_empty() {
        eprintln!("vigil serve: {} HEC token(s) from the config", config.tokens.len());
        return Ok(config.tokens.clone());
    }
    let (token, new) = config::generated_token(data_dir)?;
    let kept = data_dir.join("hec_token");
    if new {
        eprintln!("vigil serve: generated HEC token {token} (kept in {})", kept.display());
    } else {
        eprintln!("vigil serve: HEC token {token} (from {})", kept.display());
    }
    Ok(vec![TokenConfig { token, name: Some("default".into()), indexes: Vec::new(), default_index: None, sourcetype: None, ack: false }])
}
