//! The alert store: risk events, notables, their triage and run records, behind one interface
//! with two backends.
//!
//! - SQLite (`sqlite.rs`): one embedded file, the single node's default (`risk.db`).
//! - PostgreSQL (`postgres.rs`, `[alerts] postgres = "postgres://..."`): shared by every
//!   process of a deployment (reducers write, `--role api` processes read), its schema
//!   migrated on start from `migrations/postgres/*.sql`.
//!
//! Callers hold a [`RiskStore`] and do not know which backend is under it. What is the same
//! whatever the backend (the per-object sums, the incident rules in `incident.rs`, the review
//! rules in `review.rs`) is written once here on top of [`Backend`]'s primitive queries.
//!
//! Deduplication: every alert carries an `event_hash` (detection id + the result's identity,
//! plus the risk object and its type for risk events; see [`crate::identity_hash`]), stored
//! under a UNIQUE constraint (`INSERT OR IGNORE` in SQLite, `ON CONFLICT DO NOTHING` in
//! PostgreSQL), so re-finding the same result in a later run (an overlapping window, the same
//! logs hunted twice, two reducers finishing the same run) inserts nothing and does not
//! double the risk.

use crate::alert::Alert;
use crate::review::{AuditEntry, NotableFilter, ReviewPlan, ReviewedNotable};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use vigil_model::Micros;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("risk index {path}: {source}")]
    Sql { path: std::path::PathBuf, source: rusqlite::Error },
    #[error("risk index {path}: cannot create its directory: {source}")]
    Dir { path: std::path::PathBuf, source: std::io::Error },
    #[error("alert store {at}: cannot encode an alert: {source}")]
    Json { at: String, source: serde_json::Error },
    /// `at` names the server without the password.
    #[error("alert store {at}: {source}")]
    Postgres { at: String, source: postgres::Error },
    #[error("alert store {at}: migration {name}: {source}")]
    Migration { at: String, name: String, source: postgres::Error },
    #[error("alert store: {0}")]
    Config(String),
}

/// Risk accumulated by one object over a time range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectRisk {
    /// The normalized (lowercased) risk object, what ES groups by.
    pub risk_object: String,
    pub risk_object_type: String,
    #[serde(serialize_with = "crate::alert::ser_score")]
    pub total_score: f64,
    /// Risk events.
    pub count: usize,
    /// Distinct detections (search names) that contributed, sorted.
    pub detections: Vec<String>,
    /// Distinct ATT&CK tactics of those risk events, sorted.
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    /// Serialized as epoch seconds, like `_time`.
    #[serde(serialize_with = "crate::alert::ser_secs")]
    pub first_time: Micros,
    #[serde(serialize_with = "crate::alert::ser_secs")]
    pub last_time: Micros,
}

impl ObjectRisk {
    pub fn distinct_detections(&self) -> usize {
        self.detections.len()
    }
}

/// A notable as stored: the columns used for listing, and the full alert JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredNotable {
    pub time: Micros,
    pub search_name: String,
    pub rule_name: String,
    pub rule_title: String,
    pub severity: String,
    pub risk_object: Option<String>,
    pub risk_object_type: Option<String>,
    pub json: serde_json::Value,
}

/// One risk event's columns that the per-object sums read.
pub(crate) struct RiskRow {
    pub object: String,
    pub kind: String,
    pub score: f64,
    pub search: String,
    /// `;`-separated, as stored.
    pub tactics: String,
    pub techniques: String,
    pub time: Micros,
}

/// An alert's columns, as both backends store them (the full alert is the `json` column).
pub(crate) enum Row<'a> {
    Risk { a: &'a crate::RiskEvent, techniques: String, tactics: String, json: String },
    Notable { a: &'a crate::Notable, risk_object: Option<String>, risk_object_type: Option<String>, json: String },
}

/// The columns of `alerts`; `at` names the store in an error.
pub(crate) fn rows<'a>(alerts: &'a [Alert], at: &dyn Fn() -> String) -> Result<Vec<Row<'a>>, StoreError> {
    let mut out = Vec::with_capacity(alerts.len());
    for a in alerts {
        let json = serde_json::to_string(a).map_err(|source| StoreError::Json { at: at(), source })?;
        out.push(match a {
            Alert::Risk(e) => {
                Row::Risk { a: e, techniques: e.annotations.mitre_attack.join(";"), tactics: e.annotations.mitre_tactic.join(";"), json }
            }
            Alert::Notable(n) => {
                // Set on risk incident notables (no detection): the incident rules' throttle key.
                let text = |k: &str| n.fields.get(k).and_then(|v| v.as_text()).map(|c| c.into_owned());
                let incident = n.detection_id.is_empty();
                Row::Notable {
                    a: n,
                    risk_object: if incident { text("risk_object") } else { None },
                    risk_object_type: if incident { text("risk_object_type") } else { None },
                    json,
                }
            }
        });
    }
    Ok(out)
}

