//! `GET /metrics`: the server's counters in the Prometheus text format (0.0.4).
//!
//! Decisions:
//! - prometheus-client (the Prometheus project's Rust client) keeps the counters and writes
//!   the format: label escaping, `_total` suffixes and cumulative histogram buckets are its
//!   business, not hand-formatted here.
//! - One set of metrics per process ([`global`]): the code that counts (ingest, the
//!   scheduler, action threads, late-event handling) calls it without plumbing. A server is
//!   one per process; tests compare deltas.
//! - Values that are states rather than events (queue depth, store size, outbox depth,
//!   scheduled detections) are read when scraped ([`Sources`]).
//!
//! Token labels are the token's `name` from the config, never the token.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::path::Path;
use std::sync::OnceLock;

pub type Labels = Vec<(String, String)>;

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    events_received: Family<Labels, Counter>,
    bytes_received: Family<Labels, Counter>,
    hec_errors: Family<Labels, Counter>,
    ack_latency: Histogram,
    late_events: Counter,
    runs: Family<Labels, Counter>,
    run_duration: Histogram,
    skipped_ticks: Counter,
    missed_ticks: Counter,
    alerts: Family<Labels, Counter>,
    action_deliveries: Family<Labels, Counter>,
    action_failures: Family<Labels, Counter>,
    action_given_up: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    // Hostile clients and backpressure (listener/, ingest/budget.rs).
    connections_open: Gauge,
    connections_refused: Counter,
    connections_dropped: Family<Labels, Counter>,
    hec_busy: Family<Labels, Counter>,
    body_bytes_in_flight: Gauge,
    // Read when scraped.
    queue_depth: Gauge,
    store_bytes: Gauge,
    store_partitions: Gauge,
    scheduled: Gauge,
    action_pending: Family<Labels, Gauge>,
    action_failed: Family<Labels, Gauge>,
}

/// The metrics of this process.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

