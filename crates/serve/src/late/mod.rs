//! Late events: an event that arrives after the last scheduled run whose window holds its
//! `_time` is never seen by any run (a run sees only what had arrived by its tick, as
//! Splunk's scheduled search sees only what was indexed). Such events are never lost
//! silently: they are counted per detection, listed, and with
//! `[scheduler] late_events = "rerun"` the runs whose windows hold them are evaluated again.
//!
//! ```text
//! commit thread --stored batch--> LateTracker::observe --late--> late.jsonl, late.json,
//!                                                               pending reruns
//! scheduler --run_due--> regular ticks, then pending reruns (arrival filter off) --> risk index
//! GET /vigil/late --> counts per detection, the latest entries
//! ```
//!
//! Decisions:
//! - Classified when the event is stored, in the commit thread before the sender is answered,
//!   and written (fsynced) then: an acknowledged late event is always on record. A crash
//!   between a tailed batch being stored and its classification loses the notice only (the
//!   event is stored): the tail batch is not read again (see `tail/positions.rs`).
//! - Per schedule `(cron, earliest, latest)`: the windows holding `_time` come from
//!   [`holding`]; late means the last of them ran before the arrival. Events in no window (a
//!   gap between windows) are not late: no run would ever see them, on time or not.
//! - Reruns cover every run whose window holds the event, from the scheduler's first start
//!   on (earlier ticks never ran). A rerun reads the store as it is (every arrival), and the
//!   risk index keeps one copy of each alert (its `event_hash`), so only new results are
//!   raised; the run record says how many (`new_alerts`).
//! - The list (`late.jsonl`) keeps the first [`MAX_LISTED`] late events; counts stay exact.

pub mod holding;

use crate::ingest::Hec;
use crate::store::StoredEvent;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use holding::{Holding, Runs};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vigil_model::Micros;
use vigil_time::{Schedule, Tz};

/// Late events listed in `late.jsonl` at most (the counts go on).
pub const MAX_LISTED: u64 = 100_000;
/// Late events kept in memory for the API.
const RECENT: usize = 1000;

pub use crate::selection::LateMode;

/// `(cron, earliest, latest)`.
pub type ScheduleKey = (String, String, String);

/// A schedule and the detections on it.
pub struct ScheduleSpec {
    pub key: ScheduleKey,
    pub names: Vec<String>,
    pub schedule: Schedule,
}

/// One late event, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LateEntry {
    pub detections: Vec<String>,
    pub event_time: String,
    pub arrival_time: String,
    /// The last run whose window held the event.
    pub window_run_time: String,
    pub host: String,
    pub source: String,
    pub sourcetype: String,
    pub index: String,
    /// Runs evaluated again for it (`late_events = "rerun"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rerun: Vec<String>,
}

/// What survives a restart (`late.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    total: u64,
    listed: u64,
    by_detection: BTreeMap<String, u64>,
    pending: BTreeSet<(String, String, String, Micros)>,
}

struct Spec {
    key: ScheduleKey,
    names: Vec<String>,
    holding: Holding,
}

struct Inner {
    mode: LateMode,
    specs: Vec<Spec>,
    /// Ticks before this never ran (the scheduler's first start).
    first_run: Micros,
    saved: Saved,
    /// Late events per schedule since its last run record.
    since_run: HashMap<ScheduleKey, u64>,
    recent: VecDeque<LateEntry>,
}

/// Classifies stored events and keeps the record (see the module notes).
pub struct LateTracker {
    inner: Mutex<Inner>,
    list_path: PathBuf,
    state_path: PathBuf,
}