/// What a backend answers; everything else is built on these.
pub(crate) trait Backend: Send {
    /// Records alerts; returns how many were new (duplicates by `event_hash` are ignored).
    fn record(&mut self, alerts: &[Alert]) -> Result<usize, StoreError>;
    /// The distinct times of risk events in `from <= time < to`, ascending.
    fn risk_event_times(&self, from: Micros, to: Micros) -> Result<Vec<Micros>, StoreError>;
    /// Risk events in `from <= time < to`, oldest first.
    fn risk_rows(&self, from: Micros, to: Micros) -> Result<Vec<RiskRow>, StoreError>;
    /// Risk events' JSON in `from <= time < to`, oldest first (then in recording order).
    fn risk_events_json(&self, from: Micros, to: Micros) -> Result<Vec<String>, StoreError>;
    /// The same for one normalized object and type, at most `limit`.
    fn risk_events_of(&self, object: &str, kind: &str, from: Micros, to: Micros, limit: i64) -> Result<Vec<String>, StoreError>;
    /// Notables in `from <= time < to`, oldest first.
    fn notables(&self, from: Micros, to: Micros) -> Result<Vec<StoredNotable>, StoreError>;
    /// Whether a notable of `rule_name` for this object exists with `from <= time < to`.
    fn has_incident(&self, rule_name: &str, object: &str, kind: &str, from: Micros, to: Micros) -> Result<bool, StoreError>;
    /// Counts of stored risk events and notables.
    fn counts(&self) -> Result<(usize, usize), StoreError>;
    fn review_list(&self, filter: &NotableFilter, offset: i64, limit: i64) -> Result<(Vec<ReviewedNotable>, usize), StoreError>;
    fn review_get(&self, id: &str) -> Result<Option<ReviewedNotable>, StoreError>;
    fn review_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError>;
    /// In one transaction: reads the notable `id` as it is (no other writer changes it
    /// meanwhile), asks `plan` what to write and writes it. `None` when there is no such notable.
    fn review_update(
        &mut self,
        id: &str,
        plan: &dyn Fn(&ReviewedNotable) -> ReviewPlan,
        user: &str,
        now: Micros,
    ) -> Result<Option<()>, StoreError>;
    /// Held while the incident rules are evaluated, so two processes evaluating at once do
    /// not both raise a throttled incident; released by `false`.
    fn incident_lock(&mut self, held: bool) -> Result<(), StoreError>;
    /// Appends a run record (its JSON) for the detections it ran.
    fn record_run(&mut self, detections: &[String], json: &str) -> Result<(), StoreError>;
    /// The latest run records, newest first, of `detection` if given.
    fn recent_runs(&self, detection: Option<&str>, limit: i64) -> Result<Vec<String>, StoreError>;
    /// Where the store is, for messages (a path, or a server without its password).
    fn describe(&self) -> String;
}

/// The alert store (the risk index and more); see the module documentation.
pub struct RiskStore {
    pub(crate) backend: Box<dyn Backend>,
    /// The SQLite file, when that is the backend.
    path: Option<std::path::PathBuf>,
}

impl RiskStore {
    /// Opens (creating when needed, with its directory) the SQLite risk index at `path`.
    pub fn open(path: &Path) -> Result<RiskStore, StoreError> {
        let backend = crate::sqlite::SqliteBackend::open(path)?;
        Ok(RiskStore { backend: Box::new(backend), path: Some(path.to_path_buf()) })
    }

    /// A risk index that lives for this process only (`--no-risk-db`).
    pub fn in_memory() -> Result<RiskStore, StoreError> {
        Ok(RiskStore { backend: Box::new(crate::sqlite::SqliteBackend::in_memory()?), path: Some(":memory:".into()) })
    }

    /// Connects to the PostgreSQL alert store at `url` (`postgres://user@host/db`, libpq's
    /// `key=value` form too) and brings its schema up to date.
    pub fn connect(url: &str) -> Result<RiskStore, StoreError> {
        Ok(RiskStore { backend: Box::new(crate::postgres::PgBackend::connect(url)?), path: None })
    }

    /// The PostgreSQL store when `postgres` is set, else the SQLite file at `sqlite`: what
    /// `[alerts] postgres` chooses.
    pub fn open_configured(postgres: Option<&str>, sqlite: &Path) -> Result<RiskStore, StoreError> {
        match postgres {
            Some(url) => RiskStore::connect(url),
            None => RiskStore::open(sqlite),
        }
    }

