//! The SQLite backend of the alert store: one embedded file (`risk.db`), the single node's
//! default. Two vigil processes may share the file (a hunt while `vigil risk` reads): SQLite
//! serialises their writes, and readers wait for a writer up to the busy timeout.

use crate::alert::Alert;
use crate::review::{Arg, AuditEntry, Dialect, NotableFilter, ReviewPlan, ReviewedNotable};
use crate::store::{rows, Backend, RiskRow, Row, StoreError, StoredNotable};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use vigil_model::Micros;

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

/// Triage state and its audit trail (see `review.rs`).
const REVIEW_SCHEMA: &str = "
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

/// Run records: the single node keeps its own in runs.jsonl; this table is what the store
/// interface offers every backend.
const RUNS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    detections TEXT NOT NULL,              -- JSON list of names
    json TEXT NOT NULL
);
";

pub(crate) struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
}

impl SqliteBackend {
    pub(crate) fn open(path: &Path) -> Result<SqliteBackend, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.to_path_buf(), source })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sql { path: path.to_path_buf(), source })?;
        Self::init(conn, path.to_path_buf())
    }

    pub(crate) fn in_memory() -> Result<SqliteBackend, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sql { path: path.clone(), source })?;
        Self::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<SqliteBackend, StoreError> {
        let store = SqliteBackend { conn, path };
        // Two vigil processes may share the file (a hunt while `vigil risk` reads).
        store.conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| store.err(e))?;
        for schema in [SCHEMA, REVIEW_SCHEMA, RUNS_SCHEMA] {
            store.conn.execute_batch(schema).map_err(|e| store.err(e))?;
        }
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql { path: self.path.clone(), source }
    }

    /// The JSON column of a query, in order.
    fn texts(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(args, |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

fn values(args: &[Arg]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    args.iter()
        .map(|a| match a {
            Arg::Int(i) => V::Integer(*i),
            Arg::Text(t) => V::Text(t.clone()),
        })
        .collect()
}

fn reviewed(r: &rusqlite::Row) -> rusqlite::Result<ReviewedNotable> {
    Ok(ReviewedNotable {
        id: r.get(0)?,
        time: r.get(1)?,
        search_name: r.get(2)?,
        rule_name: r.get(3)?,
        rule_title: r.get(4)?,
        severity: r.get(5)?,
        notable: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or(serde_json::Value::Null),
        status: r.get(7)?,
        owner: r.get(8)?,
        urgency: r.get(9)?,
        updated: r.get::<_, Option<i64>>(10)?.map(|t| t as f64 / 1e6),
    })
}

impl Backend for SqliteBackend {
    fn record(&mut self, alerts: &[Alert]) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let rows = rows(alerts, &|| path.display().to_string())?;
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
            for row in &rows {
                inserted += match row {
                    Row::Risk { a: e, techniques, tactics, json } => risk
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
                            techniques,
                            tactics,
                            json
                        ])
                        .map_err(sql_err)?,
                    Row::Notable { a: n, risk_object, risk_object_type, json } => notable
                        .execute(params![
                            n.event_hash,
                            n.time,
                            n.search_name,
                            n.rule_name,
                            n.rule_title,
                            n.severity.as_str(),
                            risk_object,
                            risk_object_type,
                            json
                        ])
                        .map_err(sql_err)?,
                };
            }
        }
        tx.commit().map_err(sql_err)?;
        Ok(inserted)
    }

    fn risk_event_times(&self, from: Micros, to: Micros) -> Result<Vec<Micros>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT time FROM risk_events WHERE time >= ?1 AND time < ?2 ORDER BY time")
            .map_err(|e| self.err(e))?;
        let times = stmt.query_map(params![from, to], |r| r.get::<_, i64>(0)).map_err(|e| self.err(e))?;
        times.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn risk_rows(&self, from: Micros, to: Micros) -> Result<Vec<RiskRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT normalized_risk_object, risk_object_type, risk_score, search_name, tactics, techniques, time
                 FROM risk_events WHERE time >= ?1 AND time < ?2 ORDER BY time",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(RiskRow {
                    object: r.get(0)?,
                    kind: r.get(1)?,
                    score: r.get(2)?,
                    search: r.get(3)?,
                    tactics: r.get(4)?,
                    techniques: r.get(5)?,
                    time: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn risk_events_json(&self, from: Micros, to: Micros) -> Result<Vec<String>, StoreError> {
        self.texts("SELECT json FROM risk_events WHERE time >= ?1 AND time < ?2 ORDER BY time, id", params![from, to])
    }

    fn risk_events_of(&self, object: &str, kind: &str, from: Micros, to: Micros, limit: i64) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT json FROM risk_events WHERE normalized_risk_object = ?1 AND risk_object_type = ?2
             AND time >= ?3 AND time < ?4 ORDER BY time, id LIMIT ?5",
            params![object, kind, from, to, limit],
        )
    }

    fn notables(&self, from: Micros, to: Micros) -> Result<Vec<StoredNotable>, StoreError> {
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
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn has_incident(&self, rule_name: &str, object: &str, kind: &str, from: Micros, to: Micros) -> Result<bool, StoreError> {
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

    fn counts(&self) -> Result<(usize, usize), StoreError> {
        let count = |table: &str| -> Result<usize, StoreError> {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as usize)
                .map_err(|e| self.err(e))
        };
        Ok((count("risk_events")?, count("notables")?))
    }

    fn review_list(&self, filter: &NotableFilter, offset: i64, limit: i64) -> Result<(Vec<ReviewedNotable>, usize), StoreError> {
        let (clause, args) = crate::review::where_clause(filter, Dialect::Sqlite);
        let mut args = values(&args);
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM notables n LEFT JOIN notable_review r ON r.event_hash = n.event_hash{clause}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        args.extend([rusqlite::types::Value::Integer(limit), rusqlite::types::Value::Integer(offset)]);
        let sql = format!("{}{clause} ORDER BY n.time DESC, n.id DESC LIMIT ? OFFSET ?", Dialect::Sqlite.select());
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params_from_iter(args.iter()), reviewed).map_err(|e| self.err(e))?;
        let page = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))?;
        Ok((page, total.max(0) as usize))
    }

    fn review_get(&self, id: &str) -> Result<Option<ReviewedNotable>, StoreError> {
        let sql = format!("{} WHERE n.event_hash = ?1", Dialect::Sqlite.select());
        self.conn.query_row(&sql, params![id], reviewed).optional().map_err(|e| self.err(e))
    }

    fn review_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT time, user, field, old_value, new_value FROM notable_audit WHERE event_hash = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok(AuditEntry { time: r.get(0)?, user: r.get(1)?, field: r.get(2)?, old_value: r.get(3)?, new_value: r.get(4)? })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn review_update(
        &mut self,
        id: &str,
        plan: &dyn Fn(&ReviewedNotable) -> ReviewPlan,
        user: &str,
        now: Micros,
    ) -> Result<Option<()>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        // IMMEDIATE: the write lock is taken before the notable is read.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql)?;
        let select = format!("{} WHERE n.event_hash = ?1", Dialect::Sqlite.select());
        let Some(current) = tx.query_row(&select, params![id], reviewed).optional().map_err(sql)? else {
            return Ok(None);
        };
        let ReviewPlan { state: (status, owner, urgency), audit } = plan(&current);
        if !audit.is_empty() {
            tx.execute(
                "INSERT INTO notable_review (event_hash, status, owner, urgency, updated) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(event_hash) DO UPDATE SET status = ?2, owner = ?3, urgency = ?4, updated = ?5",
                params![id, status, owner, urgency, now],
            )
            .map_err(sql)?;
            for (field, old, new) in &audit {
                tx.execute(
                    "INSERT INTO notable_audit (event_hash, time, user, field, old_value, new_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, now, user, field, old, new],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(Some(()))
    }

    fn incident_lock(&mut self, _held: bool) -> Result<(), StoreError> {
        // One file, one writer at a time already; the single node evaluates in one thread.
        Ok(())
    }

    fn record_run(&mut self, detections: &[String], json: &str) -> Result<(), StoreError> {
        let names = serde_json::to_string(detections).map_err(|source| StoreError::Json { at: self.describe(), source })?;
        self.conn.execute("INSERT INTO runs (detections, json) VALUES (?1, ?2)", params![names, json]).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn recent_runs(&self, detection: Option<&str>, limit: i64) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT json FROM runs WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM json_each(runs.detections) d WHERE d.value = ?1)
             ORDER BY id DESC LIMIT ?2",
            params![detection, limit],
        )
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
