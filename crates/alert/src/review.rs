//! Triage of notables, as ES's Incident Review keeps it: a status, an owner and an urgency per
//! notable, changed by analysts, each change kept in an audit trail with who and when.
//!
//! Decisions:
//! - The review lives beside the notables in the risk index (its own two tables), keyed by the
//!   notable's `event_hash`, so it survives the notable being found again (deduplicated) and
//!   a notable never reviewed reads as `new`, `unassigned`, with the urgency it was raised with.
//! - The audit trail is append-only: one row per change with the values before and after and
//!   the comment; a change with only a comment is a comment.
//! - Filters run in SQL over the stored JSON (SQLite's `json_each`, PostgreSQL's
//!   `jsonb_array_elements_text` read a field that may be a list), so a page of a large index
//!   costs one indexed query, not a scan in Rust. One builder writes both dialects.
//! - A change is decided from the notable as it is inside the writing transaction (PostgreSQL
//!   locks the notable's row), so two analysts on two API processes do not lose an update.

use crate::store::{RiskStore, StoreError};
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

/// The columns every review query selects, in [`ReviewedNotable`]'s order (`{URGENCY}` is the
/// dialect's expression for the notable's own urgency).
pub(crate) const SELECT: &str = "SELECT n.event_hash, n.time, n.search_name, n.rule_name, n.rule_title, n.severity, n.json,
    COALESCE(r.status, 'new'), COALESCE(r.owner, 'unassigned'),
    COALESCE(r.urgency, {URGENCY}, 'unknown'), r.updated
    FROM notables n LEFT JOIN notable_review r ON r.event_hash = n.event_hash";

/// The two SQL dialects of the review queries.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The notable's own urgency, from its JSON.
    fn own_urgency(self) -> &'static str {
        match self {
            Dialect::Sqlite => "json_extract(n.json, '$.urgency')",
            Dialect::Postgres => "(n.json::jsonb ->> 'urgency')",
        }
    }

    /// [`SELECT`] in this dialect.
    pub(crate) fn select(self) -> String {
        SELECT.replace("{URGENCY}", self.own_urgency())
    }

    /// Some value of the notable's `field` (a value or a list of them) is LIKE the parameter.
    fn field_like(self, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("EXISTS (SELECT 1 FROM json_each(n.json, '$.{field}') j WHERE lower(j.value) LIKE ? ESCAPE '\\')"),
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE jsonb_typeof(n.json::jsonb -> '{field}') \
                 WHEN 'array' THEN n.json::jsonb -> '{field}' ELSE jsonb_build_array(n.json::jsonb -> '{field}') END) j(v) \
                 WHERE lower(j.v) LIKE ? ESCAPE '\\')"
            ),
        }
    }

    /// The notable's JSON text contains the (lowercased) parameter.
    fn text_contains(self) -> &'static str {
        match self {
            Dialect::Sqlite => "instr(lower(n.json), ?) > 0",
            Dialect::Postgres => "strpos(lower(n.json), ?) > 0",
        }
    }

    /// `sql` with this dialect's parameter markers (`?` written, `$1, $2, ...` for PostgreSQL).
    pub(crate) fn params(self, sql: &str) -> String {
        if self == Dialect::Sqlite {
            return sql.to_string();
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            match c {
                '?' => {
                    n += 1;
                    out.push_str(&format!("${n}"));
                }
                c => out.push(c),
            }
        }
        out
    }
}

/// A query parameter of a filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

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