    /// The SQLite file (`None` for PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether several processes share this store (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.path.is_none()
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Records alerts; returns how many were new (duplicates by `event_hash` are ignored).
    pub fn record(&mut self, alerts: &[Alert]) -> Result<usize, StoreError> {
        self.backend.record(alerts)
    }

    /// The distinct times of risk events in `from <= time < to`, ascending.
    pub fn risk_event_times(&self, from: Micros, to: Micros) -> Result<Vec<Micros>, StoreError> {
        self.backend.risk_event_times(from, to)
    }

    /// Risk by normalized object and type for `from <= time < to`, highest total first.
    pub fn risk_by_object(&self, from: Micros, to: Micros) -> Result<Vec<ObjectRisk>, StoreError> {
        let mut by: BTreeMap<(String, String), ObjectRisk> = BTreeMap::new();
        for r in self.backend.risk_rows(from, to)? {
            let o = by.entry((r.object.clone(), r.kind.clone())).or_insert_with(|| ObjectRisk {
                risk_object: r.object,
                risk_object_type: r.kind,
                total_score: 0.0,
                count: 0,
                detections: Vec::new(),
                tactics: Vec::new(),
                techniques: Vec::new(),
                first_time: r.time,
                last_time: r.time,
            });
            o.total_score += r.score;
            o.count += 1;
            o.first_time = o.first_time.min(r.time);
            o.last_time = o.last_time.max(r.time);
            add_distinct(&mut o.detections, std::iter::once(r.search.as_str()));
            add_distinct(&mut o.tactics, r.tactics.split(';'));
            add_distinct(&mut o.techniques, r.techniques.split(';'));
        }
        let mut out: Vec<ObjectRisk> = by.into_values().collect();
        for o in &mut out {
            o.detections.sort();
            o.tactics.sort();
            o.techniques.sort();
        }
        out.sort_by(|a, b| b.total_score.total_cmp(&a.total_score).then_with(|| a.risk_object.cmp(&b.risk_object)));
        Ok(out)
    }

    /// The risk events with `from <= time < to` as their JSON, oldest first (the input of
    /// Correlation detections run over the index, see [`crate::risk_index_event`]).
    pub fn risk_events_json(&self, from: Micros, to: Micros) -> Result<Vec<serde_json::Value>, StoreError> {
        Ok(parse_all(self.backend.risk_events_json(from, to)?))
    }

    /// The risk events (their JSON) of one object (normalized, with its type) with
    /// `from <= time < to`, oldest first, at most `limit`.
    pub fn risk_events_of(
        &self,
        object: &str,
        kind: &str,
        from: Micros,
        to: Micros,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(parse_all(self.backend.risk_events_of(&object.to_lowercase(), kind, from, to, limit)?))
    }

    /// Notables with `from <= time < to`, oldest first; `rules` restricts to those rule names.
    pub fn notables(&self, from: Micros, to: Micros, rules: Option<&[&str]>) -> Result<Vec<StoredNotable>, StoreError> {
        let mut all = self.backend.notables(from, to)?;
        all.retain(|n| rules.is_none_or(|r| r.contains(&n.rule_name.as_str())));
        Ok(all)
    }

    /// Whether a notable of `rule_name` for this object exists with `from <= time < to`.
    pub(crate) fn has_incident(&self, rule_name: &str, object: &str, kind: &str, from: Micros, to: Micros) -> Result<bool, StoreError> {
        self.backend.has_incident(rule_name, object, kind, from, to)
    }

    /// Counts of stored risk events and notables.
    pub fn counts(&self) -> Result<(usize, usize), StoreError> {
        self.backend.counts()
    }

    /// Appends a run record (`vigil serve`'s, as JSON) for the detections it ran.
    pub fn record_run(&mut self, detections: &[String], record: &serde_json::Value) -> Result<(), StoreError> {
        self.backend.record_run(detections, &record.to_string())
    }

    /// The latest run records, newest first, of `detection` if given, at most `limit`.
    pub fn recent_runs(&self, detection: Option<&str>, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        Ok(parse_all(self.backend.recent_runs(detection, i64::try_from(limit).unwrap_or(i64::MAX))?))
    }
}

/// JSON texts parsed; a row this program did not write is skipped rather than failing the run.
fn parse_all(texts: Vec<String>) -> Vec<serde_json::Value> {
    texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect()
}

fn add_distinct<'a>(into: &mut Vec<String>, items: impl Iterator<Item = &'a str>) {
    for i in items {
        let i = i.trim();
        if !i.is_empty() && !into.iter().any(|x| x == i) {
            into.push(i.to_string());
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