impl LateTracker {
    /// Opens the record kept in `data_dir` (`late.jsonl`, `late.json`).
    pub fn open(data_dir: &Path, mode: LateMode) -> Result<Arc<LateTracker>, String> {
        let state_path = data_dir.join("late.json");
        let list_path = data_dir.join("late.jsonl");
        let saved: Saved = match std::fs::read(&state_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", state_path.display()))?,
            Err(_) => Saved::default(),
        };
        let mut recent = VecDeque::new();
        if let Ok(f) = std::fs::File::open(&list_path) {
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<LateEntry>(&line) {
                    if recent.len() == RECENT {
                        recent.pop_front();
                    }
                    recent.push_back(e);
                }
            }
        }
        let inner = Inner { mode, specs: Vec::new(), first_run: Micros::MAX, saved, since_run: HashMap::new(), recent };
        Ok(Arc::new(LateTracker { inner: Mutex::new(inner), list_path, state_path }))
    }

    /// The schedules to classify against, and when the scheduler first started.
    pub fn set_schedules(&self, specs: Vec<ScheduleSpec>, first_run: Micros, tz: &Tz) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.specs = specs
            .into_iter()
            .map(|s| Spec { holding: Holding::new(s.schedule, &s.key.1, &s.key.2, tz.clone()), key: s.key, names: s.names })
            .collect();
        inner.first_run = first_run;
    }

    /// Classifies a stored batch; records its late events durably before returning.
    pub fn observe(&self, events: &[StoredEvent]) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let mut lines = Vec::new();
        let mut late = 0;
        let inner = &mut *inner;
        for ev in events {
            let Some(arrival) = vigil_time::micros_from_secs(ev.indextime) else { continue };
            for spec in &mut inner.specs {
                let Runs::Ticks(ticks) = spec.holding.runs(ev.time) else { continue };
                let Some(&last) = ticks.last() else { continue };
                if arrival <= last {
                    continue;
                }
                let mut rerun = Vec::new();
                if inner.mode == LateMode::Rerun {
                    for &t in ticks.iter().filter(|t| **t >= inner.first_run) {
                        let (c, e, l) = spec.key.clone();
                        inner.saved.pending.insert((c, e, l, t));
                        rerun.push(iso(t));
                    }
                }
                late += 1;
                inner.saved.total += 1;
                *inner.since_run.entry(spec.key.clone()).or_default() += 1;
                for n in &spec.names {
                    *inner.saved.by_detection.entry(n.clone()).or_default() += 1;
                }
                let entry = LateEntry {
                    detections: spec.names.clone(),
                    event_time: iso(ev.time),
                    arrival_time: iso(arrival),
                    window_run_time: iso(last),
                    host: ev.host.clone(),
                    source: ev.source.clone(),
                    sourcetype: ev.sourcetype.clone(),
                    index: ev.index.clone(),
                    rerun,
                };
                if inner.saved.listed < MAX_LISTED {
                    inner.saved.listed += 1;
                    lines.push(serde_json::to_string(&entry).unwrap_or_default());
                }
                if inner.recent.len() == RECENT {
                    inner.recent.pop_front();
                }
                inner.recent.push_back(entry);
            }
        }
        if late == 0 {
            return;
        }
        if let Err(e) = self.persist(&inner.saved, &lines) {
            eprintln!("vigil serve: cannot record late events in {}: {e}", self.state_path.display());
        }
    }

    fn persist(&self, saved: &Saved, lines: &[String]) -> std::io::Result<()> {
        if !lines.is_empty() {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.list_path)?;
            let mut text = lines.join("\n");
            text.push('\n');
            f.write_all(text.as_bytes())?;
            f.sync_data()?;
        }
        let tmp = self.state_path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(saved).map_err(std::io::Error::other)?)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &self.state_path)
    }

    /// Runs to evaluate again, oldest first (they stay pending until [`Self::rerun_done`]).
    pub fn pending_reruns(&self) -> Vec<(ScheduleKey, Micros)> {
        let Ok(inner) = self.inner.lock() else { return Vec::new() };
        let mut v: Vec<(ScheduleKey, Micros)> =
            inner.saved.pending.iter().map(|(c, e, l, t)| ((c.clone(), e.clone(), l.clone()), *t)).collect();
        v.sort_by_key(|(_, t)| *t);
        v
    }

    pub fn rerun_done(&self, key: &ScheduleKey, tick: Micros) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let (c, e, l) = key.clone();
        if inner.saved.pending.remove(&(c, e, l, tick)) {
            if let Err(e) = self.persist(&inner.saved, &[]) {
                eprintln!("vigil serve: cannot save {}: {e}", self.state_path.display());
            }
        }
    }

    /// Late events of a schedule since the last call for it (for its next run record).
    pub fn take_since_run(&self, key: &ScheduleKey) -> u64 {
        self.inner.lock().ok().and_then(|mut i| i.since_run.remove(key)).unwrap_or(0)
    }

    /// Counts and the latest entries (of one detection when given), newest last.
    pub fn summary(&self, detection: Option<&str>, limit: usize) -> serde_json::Value {
        let Ok(inner) = self.inner.lock() else { return serde_json::Value::Null };
        let mut recent: Vec<&LateEntry> =
            inner.recent.iter().rev().filter(|e| detection.is_none_or(|d| e.detections.iter().any(|n| n == d))).take(limit).collect();
        recent.reverse();
        serde_json::json!({
            "mode": inner.mode,
            "total": inner.saved.total,
            "listed": inner.saved.listed,
            "list_file": self.list_path,
            "by_detection": inner.saved.by_detection,
            "pending_reruns": inner.saved.pending.len(),
            "recent": recent,
        })
    }
}

fn iso(t: Micros) -> String {
    vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%S.%6NZ", &Tz::utc()).replace(".000000Z", "Z")
}

#[derive(Clone)]
struct Api {
    hec: Arc<Hec>,
    late: Arc<LateTracker>,
}

/// `GET /vigil/late?detection=NAME&limit=N` (any HEC token): counts per detection and the
/// latest late events (100 by default, 1000 at most).
pub fn router(hec: Arc<Hec>, late: Arc<LateTracker>) -> Router {
    Router::new().route("/vigil/late", get(list)).with_state(Api { hec, late })
}

async fn list(State(api): State<Api>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    if let Err(e) = api.hec.authorize(&headers) {
        return e.into_response();
    }
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).min(RECENT);
    Json(api.late.summary(q.get("detection").map(String::as_str), limit)).into_response()
}

#[cfg(test)]
mod tests;