/// Label pairs as prometheus-client's families take them.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Metrics {
    fn new() -> Metrics {
        let mut r = Registry::with_prefix("vigil");
        let m = Metrics {
            events_received: Family::default(),
            bytes_received: Family::default(),
            hec_errors: Family::default(),
            // 0.5 ms .. ~16 s: group commit answers in milliseconds, a stalled disk in seconds.
            ack_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            late_events: Counter::default(),
            runs: Family::default(),
            // 10 ms .. ~330 s.
            run_duration: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            skipped_ticks: Counter::default(),
            missed_ticks: Counter::default(),
            alerts: Family::default(),
            action_deliveries: Family::default(),
            action_failures: Family::default(),
            action_given_up: Family::default(),
            reloads: Family::default(),
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            connections_dropped: Family::default(),
            hec_busy: Family::default(),
            body_bytes_in_flight: Gauge::default(),
            queue_depth: Gauge::default(),
            store_bytes: Gauge::default(),
            store_partitions: Gauge::default(),
            scheduled: Gauge::default(),
            action_pending: Family::default(),
            action_failed: Family::default(),
            registry: Registry::default(),
        };
        r.register("hec_events_received", "Events received over HEC, by token name and sourcetype", m.events_received.clone());
        r.register("hec_bytes_received", "Event bytes received over HEC, by token name and sourcetype", m.bytes_received.clone());
        r.register("hec_errors", "HEC requests answered with an error, by HEC status code", m.hec_errors.clone());
        r.register(
            "hec_ack_latency_seconds",
            "From request to events durable (the answer, or the ackId turning true)",
            m.ack_latency.clone(),
        );
        r.register("late_events", "Events that arrived after every run whose window holds their _time had run", m.late_events.clone());
        r.register("runs", "Scheduled runs, by result (ok, error)", m.runs.clone());
        r.register("run_duration_seconds", "Wall time of a scheduled run", m.run_duration.clone());
        r.register(
            "scheduler_missed_ticks",
            "Ticks that passed while the server was down and were run late (catch-up)",
            m.missed_ticks.clone(),
        );
        r.register(
            "scheduler_skipped_ticks",
            "Ticks that passed while the server was down and were not run (past max_catch_up)",
            m.skipped_ticks.clone(),
        );
        r.register("alerts", "Alerts raised by runs, by kind (notable, risk)", m.alerts.clone());
        r.register("action_deliveries", "Alerts delivered by an action", m.action_deliveries.clone());
        r.register("action_failures", "Failed delivery attempts of an action (each retried after its backoff)", m.action_failures.clone());
        r.register("action_given_up", "Alerts an action gave up on after max_attempts", m.action_given_up.clone());
        r.register("reloads", "Content and config reloads, by result (ok, error)", m.reloads.clone());
        r.register("connections_open", "Open client connections", m.connections_open.clone());
        r.register("connections_refused", "Connections answered 503 and closed: max_connections were open", m.connections_refused.clone());
        r.register(
            "connections_dropped",
            "Connections closed on a slow or stalled client, by reason (header_timeout: no complete request head in time, \
             idle kept-alive connections included; slow_body: body slower than min_body_rate; tls_handshake)",
            m.connections_dropped.clone(),
        );
        r.register(
            "hec_busy",
            "HEC requests answered 503 server busy, by reason (body_budget: max_inflight_body_bytes; queue: max_queued_events; acks: a channel's pending acks)",
            m.hec_busy.clone(),
        );
        r.register(
            "hec_body_bytes_in_flight",
            "HEC request bytes held in memory until their events are durable",
            m.body_bytes_in_flight.clone(),
        );
        r.register("commit_queue_events", "Events waiting to be written and fsynced", m.queue_depth.clone());
        r.register("store_bytes", "Bytes of the event store on disk", m.store_bytes.clone());
        r.register("store_partitions", "Hour partitions in the event store", m.store_partitions.clone());
        r.register("scheduled_detections", "Detections the scheduler runs", m.scheduled.clone());
        r.register("action_queue_depth", "Alerts waiting for delivery, by action", m.action_pending.clone());
        r.register("action_failed_alerts", "Alerts kept in the outbox as given up, by action", m.action_failed.clone());
        Metrics { registry: r, ..m }
    }

    /// `events` events of `bytes` bytes received on the token named `token`.
    pub fn received(&self, token: &str, sourcetype: &str, events: u64, bytes: u64) {
        let l = labels(&[("token", token), ("sourcetype", sourcetype)]);
        self.events_received.get_or_create(&l).inc_by(events);
        self.bytes_received.get_or_create(&l).inc_by(bytes);
    }

    pub fn hec_error(&self, code: u32) {
        self.hec_errors.get_or_create(&labels(&[("code", &code.to_string())])).inc();
    }

    pub fn ack_latency(&self, secs: f64) {
        self.ack_latency.observe(secs);
    }

    /// Late events (part of the late-event handling: counted where they are found).
    pub fn late_events(&self, n: u64) {
        self.late_events.inc_by(n);
    }

    pub fn run(&self, ok: bool, secs: f64) {
        self.runs.get_or_create(&labels(&[("result", if ok { "ok" } else { "error" })])).inc();
        self.run_duration.observe(secs);
    }

    pub fn ticks_missed(&self, run_late: u64, skipped: u64) {
        self.missed_ticks.inc_by(run_late);
        self.skipped_ticks.inc_by(skipped);
    }

    pub fn alerts(&self, notables: u64, risk: u64) {
        self.alerts.get_or_create(&labels(&[("kind", "notable")])).inc_by(notables);
        self.alerts.get_or_create(&labels(&[("kind", "risk")])).inc_by(risk);
    }

    pub fn action_delivered(&self, action: &str, n: u64) {
        self.action_deliveries.get_or_create(&labels(&[("action", action)])).inc_by(n);
    }

    pub fn action_failed(&self, action: &str) {
        self.action_failures.get_or_create(&labels(&[("action", action)])).inc();
    }

    pub fn action_gave_up(&self, action: &str, n: u64) {
        self.action_given_up.get_or_create(&labels(&[("action", action)])).inc_by(n);
    }

    pub fn reload(&self, ok: bool) {
        self.reloads.get_or_create(&labels(&[("result", if ok { "ok" } else { "error" })])).inc();
    }

    /// Counts an open connection until the returned guard is dropped.
    pub fn connection_opened(&self) -> impl Drop + '_ {
        struct Open<'a>(&'a Gauge);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                self.0.dec();
            }
        }
        self.connections_open.inc();
        Open(&self.connections_open)
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    pub fn connection_dropped(&self, reason: &str) {
        self.connections_dropped.get_or_create(&labels(&[("reason", reason)])).inc();
    }

    pub fn hec_busy(&self, reason: &str) {
        self.hec_busy.get_or_create(&labels(&[("reason", reason)])).inc();
    }

    /// `delta` bytes of request bodies taken into (positive) or let go from memory.
    pub fn body_bytes_in_flight(&self, delta: i64) {
        self.body_bytes_in_flight.inc_by(delta);
    }

    /// The text of a scrape, after reading the state gauges from `sources`.
    pub fn render(&self, sources: &Sources) -> String {
        self.queue_depth.set(to_i64(sources.queued as u64));
        let (bytes, partitions) = store_size(sources.store_root);
        self.store_bytes.set(to_i64(bytes));
        self.store_partitions.set(to_i64(partitions));
        self.scheduled.set(to_i64(sources.scheduled as u64));
        for (action, d) in &sources.actions {
            let l = labels(&[("action", action)]);
            self.action_pending.get_or_create(&l).set(to_i64(d.pending));
            self.action_failed.get_or_create(&l).set(to_i64(d.failed));
        }
        encode(&self.registry)
    }
}

