//! What a backend of the alert store does (`sqlite.rs`, `postgres.rs`): the primitive
//! queries [`crate::store::RiskStore`] is written on, and the rows an alert is stored as.

use crate::alert::Alert;
use crate::error::StoreError;
use crate::review::{AuditEntry, NotableFilter, ReviewPlan, ReviewedNotable};
use vigil_model::Micros;

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
