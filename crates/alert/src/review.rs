//! Triage of notables, as ES's Incident Review keeps it: a status, an owner and an urgency per
//! notable, changed by analysts, each change kept in an audit trail with who and when.
//!
//! Decisions:
//! - The review lives beside the notables in the risk index (its own two tables), keyed by the
//!   notable's `event_hash`, so it survives the notable being found again (deduplicated) and
//!   a notable never reviewed reads as `new`, `unassigned`, with the urgency it was raised with.
//! - The audit trail is append-only: one row per change with the values before and after and
//!   the comment; a change with only a comment is a comment.
//! - Filters run in SQL over the stored JSON (`json_each` reads a field that may be a list), so
//!   a page of a large index costs one indexed query, not a scan in Rust.

use crate::store::{RiskStore, StoreError};
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::Serialize;
use vigil_model::Micros;

/// ES's notable statuses.
pub const STATUSES: [&str; 5] = ["new", "in_progress", "pending", "resolved", "closed"];
/// The urgency levels (ES's severities).
pub const URGENCIES: [&str; 6] = ["unknown", "informational", "low", "medium", "high", "critical"];
/// The owner of a notable nobody took.
pub const UNASSIGNED: &str = "unassigned";

/// Which notables a listing returns. Empty lists and `None` do not filter.
#[derive(Clone, Debug, Default)]
pub struct NotableFilter {
    pub from: Option<Micros>,
    pub to: Option<Micros>,
    /// Detection name (or the notable's search/rule name).
    pub detection: Option<String>,
    pub urgency: Vec<String>,
    pub status: Vec<String>,
    pub owner: Option<String>,
    /// `dest` / `user` field values, case-insensitive, `*` as a wildcard.
    pub dest: Option<String>,
    pub user: Option<String>,
    /// Substring of the notable's JSON, case-insensitive.
    pub text: Option<String>,
}

/// A notable with its review state.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewedNotable {
    /// The notable's `event_hash`.
    pub id: String,
    #[serde(serialize_with = "crate::alert::ser_secs")]
    pub time: Micros,
    pub search_name: String,
    pub rule_name: String,
    pub rule_title: String,
    pub severity: String,
    pub urgency: String,
    pub status: String,
    pub owner: String,
    /// Last review change (epoch seconds), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<f64>,
    /// The notable as raised (all its fields).
    pub notable: serde_json::Value,
}

/// One entry of the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    #[serde(serialize_with = "crate::alert::ser_secs")]
    pub time: Micros,
    pub user: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A change an analyst asks for; `None` leaves a value as it is.
#[derive(Clone, Debug, Default)]
pub struct ReviewChange {
    pub status: Option<String>,
    pub owner: Option<String>,
    pub urgency: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no notable with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const SELECT: &str = "SELECT n.event_hash, n.time, n.search_name, n.rule_name, n.rule_title, n.severity, n.json,
    COALESCE(r.status, 'new'), COALESCE(r.owner, 'unassigned'),
    COALESCE(r.urgency, json_extract(n.json, '$.urgency'), 'unknown'), r.updated
    FROM notables n LEFT JOIN notable_review r ON r.event_hash = n.event_hash";

/// `*` wildcards to a LIKE pattern (with `\` escaping LIKE's own wildcards).
fn like_pattern(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.to_lowercase().chars() {
        match c {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '*' => out.push('%'),
            c => out.push(c),
        }
    }
    out
}

/// The WHERE clause and its parameters for a filter.
fn where_clause(f: &NotableFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<V> = Vec::new();
    if let Some(t) = f.from {
        conds.push("n.time >= ?".into());
        args.push(V::Integer(t));
    }
    if let Some(t) = f.to {
        conds.push("n.time < ?".into());
        args.push(V::Integer(t));
    }
    if let Some(d) = &f.detection {
        conds.push("(n.search_name = ? OR n.rule_name = ? OR n.search_name = ?)".into());
        args.extend([V::Text(d.clone()), V::Text(d.clone()), V::Text(format!("ESCU - {d} - Rule"))]);
    }
    let mut one_of = |expr: &str, values: &[String]| {
        if !values.is_empty() {
            conds.push(format!("{expr} IN ({})", vec!["?"; values.len()].join(", ")));
            args.extend(values.iter().map(|v| V::Text(v.clone())));
        }
    };
    one_of("COALESCE(r.status, 'new')", &f.status);
    one_of("COALESCE(r.urgency, json_extract(n.json, '$.urgency'), 'unknown')", &f.urgency);
    if let Some(o) = &f.owner {
        conds.push("COALESCE(r.owner, 'unassigned') = ?".into());
        args.push(V::Text(o.clone()));
    }
    for (field, value) in [("dest", &f.dest), ("user", &f.user)] {
        if let Some(v) = value {
            conds.push(format!("EXISTS (SELECT 1 FROM json_each(n.json, '$.{field}') j WHERE lower(j.value) LIKE ? ESCAPE '\\')"));
            args.push(V::Text(like_pattern(v)));
        }
    }
    if let Some(t) = f.text.as_ref().filter(|t| !t.is_empty()) {
        conds.push("instr(lower(n.json), ?) > 0".into());
        args.push(V::Text(t.to_lowercase()));
    }
    let clause = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    (clause, args)
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

fn check_one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), ReviewError> {
    match allowed.contains(&value) {
        true => Ok(()),
        false => Err(ReviewError::Invalid(format!("{what} `{value}` is not one of {}", allowed.join(", ")))),
    }
}

impl RiskStore {
    /// A page of notables matching `filter`, newest first, and how many match in all.
    pub fn review_list(&self, filter: &NotableFilter, offset: usize, limit: usize) -> Result<(Vec<ReviewedNotable>, usize), StoreError> {
        let (clause, mut args) = where_clause(filter);
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM notables n LEFT JOIN notable_review r ON r.event_hash = n.event_hash{clause}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        args.push(rusqlite::types::Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        args.push(rusqlite::types::Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        let sql = format!("{SELECT}{clause} ORDER BY n.time DESC, n.id DESC LIMIT ? OFFSET ?");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params_from_iter(args.iter()), reviewed).map_err(|e| self.err(e))?;
        let page = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))?;
        Ok((page, total.max(0) as usize))
    }

