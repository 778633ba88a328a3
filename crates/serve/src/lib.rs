//! `vigil serve`: events in over Splunk's HTTP Event Collector, kept durably, detections run on
//! their schedules. One process, one machine.
//!
//! ```text
//! ingest (HEC: /services/collector/event|raw|health|ack)      ingest/
//!   --> commit (group commit: one fsync per round)             commit.rs
//!   --> store (hour segments, read by the same readers)        store.rs
//!   --> answer success / ackId true
//! ```
//!
//! The scheduler (detections at their cron ticks over the store, through the scan driver) is
//! the next slice; this one ingests and keeps events.

pub mod commit;
pub mod config;
pub mod ingest;
pub mod store;

use config::{Config, TokenConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// What `vigil serve` was asked to run.
pub struct Options {
    pub config: Config,
    /// Where the store, the generated token and (later) run records live.
    pub data_dir: PathBuf,
}

/// The store directory under a data directory (for `--store`-style readers too).
pub fn store_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("store")
}

/// Runs the server until SIGTERM or Ctrl-C; in-flight requests finish and are stored first.
pub fn run(opts: Options) -> Result<(), String> {
    let Options { config, data_dir } = opts;
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let tokens = tokens(&config, &data_dir)?;
    let store_path = store_dir(&data_dir);
    let store = store::Store::open(&store_path)
        .map_err(|e| format!("store {}: {e}", store_path.display()))?;
    let r = store.recovery;
    eprintln!(
        "vigil serve: store {}: {} event(s) in {} segment(s){}",
        store_path.display(),
        r.events,
        r.segments,
        if r.truncated_segments > 0 {
            format!(
                "; torn tails cut in {} segment(s) (writes never acknowledged)",
                r.truncated_segments
            )
        } else {
            String::new()
        }
    );
    let committer = commit::Committer::start(store, config.limits.max_queued_events)
        .map_err(|e| format!("cannot start the commit thread: {e}"))?;
    let clock: Arc<dyn Fn() -> i64 + Send + Sync> = Arc::new(vigil_time::now_micros);
    let hec = Arc::new(ingest::Hec::new(
        tokens,
        committer,
        config.limits.clone(),
        clock,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve_http(config.listen, hec))
}

async fn serve_http(addr: SocketAddr, hec: Arc<ingest::Hec>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts wait for this line (the port is real even with :0).
    eprintln!("vigil serve: listening on http://{local}");
    axum::serve(listener, ingest::router(hec))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server: {e}"))?;
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
        eprintln!(
            "vigil serve: {} HEC token(s) from the config",
            config.tokens.len()
        );
        return Ok(config.tokens.clone());
    }
    let (token, new) = config::generated_token(data_dir)?;
    let kept = data_dir.join("hec_token");
    if new {
        eprintln!(
            "vigil serve: generated HEC token {token} (kept in {})",
            kept.display()
        );
    } else {
        eprintln!("vigil serve: HEC token {token} (from {})", kept.display());
    }
    Ok(vec![TokenConfig {
        token,
        name: Some("default".into()),
        indexes: Vec::new(),
        default_index: None,
        sourcetype: None,
        ack: false,
    }])
}
