//! What every scheduled run leaves behind: one record (runs.jsonl, or the shared store's runs).

use serde::Serialize;
use vigil_model::Micros;
use vigil_time::Tz;

/// One run, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub detections: Vec<String>,
    pub scheduled_time: String,
    pub window_earliest: String,
    pub window_latest: String,
    pub started: String,
    pub duration_ms: u64,
    pub segments: usize,
    pub events_scanned: u64,
    pub results: usize,
    pub notables: usize,
    pub risk_events: usize,
    /// Deliveries queued for the alert actions (alerts times the actions that take them).
    #[serde(skip_serializing_if = "is_zero")]
    pub actions_queued: usize,
    /// Alerts not already in the risk index (a rerun raises only these).
    pub new_alerts: usize,
    /// A run evaluated again for late events (`late_events = "rerun"`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rerun: bool,
    /// Events that arrived late for this schedule since its previous run record.
    #[serde(skip_serializing_if = "is_zero")]
    pub late_events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunRecord {
    pub(crate) fn new(detections: Vec<String>, tick: Micros, started: Micros, rerun: bool) -> RunRecord {
        RunRecord {
            detections,
            scheduled_time: iso(tick),
            window_earliest: String::new(),
            window_latest: String::new(),
            started: iso(started),
            duration_ms: 0,
            segments: 0,
            events_scanned: 0,
            results: 0,
            notables: 0,
            risk_events: 0,
            actions_queued: 0,
            new_alerts: 0,
            rerun,
            late_events: 0,
            error: None,
        }
    }
}

fn iso(t: Micros) -> String {
    vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%SZ", &Tz::utc())
}

fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}
