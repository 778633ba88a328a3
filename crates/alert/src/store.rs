//! The risk index: risk events and notables in one SQLite file.
//!
//! Deduplication: every alert carries an `event_hash` (detection id + the result's identity,
//! plus the risk object and its type for risk events; see [`crate::identity_hash`]), stored
//! under a UNIQUE constraint, so re-finding the same result in a later run (an overlapping
//! window, the same logs hunted twice) inserts nothing and does not double the risk.

use crate::alert::Alert;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vigil_model::Micros;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("risk index {path}: {source}")]
    Sql { path: PathBuf, source: rusqlite::Error },
    #[error("risk index {path}: cannot create its directory: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("risk index {path}: cannot encode an alert: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS risk_events (
    id INTEGER PRIMARY KEY,
    event_hash TEXT NOT NULL UNIQUE,
    time INTEGER NOT NULL,                 -- microseconds since the epoch, UTC
    search_name TEXT NOT NULL,
    detection_id TEXT NOT NULL,
    risk_object TEXT NOT NULL,
    normalized_risk_object TEXT NOT NULL,
    risk_object_type TEXT NOT NULL,
    risk_score REAL NOT NULL,
    risk_message TEXT NOT NULL,
    techniques TEXT NOT NULL,              -- ';'-separated
    tactics TEXT NOT NULL,                 -- ';'-separated
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_events_time ON risk_events(time);
CREATE TABLE IF NOT EXISTS notables (
    id INTEGER PRIMARY KEY,
    event_hash TEXT NOT NULL UNIQUE,
    time INTEGER NOT NULL,
    search_name TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    severity TEXT NOT NULL,
    risk_object TEXT,                      -- set on risk incident notables
    risk_object_type TEXT,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notables_time ON notables(time);
-- The incident rules' throttle lookup (`has_incident`), once per object over a threshold:
-- without it each lookup walked every notable of the window.
CREATE INDEX IF NOT EXISTS notables_incident ON notables(rule_name, risk_object, risk_object_type, time);
PRAGMA user_version = 1;
";

pub struct RiskStore {
    pub(crate) conn: Connection,
    path: PathBuf,
}

pub(crate) const REVIEW_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notable_review (
    event_hash TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    urgency TEXT,                          -- NULL: the urgency the notable was raised with
    updated INTEGER NOT NULL               -- microseconds since the epoch
);
CREATE TABLE IF NOT EXISTS notable_audit (
    id INTEGER PRIMARY KEY,
    event_hash TEXT NOT NULL,
    time INTEGER NOT NULL,
    user TEXT NOT NULL,
    field TEXT NOT NULL,                   -- status, owner, urgency or comment
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX IF NOT EXISTS notable_audit_hash ON notable_audit(event_hash, id);
";

impl RiskStore {
    /// Opens (creating when needed, with its directory) the risk index at `path`.
    pub fn open(path: &Path) -> Result<RiskStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.to_path_buf(), source })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sql { path: path.to_path_buf(), source })?;
        Self::init(conn, path.to_path_buf())
    }

    /// A risk index that lives for this process only (`--no-risk-db`).
    pub fn in_memory() -> Result<RiskStore, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sql { path: path.clone(), source })?;
        Self::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<RiskStore, StoreError> {
        let store = RiskStore { conn, path };
        // Two vigil processes may share the file (a hunt while `vigil risk` reads).
        store.conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| store.err(e))?;
        store.conn.execute_batch(SCHEMA).map_err(|e| store.err(e))?;
        store.conn.execute_batch(REVIEW_SCHEMA).map_err(|e| store.err(e))?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql { path: self.path.clone(), source }
    }

    /// Records alerts; returns how many were new (duplicates by `event_hash` are ignored).
    pub fn record(&mut self, alerts: &[Alert]) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql_err = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql_err)?;
        let mut inserted = 0;
        {
            let mut risk = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO risk_events (event_hash, time, search_name, detection_id, risk_object,
                     normalized_risk_object, risk_object_type, risk_score, risk_message, techniques, tactics, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(sql_err)?;
            let mut notable = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO notables (event_hash, time, search_name, rule_name, rule_title, severity,
                     risk_object, risk_object_type, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(sql_err)?;
            for a in alerts {
                let json = serde_json::to_string(a).map_err(|source| StoreError::Json { path: path.clone(), source })?;
                inserted += match a {
                    Alert::Risk(e) => risk
                        .execute(params![
                            e.event_hash,
                            e.time,
                            e.search_name,
                            e.detection_id,
                            e.risk_object,
                            e.normalized_risk_object,
                            e.risk_object_type,
                            e.risk_score,
                            e.risk_message,
                            e.annotations.mitre_attack.join(";"),
                            e.annotations.mitre_tactic.join(";"),
                            json
                        ])
                        .map_err(sql_err)?,
                    Alert::Notable(n) => {
                        let text = |k: &str| n.fields.get(k).and_then(|v| v.as_text()).map(|c| c.into_owned());
                        notable
                            .execute(params![
                                n.event_hash,
                                n.time,
                                n.search_name,
                                n.rule_name,
                                n.rule_title,
                                n.severity.as_str(),
                                if n.detection_id.is_empty() { text("risk_object") } else { None },
                                if n.detection_id.is_empty() { text("risk_object_type") } else { None },
                                json
                            ])
                            .map_err(sql_err)?
                    }
                };
            }
        }
        tx.commit().map_err(sql_err)?;
        Ok(inserted)
    }

    /// The distinct times of risk events in `from <= time < to`, ascending.
    pub fn risk_event_times(&self, from: Micros, to: Micros) -> Result<Vec<Micros>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT time FROM risk_events WHERE time >= ?1 AND time < ?2 ORDER BY time")
            .map_err(|e| self.err(e))?;
        let times = stmt.query_map(params![from, to], |r| r.get::<_, i64>(0)).map_err(|e| self.err(e))?;
        times.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Risk by normalized object and type for `from <= time < to`, highest total first.
    pub fn risk_by_object(&self, from: Micros, to: Micros) -> Result<Vec<ObjectRisk>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT normalized_risk_object, risk_object_type, risk_score, search_name, tactics, techniques, time
                 FROM risk_events WHERE time >= ?1 AND time < ?2 ORDER BY time",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut by: BTreeMap<(String, String), ObjectRisk> = BTreeMap::new();
        for row in rows {
            let (object, kind, score, search, tactics, techniques, time) = row.map_err(|e| self.err(e))?;
            let o = by.entry((object.clone(), kind.clone())).or_insert_with(|| ObjectRisk {
                risk_object: object,
                risk_object_type: kind,
                total_score: 0.0,
                count: 0,
                detections: Vec::new(),
                tactics: Vec::new(),
                techniques: Vec::new(),
                first_time: time,
                last_time: time,
            });
            o.total_score += score;
            o.count += 1;
            o.first_time = o.first_time.min(time);
            o.last_time = o.last_time.max(time);
            add_distinct(&mut o.detections, std::iter::once(search.as_str()));
            add_distinct(&mut o.tactics, tactics.split(';'));
            add_distinct(&mut o.techniques, techniques.split(';'));
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
        let mut stmt = self
            .conn
            .prepare_cached("SELECT json FROM risk_events WHERE time >= ?1 AND time < ?2 ORDER BY time, id")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params![from, to], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.err(e))?;
            // A row this program did not write is skipped rather than failing the run.
            if let Ok(v) = serde_json::from_str(&text) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Notables with `from <= time < to`, oldest first; `rules` restricts to those rule names.
    pub fn notables(&self, from: Micros, to: Micros, rules: Option<&[&str]>) -> Result<Vec<StoredNotable>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT time, search_name, rule_name, rule_title, severity, risk_object, risk_object_type, json
                 FROM notables WHERE time >= ?1 AND time < ?2 ORDER BY time, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(StoredNotable {
                    time: r.get(0)?,
                    search_name: r.get(1)?,
                    rule_name: r.get(2)?,
                    rule_title: r.get(3)?,
                    severity: r.get(4)?,
                    risk_object: r.get(5)?,
                    risk_object_type: r.get(6)?,
                    json: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for n in rows {
            let n = n.map_err(|e| self.err(e))?;
            if rules.is_none_or(|r| r.contains(&n.rule_name.as_str())) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Whether a notable of `rule_name` for this object exists with `from <= time < to`.
    pub(crate) fn has_incident(&self, rule_name: &str, object: &str, kind: &str, from: Micros, to: Micros) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM notables WHERE rule_name = ?1 AND risk_object = ?2 AND risk_object_type = ?3
                 AND time >= ?4 AND time < ?5 LIMIT 1",
                params![rule_name, object, kind, from, to],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Counts of stored risk events and notables.
    pub fn counts(&self) -> Result<(usize, usize), StoreError> {
        let count = |table: &str| -> Result<usize, StoreError> {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as usize)
                .map_err(|e| self.err(e))
        };
        Ok((count("risk_events")?, count("notables")?))
    }
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
