//! The durable outbox: one row per (action, alert), in `<data_dir>/outbox.db` (SQLite, WAL).
//!
//! Decisions:
//! - An alert is put in the outbox before it is recorded in the risk index, keyed by (action,
//!   `event_hash`) with `INSERT OR IGNORE`: a run repeated after a crash finds its alerts
//!   there already, so nothing is queued twice and nothing recorded misses its actions.
//! - Delivered rows keep their key (payload dropped) for [`KEEP_SENT`], so a repeated run does
//!   not deliver again; then they are pruned.
//! - Rows are delivered per action in id order. A failed attempt counts and waits for its
//!   backoff; past `max_attempts` the row is marked `failed` (kept with its last error).
//! - Delivery is at least once: a crash between a delivery and its `sent` mark delivers it
//!   again after restart (receivers can deduplicate on `event_hash`).

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use vigil_model::Micros;

/// How long delivered rows keep their key.
pub const KEEP_SENT: Micros = 7 * 24 * 3_600_000_000;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    event_hash TEXT NOT NULL,
    payload TEXT NOT NULL,                 -- the alert's JSON; '' once sent
    state TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL DEFAULT 0,    -- wall clock, micros
    last_error TEXT,
    created INTEGER NOT NULL,
    UNIQUE (action, event_hash)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(action, state, id);
";

/// One queued delivery.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub payload: String,
    pub attempts: u32,
    pub next_at: Micros,
}

/// Counts for one action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub pending: u64,
    pub failed: u64,
}

pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

impl Outbox {
    pub fn open(path: &Path) -> Result<Outbox, String> {
        let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = Connection::open(path).map_err(err)?;
        // The scheduler queues while the action threads deliver: each has its connection.
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Outbox { conn, path: path.to_path_buf() })
    }

    fn err(&self, e: rusqlite::Error) -> String {
        format!("{}: {e}", self.path.display())
    }

    /// Queues `(action, event_hash, payload)` rows in one transaction; returns how many were
    /// new.
    pub fn enqueue(&mut self, rows: &[(&str, &str, String)], now: Micros) -> Result<usize, String> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let tx = self.conn.transaction().map_err(err)?;
        let mut added = 0;
        {
            let mut stmt = tx
                .prepare_cached("INSERT OR IGNORE INTO outbox (action, event_hash, payload, created) VALUES (?1, ?2, ?3, ?4)")
                .map_err(err)?;
            for (action, hash, payload) in rows {
                added += stmt.execute(params![action, hash, payload, now]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(added)
    }

    /// The first pending rows of `action` in id order, at most `limit`.
    pub fn head(&self, action: &str, limit: usize) -> Result<Vec<Row>, String> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, payload, attempts, next_at FROM outbox WHERE action = ?1 AND state = 'pending' ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![action, limit as i64], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    payload: r.get(1)?,
                    attempts: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
                    next_at: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub fn mark_sent(&mut self, ids: &[i64]) -> Result<(), String> {
        self.each(ids, "UPDATE outbox SET state = 'sent', payload = '', last_error = NULL WHERE id = ?1", &[])
    }

    /// Records a failed attempt: retried at `next_at`, or given up (`failed`) when `give_up`.
    pub fn mark_attempt_failed(&mut self, ids: &[i64], error: &str, next_at: Micros, give_up: bool) -> Result<(), String> {
        let state = if give_up { "failed" } else { "pending" };
        self.each(
            ids,
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3, state = ?4 WHERE id = ?1",
            &[&error, &next_at, &state],
        )
    }

    fn each(&mut self, ids: &[i64], sql: &str, extra: &[&dyn rusqlite::ToSql]) -> Result<(), String> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx.prepare_cached(sql).map_err(err)?;
            for id in ids {
                let mut p: Vec<&dyn rusqlite::ToSql> = vec![id];
                p.extend_from_slice(extra);
                stmt.execute(p.as_slice()).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Pending and given-up rows of `action`.
    pub fn depth(&self, action: &str) -> Result<Depth, String> {
        let count = |state: &str| -> Result<u64, String> {
            self.conn
                .query_row("SELECT COUNT(*) FROM outbox WHERE action = ?1 AND state = ?2", params![action, state], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
                .map_err(|e| self.err(e))
        };
        Ok(Depth { pending: count("pending")?, failed: count("failed")? })
    }

    /// The last error of the oldest given-up or retrying row of `action`, if any.
    pub fn last_error(&self, action: &str) -> Result<Option<String>, String> {
        self.conn
            .query_row(
                "SELECT last_error FROM outbox WHERE action = ?1 AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                params![action],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Forgets delivered rows older than `before`.
    pub fn prune_sent(&mut self, before: Micros) -> Result<usize, String> {
        self.conn.execute("DELETE FROM outbox WHERE state = 'sent' AND created < ?1", params![before]).map_err(|e| self.err(e))
    }

    /// Actions with pending rows (those no longer configured are reported at start).
    pub fn actions_pending(&self) -> Result<Vec<String>, String> {
        let mut stmt = self.conn.prepare("SELECT DISTINCT action FROM outbox WHERE state = 'pending'").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_deliver_retry_give_up_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let mut o = Outbox::open(&path).unwrap();
        let rows = [("w", "h1", "{\"a\":1}".to_string()), ("w", "h2", "{\"a\":2}".to_string()), ("f", "h1", "{\"a\":1}".to_string())];
        assert_eq!(o.enqueue(&rows, 5).unwrap(), 3);
        assert_eq!(o.enqueue(&rows, 6).unwrap(), 0, "a repeated run queues nothing twice");
        let head = o.head("w", 10).unwrap();
        assert_eq!(head.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>(), ["{\"a\":1}", "{\"a\":2}"]);
        o.mark_attempt_failed(&[head[0].id], "HTTP 500", 99, false).unwrap();
        drop(o);
        let mut o = Outbox::open(&path).unwrap();
        let head = o.head("w", 1).unwrap();
        assert_eq!((head[0].attempts, head[0].next_at), (1, 99));
        assert_eq!(o.last_error("w").unwrap().as_deref(), Some("HTTP 500"));
        o.mark_sent(&[head[0].id]).unwrap();
        let next = o.head("w", 10).unwrap();
        o.mark_attempt_failed(&[next[0].id], "refused", 0, true).unwrap();
        assert_eq!(o.depth("w").unwrap(), Depth { pending: 0, failed: 1 });
        assert_eq!(o.enqueue(&rows[..1], 7).unwrap(), 0, "a delivered alert is not queued again");
        assert_eq!(o.actions_pending().unwrap(), ["f"]);
        assert_eq!(o.prune_sent(100).unwrap(), 1);
    }
}
