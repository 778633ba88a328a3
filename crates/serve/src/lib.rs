//! `vigil serve`: events in over Splunk's HTTP Event Collector, kept durably, detections run on
//! their schedules. One process, one machine.
//!
//! ```text
//! ingest (HEC: /services/collector/event|raw|health|ack)      ingest/
//!   --> commit (group commit: one fsync per round)             commit.rs
//!   --> store (hour segments, read by the same readers)        store.rs
//!   --> answer success / ackId true
//! schedule (cron ticks of the selected detections, over the store) schedule.rs, selection.rs
//!   then Correlation detections over the risk index           vigil_scan::correlation
//!   --> notables and risk events in the alert store ([alerts]: risk.db, or PostgreSQL shared
//!       with other processes); run records in runs.jsonl (or that PostgreSQL)
//!   --> actions: webhook, Splunk HEC, file (durable outbox)    actions/
//! operations: /metrics, reload (SIGHUP, POST /vigil/reload)  metrics.rs, ops.rs, reload.rs
//! HTTPS when [tls] is configured                              tls.rs
//! hostile clients: connection cap, header/body pace           listener/
//! ```
//!
//! `--role api` ([`run_api`]): the console and API alone over the alert store, no ingest and
//! no scheduler (cluster roles: vigil-cluster).

pub mod actions;
pub mod admin;
pub mod api;
pub mod commit;
pub mod config;
pub mod console;
pub mod indexed;
pub mod ingest;
pub mod late;
pub mod listener;
pub mod metrics;
pub mod ops;
mod raise;
pub mod reload;
pub mod retention;
mod run_record;
pub mod schedule;
mod seal;
pub mod selection;
pub mod store;
pub mod tail;
pub mod tls;

pub use store::store_dir;

