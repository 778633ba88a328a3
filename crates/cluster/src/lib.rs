//! Cluster mode on Kafka: the single node's detection operator split over a consumer group.
//!
//! ```text
//! HEC senders --ingest role (vigil-serve's HEC, Kafka sink)--> events topic (key: host)
//!   ingest.rs: acks=all, idempotent producer; success / ackId true after the broker's ack
//! events topic --worker role (consumer group)--> open windows per (schedule, tick, partition)
//!   worker.rs: a poll's records read per partition in one vigil-read pass (records.rs),
//!   normalized, routed by windows.rs record by record (record timestamp = _indextime); a
//!   window closed for a partition -> its scan state to the partials topic (partial.rs);
//!   open states + offsets -> the checkpoints topic (checkpoint.rs)
//! partials topic (key: schedule|tick) --reducer role (its own group)--> merge, finish
//!   reducer.rs: all partitions' partials merged in partition order, finished with now = tick,
//!   results/<schedule>-<tick>.jsonl and notables/risk events in the alert store
//!   ([alerts] postgres: shared with the other reducers and `vigil serve --role api`);
//!   correlate.rs: Correlation detections over that store, once the event runs they read are done
//! ```
//!
//! Identity, not luck, makes failures harmless: a partial is `(schedule, tick, partition)` and
//! its bytes depend only on the partition's records, so a worker redoing work after a crash
//! publishes the same bytes again; the reducer keeps one partial per partition and the risk
//! index one copy per alert identity.

pub mod assignment;
pub mod checkpoint;
pub mod config;
pub mod correlate;
pub mod ingest;
pub mod kafka;
pub mod metrics;
pub mod partial;
pub mod plan;
pub mod records;
pub mod reducer;
pub mod resume;
pub mod status;
pub mod windows;
pub mod worker;

pub use config::ClusterConfig;

use std::path::PathBuf;
use vigil_model::Micros;

/// Which part of the cluster this process is (`vigil serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// HEC in, the events topic out.
    Ingest,
    /// Events topic in, partials out.
    Worker,
    /// Partials in, results and alerts out.
    Reducer,
}

/// What a cluster role was asked to run.
pub struct Options {
    pub config: vigil_serve::config::Config,
    pub data_dir: PathBuf,
    pub content: vigil_content::ContentSet,
    pub selection: vigil_serve::selection::Selection,
    /// Test clock start (the clock then runs from there).
    pub now: Option<Micros>,
    /// `--listen`: where a worker or reducer serves /metrics (over `[cluster] metrics_listen`).
    pub listen: Option<std::net::SocketAddr>,
    /// Detections planned by the caller (Sigma rules), scheduled like the content's.
    pub extra: Vec<(vigil_content::Detection, vigil_engine::Query)>,
}

/// Runs one role until the process is stopped.
pub fn run(kind: RoleKind, opts: Options) -> Result<(), String> {
    let mut cfg = ClusterConfig::from_table(opts.config.cluster.as_ref())?;
    if kind == RoleKind::Ingest {
        kafka::ensure_topics(&cfg)?;
        let sink = ingest::KafkaSink::new(&cfg)?;
        return vigil_serve::run_ingest(&opts.config, &opts.data_dir, Box::new(sink), opts.now);
    }
    cfg.metrics_listen = opts.listen.or(cfg.metrics_listen);
    if let Some(addr) = cfg.metrics_listen {
        metrics::serve(addr)?;
    }
    let clock = vigil_serve::admin::Clock::new(opts.now);
    let (from, to) = cfg.tick_range(clock.now())?;
    let mut normalizer = vigil_normalize::Normalizer::builtin().map_err(|e| format!("built-in mappings: {e}"))?;
    let extra_detections: Vec<vigil_content::Detection> = opts.extra.iter().map(|(d, _)| d.clone()).collect();
    let plans = plan::plan(&opts.content, &normalizer, &opts.selection, opts.extra, from, to)?;
    // As backtest does: events get only the add-on fields the searches can read (the rows of
    // raw-event searches then hold the same fields as backtest's).
    let planned = plans.events.iter().chain(&plans.correlations);
    vigil_scan::fields::restrict_knowledge(&mut normalizer, planned.flat_map(|p| p.group.engine.queries()));
    for (s, over) in
        plans.events.iter().map(|s| (s, "")).chain(plans.correlations.iter().map(|s| (s, " (over the risk index, run by the reducers)")))
    {
        eprintln!(
            "vigil cluster: schedule {} `{}` earliest={} latest={}{over}: {}",
            s.id,
            s.group.cron,
            s.group.earliest,
            s.group.latest,
            s.group.names.join(", ")
        );
    }
    let role = worker::Role { cfg, schedules: plans.events, normalizer, from, clock: Box::new(move || clock.now()) };
    match kind {
        RoleKind::Worker => worker::run(role),
        _ => reducer::run(reducer::Reducer::new(
            role,
            plans.correlations,
            (opts.content, extra_detections),
            &opts.data_dir,
            &opts.config.alerts,
        )?),
    }
}
