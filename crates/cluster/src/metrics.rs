//! `GET /metrics` of the worker and reducer roles (Prometheus text), served on
//! `[cluster] metrics_listen` when set.
//!
//! Decisions:
//! - The same client as the single node's /metrics (prometheus-client, see vigil-serve's
//!   metrics.rs), one set per process ([`global`]), so the code that counts calls it without
//!   plumbing.
//! - Consumer lag comes from librdkafka's own statistics (`statistics.interval.ms`): the high
//!   watermark minus the group's committed offset of every partition this member owns, what
//!   `vigil cluster status` shows for the whole group; no extra request to the broker.
//! - A window's close delay is the clock minus its tick when the worker closes it: how long
//!   after the tick the run's partial left (grace, idle partitions and lag all show there).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use rdkafka::statistics::Statistics;
use std::net::SocketAddr;
use std::sync::OnceLock;
use vigil_model::Micros;

use vigil_serve::metrics::{labels, Labels};

/// The process's cluster metrics.
pub struct Metrics {
    registry: Registry,
    consumer_lag: Family<Labels, Gauge>,
    records: Counter,
    close_delay: Histogram,
    partial_bytes: Histogram,
    partials: Counter,
    checkpoints: Counter,
    checkpoint_bytes: Histogram,
    merge_seconds: Histogram,
    runs: Counter,
    pending_runs: Gauge,
    rebalances: Family<Labels, Counter>,
}

/// The metrics of this process.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut r = Registry::with_prefix("vigil_cluster");
        let m = Metrics {
            registry: Registry::default(),
            consumer_lag: Family::default(),
            records: Counter::default(),
            // 1 s .. ~36 h: a live window closes seconds after its tick, a replay days after.
            close_delay: Histogram::new(exponential_buckets(1.0, 2.0, 18)),
            // 64 B .. 64 MiB.
            partial_bytes: Histogram::new(exponential_buckets(64.0, 4.0, 11)),
            partials: Counter::default(),
            checkpoints: Counter::default(),
            checkpoint_bytes: Histogram::new(exponential_buckets(64.0, 4.0, 11)),
            // 0.5 ms .. ~16 s.
            merge_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            runs: Counter::default(),
            pending_runs: Gauge::default(),
            rebalances: Family::default(),
        };
        r.register(
            "consumer_lag",
            "Records of an owned partition not yet committed (high watermark - committed offset), by topic and partition",
            m.consumer_lag.clone(),
        );
        r.register("records", "Records read from the topic this role consumes", m.records.clone());
        r.register("window_close_delay_seconds", "Clock minus tick when a worker closed a window for a partition", m.close_delay.clone());
        r.register("partial_bytes", "Size of a published partial (one schedule, tick and partition)", m.partial_bytes.clone());
        r.register("partials_published", "Partials published by this worker", m.partials.clone());
        r.register("checkpoints_written", "Partition checkpoints written by this worker", m.checkpoints.clone());
        r.register("checkpoint_bytes", "Size of a written partition checkpoint", m.checkpoint_bytes.clone());
        r.register(
            "merge_seconds",
            "Reducer: merging a run's partials, finishing its searches and recording its alerts",
            m.merge_seconds.clone(),
        );
        r.register("runs_finished", "Reducer: runs merged and finished", m.runs.clone());
        r.register("pending_runs", "Reducer: runs waiting for partials of other partitions", m.pending_runs.clone());
        r.register("rebalances", "Group rebalances seen by this member, by change (assigned, revoked, error)", m.rebalances.clone());
        Metrics { registry: r, ..m }
    }

    /// Lag of the partitions this member owns, from librdkafka's statistics; partitions it
    /// no longer owns leave the family.
    pub fn consumer_stats(&self, stats: &Statistics) {
        for (topic, t) in &stats.topics {
            for (p, part) in &t.partitions {
                if *p < 0 {
                    continue; // librdkafka's internal "unassigned" partition
                }
                let l = labels(&[("topic", topic), ("partition", &p.to_string())]);
                if part.desired && part.consumer_lag >= 0 {
                    self.consumer_lag.get_or_create(&l).set(part.consumer_lag);
                } else {
                    self.consumer_lag.remove(&l);
                }
            }
        }
    }

    pub fn record_read(&self) {
        self.records.inc();
    }

    /// A window of `tick` closed at `now`, its partial `bytes` long.
    pub fn window_closed(&self, tick: Micros, now: Micros, bytes: usize) {
        self.close_delay.observe(((now - tick).max(0) as f64) / 1e6);
        self.partial_bytes.observe(bytes as f64);
        self.partials.inc();
    }

    pub fn checkpoint_written(&self, bytes: usize) {
        self.checkpoints.inc();
        self.checkpoint_bytes.observe(bytes as f64);
    }

    pub fn run_finished(&self, secs: f64) {
        self.runs.inc();
        self.merge_seconds.observe(secs);
    }

    pub fn pending_runs(&self, n: usize) {
        self.pending_runs.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn rebalance(&self, change: &str) {
        self.rebalances.get_or_create(&labels(&[("change", change)])).inc();
    }

    pub fn render(&self) -> String {
        vigil_serve::metrics::encode(&self.registry)
    }
}

/// Serves `GET /metrics` on `addr` from a thread of its own; returns once it listens.
pub fn serve(addr: SocketAddr) -> Result<(), String> {
    use axum::http::header;
    use axum::routing::get;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start a runtime: {e}"))?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).map_err(|e| format!("metrics_listen: cannot listen on {addr}: {e}"))?;
    let app = axum::Router::new()
        .route("/metrics", get(|| async { ([(header::CONTENT_TYPE, vigil_serve::metrics::CONTENT_TYPE)], global().render()) }));
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            if let Err(e) = rt.block_on(async { axum::serve(listener, app).await }) {
                eprintln!("vigil cluster: metrics server: {e}");
            }
        })
        .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
    eprintln!("vigil cluster: metrics on http://{addr}/metrics");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_has_lag_per_partition_delays_sizes_and_rebalances() {
        let m = Metrics::new();
        let mut topic = rdkafka::statistics::Topic::default();
        for (p, desired, lag) in [(0, true, 7), (1, false, -1), (-1, false, 0)] {
            topic.partitions.insert(p, rdkafka::statistics::Partition { partition: p, desired, consumer_lag: lag, ..Default::default() });
        }
        let mut stats = Statistics::default();
        stats.topics.insert("ev".into(), topic);
        m.consumer_stats(&stats);
        m.window_closed(10_000_000, 13_500_000, 300);
        m.checkpoint_written(1000);
        m.run_finished(0.002);
        m.rebalance("assigned");
        let text = m.render();
        for line in [
            "vigil_cluster_consumer_lag{topic=\"ev\",partition=\"0\"} 7",
            "vigil_cluster_window_close_delay_seconds_count 1",
            "vigil_cluster_window_close_delay_seconds_sum 3.5",
            "vigil_cluster_partial_bytes_bucket{le=\"1024\"} 1",
            "vigil_cluster_checkpoints_written_total 1",
            "vigil_cluster_merge_seconds_count 1",
            "vigil_cluster_rebalances_total{change=\"assigned\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(!text.contains("partition=\"1\""), "a partition not owned has no lag:\n{text}");
    }
}