use config::{Config, TokenConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What `vigil serve` was asked to run.
pub struct Options {
    pub config: Config,
    /// Where the store, the generated token, the risk index and run records live.
    pub data_dir: PathBuf,
    /// Detections, macros, lookups (built-in plus `--content` layers plus the config's).
    pub content: vigil_content::ContentSet,
    /// Detections enabled or disabled beyond their deployment (config and `--enable`).
    pub selection: schedule::Selection,
    /// Test clock: the server's time starts here (and `POST /vigil/clock` moves it).
    pub now: Option<i64>,
    /// Where SIGHUP and `POST /vigil/reload` read the config and content again.
    pub reload: reload::Source,
    /// Detections planned by the caller (Sigma rules), each with its schedule in its
    /// deployment and its query (planned against the built-in mappings' catalog).
    pub extra: schedule::ExtraDetections,
}

/// Runs the server until SIGTERM or Ctrl-C: then it stops accepting, finishes the requests
/// under way, flushes the commit queue, finishes the run under way and returns.
pub fn run(opts: Options) -> Result<(), String> {
    let Options { config, data_dir, content, selection, now, reload, extra } = opts;
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let tokens = tokens(&config, &data_dir)?;
    let store_path = store_dir(&data_dir);
    let clock = Arc::new(admin::Clock::new(now));
    let c = clock.clone();
    let now_fn: commit::Clock = Arc::new(move || c.now());
    let mut store = store::Store::open(&store_path, clock.now()).map_err(|e| format!("store {}: {e}", store_path.display()))?;
    store.set_retention(retention::from_config(config.store.max_age.as_deref(), config.store.max_size.as_deref())?);
    let late = late::LateTracker::open(&data_dir, selection.late_events)?;
    let observer = late.clone();
    store.set_observer(Box::new(move |events| observer.observe(events)));
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
    if !config.inputs.directory.is_empty() {
        let tailer = tail::Tailer::new(config.inputs.clone(), &data_dir, committer.clone(), now_fn.clone())?;
        tailer.spawn().map_err(|e| format!("cannot start tailing: {e}"))?;
        eprintln!("vigil serve: tailing {} director(ies)", config.inputs.directory.len());
    }
    let hec = Arc::new(ingest::Hec::new(tokens, committer, config.limits.clone(), now_fn));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let actions = Arc::new(actions::Actions::start(&data_dir, &config.actions, runtime.handle().clone())?);
    if !config.actions.is_empty() {
        eprintln!("vigil serve: {} alert action(s): {}", config.actions.len(), actions.names().join(", "));
    }
    let normalizer = vigil_normalize::Normalizer::builtin().map_err(|e| format!("built-in mappings: {e}"))?;
    let driver = vigil_scan::Driver::new(None)?;
    // The API's enable/disable choices (kept in the data directory) apply on top of the config.
    let effective = api::effective_selection(&selection, &data_dir);
    let risk = config.alerts.open(&data_dir)?;
    eprintln!("vigil serve: alert store {}", risk.describe());
    let mut scheduler = schedule::Scheduler::new(content.clone(), extra, normalizer, driver, &effective, &data_dir, risk, clock.now())?;
    scheduler.set_actions(actions.clone());
    scheduler.set_late(late.clone());
    let scheduled = scheduler.describe();
    eprintln!("vigil serve: {} schedule(s){}", scheduled.len(), scheduled.iter().map(|s| format!("\n  {s}")).collect::<String>());
    let scheduled_count = Arc::new(AtomicUsize::new(scheduler.detection_count()));
    let stop = scheduler.stop_flag();
    let scheduler = Arc::new(Mutex::new(scheduler));
    let ticker = spawn_ticker(scheduler.clone(), clock.clone(), stop.clone())?;
    let reloader = Arc::new(Mutex::new(reload::Reloader {
        source: reload,
        data_dir: data_dir.clone(),
        current: config.clone(),
        hec: hec.clone(),
        scheduler: scheduler.clone(),
        actions: actions.clone(),
        scheduled: scheduled_count.clone(),
    }));
    let ops = ops::Ops { hec: hec.clone(), actions: actions.clone(), store_root: store_path, scheduled: scheduled_count, reloader };
    let detections = api::DetectionControl::new(content, selection, data_dir.clone(), Some(scheduler.clone()));
    let setup = api::Setup {
        data_dir: data_dir.clone(),
        clock: clock.clone(),
        detections,
        ingest: hec.stats.clone(),
        seal_idle_secs: config.store.seal_idle_secs,
        secure_cookies: config.api.secure_cookies,
        alerts: config.alerts.clone(),
    };
    let api = Arc::new(api::Api::new(setup)?);
    let admin = admin::Admin { hec: hec.clone(), clock, scheduler };
    let app = ingest::router(hec.clone())
        .merge(admin::router(admin))
        .merge(ops::router(ops.clone()))
        .merge(console::router())
        .merge(api::router(api))
        .merge(late::router(hec.clone(), late));
    let served = runtime.block_on(serve_http(&config, app, Some(ops.reloader.clone()), stop.clone()));
    // Stopped accepting, requests finished: what was queued is made durable, the run under way
    // finishes (later ticks run at the next start), deliveries stop between alerts.
    if let Err(e) = hec.committer().flush() {
        eprintln!("vigil serve: {e}");
    }
    stop.store(true, Ordering::SeqCst);
    let _ = ticker.join();
    actions.stop();
    eprintln!("vigil serve: stopped");
    served
}

/// The HEC endpoints alone, committing into `sink` instead of the store (a cluster's ingest
/// role: the sink produces to Kafka). Same tokens, limits, acks and answers as [`run`]; runs
/// until SIGTERM or Ctrl-C, then flushes what was accepted.
pub fn run_ingest(config: &Config, data_dir: &std::path::Path, sink: Box<dyn commit::Sink>, now: Option<i64>) -> Result<(), String> {
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let tokens = tokens(config, data_dir)?;
    let clock = Arc::new(admin::Clock::new(now));
    let now_fn: commit::Clock = Arc::new(move || clock.now());
    eprintln!("vigil serve: ingest into {}", sink.describe());
    let committer = commit::Committer::start_sink(sink, config.limits.max_queued_events, now_fn.clone(), std::time::Duration::from_secs(1))
        .map_err(|e| format!("cannot start the commit thread: {e}"))?;
    let hec = Arc::new(ingest::Hec::new(tokens, committer, config.limits.clone(), now_fn));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let served = runtime.block_on(serve_http(config, ingest::router(hec.clone()), None, stop));
    if let Err(e) = hec.committer().flush() {
        eprintln!("vigil serve: {e}");
    }
    eprintln!("vigil serve: stopped");
    served
}

/// The console and the API (`/api/v1`, Splunk REST) alone, over the configured alert store:
/// no ingest, no event store, no scheduler (`vigil serve --role api`). With `[alerts]
/// postgres`, several such processes show the same alerts, written by reducers or single
/// nodes. Users, sessions and API tokens stay in this process's data directory (`users.db`).
pub fn run_api(opts: Options) -> Result<(), String> {
    let Options { config, data_dir, content, selection, now, .. } = opts;
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    if config.alerts.postgres.is_none() {
        eprintln!("vigil serve: --role api without [alerts] postgres: serving {} alone", data_dir.join("risk.db").display());
    }
    let clock = Arc::new(admin::Clock::new(now));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let detections = api::DetectionControl::new(content, selection, data_dir.clone(), None);
    let setup = api::Setup {
        data_dir,
        clock,
        detections,
        ingest: Arc::new(ingest::stats::IngestStats::default()),
        seal_idle_secs: config.store.seal_idle_secs,
        secure_cookies: config.api.secure_cookies,
        alerts: config.alerts.clone(),
    };
    let api = api::Api::new(setup)?;
    eprintln!("vigil serve: api over the alert store {}", api.risk.lock().map(|r| r.describe()).unwrap_or_default());
    let app = console::router().merge(api::router(Arc::new(api)));
    let stop = Arc::new(AtomicBool::new(false));
    let served = runtime.block_on(serve_http(&config, app, None, stop));
    eprintln!("vigil serve: stopped");
    served
}

/// Checks the clock every second and runs the ticks it passed, until `stop`.
fn spawn_ticker(
    scheduler: Arc<Mutex<schedule::Scheduler>>,
    clock: Arc<admin::Clock>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    // The first round runs at once: ticks missed while the server was down (catch-up).
    let run = move || {
        while !stop.load(Ordering::SeqCst) {
            let Ok(mut s) = scheduler.lock() else { return };
            for r in s.run_due(clock.now()) {
                eprintln!("vigil serve: run {}", serde_json::to_string(&r).unwrap_or_default());
            }
            drop(s);
            // Short sleeps so a stop is seen at once.
            for _ in 0..10 {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    std::thread::Builder::new().name("vigil-scheduler".into()).spawn(run).map_err(|e| format!("cannot start the scheduler: {e}"))
}

async fn serve_http(
    config: &Config,
    app: axum::Router,
    reloader: Option<Arc<Mutex<reload::Reloader>>>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let addr = config.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if let Some(reloader) = reloader {
        tokio::spawn(reload_on_hangup(reloader));
    }
    let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
    // Tests and scripts wait for this line (the port is real even with :0).
    eprintln!("vigil serve: listening on {}://{local}", if tls.is_some() { "https" } else { "http" });
    listener::serve(listener, tls, app, &config.limits, shutdown(stop)).await;
    eprintln!("vigil serve: stopped accepting; finishing");
    Ok(())
}

/// SIGHUP: reload (see `reload.rs`).
async fn reload_on_hangup(reloader: Arc<Mutex<reload::Reloader>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            let r = reloader.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(mut r) = r.lock() {
                    let _ = r.reload(); // logged by reload()
                }
            })
            .await;
        }
    }
    #[cfg(not(unix))]
    let _ = reloader;
}

/// Resolves on SIGTERM or Ctrl-C, after telling the scheduler to stop between runs (so a
/// clock request running many ticks ends after the run under way).
async fn shutdown(stop: Arc<AtomicBool>) {
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
    stop.store(true, Ordering::SeqCst);
}

/// The configured tokens, or the one kept in the data directory (generated on first start).
pub(crate) fn tokens(config: &Config, data_dir: &std::path::Path) -> Result<Vec<TokenConfig>, String> {
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