/// A registry in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// State read at scrape time.
pub struct Sources<'a> {
    pub queued: usize,
    pub store_root: &'a Path,
    pub scheduled: usize,
    pub actions: Vec<(String, crate::actions::outbox::Depth)>,
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Bytes under the store and its partition directories (one level of hour directories).
fn store_size(root: &Path) -> (u64, u64) {
    let (mut bytes, mut partitions) = (0, 0);
    let Ok(dirs) = std::fs::read_dir(root) else { return (0, 0) };
    for d in dirs.flatten() {
        if !d.file_type().is_ok_and(|t| t.is_dir()) {
            bytes += d.metadata().map(|m| m.len()).unwrap_or(0);
            continue;
        }
        partitions += 1;
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            bytes += f.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    (bytes, partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_has_the_counters_with_labels_and_the_histograms() {
        let m = Metrics::new();
        m.received("sysmon", "XmlWinEventLog", 3, 300);
        m.received("sysmon", "Xml\"odd", 1, 10);
        m.ack_latency(0.002);
        m.run(true, 0.5);
        m.alerts(2, 5);
        m.action_failed("soc");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("2026-11-20T10")).unwrap();
        std::fs::write(dir.path().join("2026-11-20T10/events.log"), "abc\n").unwrap();
        let text = m.render(&Sources { queued: 7, store_root: dir.path(), scheduled: 2, actions: Vec::new() });
        for line in [
            "vigil_hec_events_received_total{token=\"sysmon\",sourcetype=\"XmlWinEventLog\"} 3",
            "vigil_hec_bytes_received_total{token=\"sysmon\",sourcetype=\"XmlWinEventLog\"} 300",
            "vigil_hec_events_received_total{token=\"sysmon\",sourcetype=\"Xml\\\"odd\"} 1",
            "vigil_hec_ack_latency_seconds_count 1",
            "vigil_hec_ack_latency_seconds_bucket{le=\"+Inf\"} 1",
            "vigil_runs_total{result=\"ok\"} 1",
            "vigil_alerts_total{kind=\"risk\"} 5",
            "vigil_action_failures_total{action=\"soc\"} 1",
            "vigil_commit_queue_events 7",
            "vigil_store_bytes 4",
            "vigil_store_partitions 1",
            "vigil_scheduled_detections 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(text.contains("# TYPE vigil_run_duration_seconds histogram"), "{text}");
    }
}