    /// One notable with its review state.
    pub fn review_get(&self, id: &str) -> Result<Option<ReviewedNotable>, StoreError> {
        self.conn.query_row(&format!("{SELECT} WHERE n.event_hash = ?1"), params![id], reviewed).optional().map_err(|e| self.err(e))
    }

    /// The audit trail of a notable, oldest first.
    pub fn review_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
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

    /// Applies an analyst's change at `now`, recording each changed value (and the comment) in
    /// the audit trail; returns the notable as it now is.
    pub fn review_update(&mut self, id: &str, change: &ReviewChange, user: &str, now: Micros) -> Result<ReviewedNotable, ReviewError> {
        if let Some(s) = &change.status {
            check_one_of("status", s, &STATUSES)?;
        }
        if let Some(u) = &change.urgency {
            check_one_of("urgency", u, &URGENCIES)?;
        }
        if change.owner.as_ref().is_some_and(|o| o.trim().is_empty()) {
            return Err(ReviewError::Invalid(format!("owner must not be empty (`{UNASSIGNED}` releases a notable)")));
        }
        let current = self.review_get(id)?.ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        let path = self.path().to_path_buf();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut next = (current.status.clone(), current.owner.clone(), current.urgency.clone());
        let mut changes: Vec<(&str, Option<String>, Option<String>)> = Vec::new();
        for (field, new, slot) in
            [("status", &change.status, &mut next.0), ("owner", &change.owner, &mut next.1), ("urgency", &change.urgency, &mut next.2)]
        {
            if let Some(v) = new.as_ref().map(|v| v.trim().to_string()).filter(|v| v != slot) {
                changes.push((field, Some(slot.clone()), Some(v.clone())));
                *slot = v;
            }
        }
        if let Some(c) = change.comment.as_ref().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            changes.push(("comment", None, Some(c.to_string())));
        }
        if !changes.is_empty() {
            // The urgency override is kept only when it differs from the notable's own.
            let own = current.notable.get("urgency").and_then(|u| u.as_str()).unwrap_or("unknown");
            let urgency = (next.2 != own).then_some(next.2.clone());
            tx.execute(
                "INSERT INTO notable_review (event_hash, status, owner, urgency, updated) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(event_hash) DO UPDATE SET status = ?2, owner = ?3, urgency = ?4, updated = ?5",
                params![id, next.0, next.1, urgency, now],
            )
            .map_err(sql)?;
            for (field, old, new) in &changes {
                tx.execute(
                    "INSERT INTO notable_audit (event_hash, time, user, field, old_value, new_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, now, user, field, old, new],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        self.review_get(id)?.ok_or_else(|| ReviewError::NotFound(id.to_string()))
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
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT json FROM risk_events WHERE normalized_risk_object = ?1 AND risk_object_type = ?2
                 AND time >= ?3 AND time < ?4 ORDER BY time, id LIMIT ?5",
            )
            .map_err(|e| self.err(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows =
            stmt.query_map(params![object.to_lowercase(), kind, from, to, limit], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(v) = serde_json::from_str(&row.map_err(|e| self.err(e))?) {
                out.push(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;