/// The WHERE clause (with `?` markers) and its parameters for a filter.
pub(crate) fn where_clause(f: &NotableFilter, dialect: Dialect) -> (String, Vec<Arg>) {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    if let Some(t) = f.from {
        conds.push("n.time >= ?".into());
        args.push(Arg::Int(t));
    }
    if let Some(t) = f.to {
        conds.push("n.time < ?".into());
        args.push(Arg::Int(t));
    }
    if let Some(d) = &f.detection {
        conds.push("(n.search_name = ? OR n.rule_name = ? OR n.search_name = ?)".into());
        args.extend([Arg::Text(d.clone()), Arg::Text(d.clone()), Arg::Text(format!("ESCU - {d} - Rule"))]);
    }
    let urgency = format!("COALESCE(r.urgency, {}, 'unknown')", dialect.own_urgency());
    let mut one_of = |expr: &str, values: &[String]| {
        if !values.is_empty() {
            conds.push(format!("{expr} IN ({})", vec!["?"; values.len()].join(", ")));
            args.extend(values.iter().map(|v| Arg::Text(v.clone())));
        }
    };
    one_of("COALESCE(r.status, 'new')", &f.status);
    one_of(&urgency, &f.urgency);
    if let Some(o) = &f.owner {
        conds.push("COALESCE(r.owner, 'unassigned') = ?".into());
        args.push(Arg::Text(o.clone()));
    }
    for (field, value) in [("dest", &f.dest), ("user", &f.user)] {
        if let Some(v) = value {
            conds.push(dialect.field_like(field));
            args.push(Arg::Text(like_pattern(v)));
        }
    }
    if let Some(t) = f.text.as_ref().filter(|t| !t.is_empty()) {
        conds.push(dialect.text_contains().into());
        args.push(Arg::Text(t.to_lowercase()));
    }
    let clause = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    (clause, args)
}

/// What a review change writes: the new state (status, owner, urgency override) and the
/// audit entries (field, old, new). Nothing is written when `audit` is empty.
pub(crate) struct ReviewPlan {
    pub state: (String, String, Option<String>),
    pub audit: Vec<(&'static str, Option<String>, Option<String>)>,
}

fn check_one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), ReviewError> {
    match allowed.contains(&value) {
        true => Ok(()),
        false => Err(ReviewError::Invalid(format!("{what} `{value}` is not one of {}", allowed.join(", ")))),
    }
}

/// The writes `change` makes to a notable as it is now.
fn plan(current: &ReviewedNotable, change: &ReviewChange) -> ReviewPlan {
    let mut next = (current.status.clone(), current.owner.clone(), current.urgency.clone());
    let mut audit: Vec<(&'static str, Option<String>, Option<String>)> = Vec::new();
    for (field, new, slot) in
        [("status", &change.status, &mut next.0), ("owner", &change.owner, &mut next.1), ("urgency", &change.urgency, &mut next.2)]
    {
        if let Some(v) = new.as_ref().map(|v| v.trim().to_string()).filter(|v| v != slot) {
            audit.push((field, Some(slot.clone()), Some(v.clone())));
            *slot = v;
        }
    }
    if let Some(c) = change.comment.as_ref().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        audit.push(("comment", None, Some(c.to_string())));
    }
    // The urgency override is kept only when it differs from the notable's own.
    let own = current.notable.get("urgency").and_then(|u| u.as_str()).unwrap_or("unknown");
    let urgency = (next.2 != own).then_some(next.2.clone());
    ReviewPlan { state: (next.0, next.1, urgency), audit }
}

impl RiskStore {
    /// A page of notables matching `filter`, newest first, and how many match in all.
    pub fn review_list(&self, filter: &NotableFilter, offset: usize, limit: usize) -> Result<(Vec<ReviewedNotable>, usize), StoreError> {
        self.backend.review_list(filter, i64::try_from(offset).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX))
    }

    /// One notable with its review state.
    pub fn review_get(&self, id: &str) -> Result<Option<ReviewedNotable>, StoreError> {
        self.backend.review_get(id)
    }

    /// The audit trail of a notable, oldest first.
    pub fn review_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.backend.review_audit(id)
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
        self.backend
            .review_update(id, &|current| plan(current, change), user, now)?
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        self.review_get(id)?.ok_or_else(|| ReviewError::NotFound(id.to_string()))
    }
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;
