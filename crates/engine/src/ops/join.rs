//! `join`: combines rows with a subsearch's rows on equal join fields.

use crate::error::{ExecError, PlanError};
use crate::ops::join_keys::{row_key, KeySet};
use crate::ops::{Env, StageId};
use crate::store::row_store::RowStore;
use std::borrow::Borrow;
use std::collections::HashMap;
use vigil_model::Record;
use vigil_spl::ast::{Join, Pipeline, Span};

/// Most rows one join may produce (memory bound; the same as stats' group limit).
pub const MAX_JOIN_ROWS: usize = crate::store::groups::MAX_GROUPS;

#[derive(Debug)]
pub(crate) struct JoinOp {
    pub(crate) fields: Vec<String>,
    /// `type=outer`/`left` keeps rows without a match.
    keep_unmatched: bool,
    /// Matches used per row; 0 means all (`max=0`). Splunk's default is 1.
    max: usize,
    /// Subsearch fields replace the row's fields of the same name (default true).
    overwrite: bool,
    /// The subsearch's stage.
    pub(crate) sub: StageId,
}

impl JoinOp {
    /// Plans a join; `plan_sub` plans its subsearch into the query's stages.
    pub fn plan(j: &Join, span: Span, plan_sub: impl FnOnce(&Pipeline) -> Result<StageId, PlanError>) -> Result<JoinOp, PlanError> {
        let mut keep_unmatched = false;
        let mut max = 1;
        let mut overwrite = true;
        for (k, v) in &j.options {
            match k.to_ascii_lowercase().as_str() {
                "type" => match v.to_ascii_lowercase().as_str() {
                    "inner" => keep_unmatched = false,
                    "outer" | "left" => keep_unmatched = true,
                    other => return Err(PlanError::invalid(format!("unknown join type `{other}`"), span)),
                },
                "max" => max = v.parse().map_err(|_| PlanError::invalid(format!("bad join max `{v}`"), span))?,
                "overwrite" => overwrite = is_true(v),
                // usetime/earlier only matter with time-ordered joins; ignored like Splunk when usetime=false.
                "usetime" | "earlier" => {}
                other => return Err(PlanError::invalid(format!("unknown join option `{other}`"), span)),
            }
        }
        if j.fields.is_empty() {
            return Err(PlanError::Unsupported { message: "join without join fields is not supported".into(), span });
        }
        let sub = plan_sub(&j.subsearch)?;
        Ok(JoinOp { fields: j.fields.clone(), keep_unmatched, max, overwrite, sub })
    }

    pub fn keeps_unmatched(&self) -> bool {
        self.keep_unmatched
    }

    /// Matches used per row (0: all).
    pub fn max(&self) -> usize {
        self.max
    }

    pub fn apply(&self, rows: Vec<Record>, env: &mut dyn Env) -> Result<Vec<Record>, ExecError> {
        // The subsearch may have run already, to filter the scan (see
        // `physical::semi_join_first`); what it wrote to disk comes back only where some row
        // here has the same key.
        let sub_rows = match env.take_precomputed(self.sub) {
            Some(store) => self.precomputed_rows(store, || KeySet::new(&self.fields, &rows))?,
            None => env.run_join_subsearch(self.sub, &self.fields, &rows, self.max)?,
        };
        let index = self.index(sub_rows);
        // Count the result first: `max=0` over few distinct keys multiplies rows.
        let total = rows.iter().fold(0usize, |t, row| t.saturating_add(self.rows_for(&index, row_key(&self.fields, row).as_ref())));
        self.check_total(total)?;
        Ok(self.join_rows(&index, rows))
    }

    /// The rows of a subsearch run ahead (see `physical::semi_join_first`): what it wrote to
    /// disk comes back only where an outer row has the same key (`keys`, asked for then).
    pub(crate) fn precomputed_rows<K: Borrow<KeySet>>(&self, store: RowStore, keys: impl FnOnce() -> K) -> Result<Vec<Record>, ExecError> {
        if store.is_spilled() {
            let keys = keys();
            store.into_rows_where(|r| keys.borrow().has_row(&self.fields, r))
        } else {
            store.into_rows_where(|_| true)
        }
    }

    /// The subsearch's rows by join key.
    pub(crate) fn index(&self, sub_rows: Vec<Record>) -> JoinIndex {
        let mut by_key: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
        for (i, r) in sub_rows.iter().enumerate() {
            if let Some(k) = row_key(&self.fields, r) {
                by_key.entry(k).or_default().push(i);
            }
        }
        JoinIndex { rows: sub_rows, by_key }
    }

    /// How many result rows an outer row with this key (`None`: it lacks a join field) makes.
    pub(crate) fn rows_for(&self, index: &JoinIndex, key: Option<&Vec<String>>) -> usize {
        match key.and_then(|k| index.by_key.get(k)) {
            Some(subs) if self.max == 0 => subs.len(),
            Some(subs) => self.max.min(subs.len()),
            None => usize::from(self.keep_unmatched),
        }
    }

    /// Fails when a join would make more rows than [`MAX_JOIN_ROWS`].
    pub(crate) fn check_total(&self, total: usize) -> Result<(), ExecError> {
        if total > MAX_JOIN_ROWS {
            return Err(ExecError(format!(
                "join: {total} result rows is over the limit of {MAX_JOIN_ROWS}; join on more fields or set max=N"
            )));
        }
        Ok(())
    }

    /// Joins `rows` (in order) with the indexed subsearch rows.
    pub(crate) fn join_rows(&self, index: &JoinIndex, rows: Vec<Record>) -> Vec<Record> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key = row_key(&self.fields, &row);
            match key.as_ref().and_then(|k| index.by_key.get(k)) {
                Some(subs) => {
                    let n = if self.max == 0 { subs.len() } else { self.max.min(subs.len()) };
                    for &i in &subs[..n] {
                        let mut merged = row.clone();
                        for (name, v) in index.rows[i].iter() {
                            if self.overwrite || merged.get(name).is_none() {
                                merged.set(name.to_string(), v.clone());
                            }
                        }
                        out.push(merged);
                    }
                }
                None if self.keep_unmatched => out.push(row),
                None => {}
            }
        }
        out
    }
}

/// A join subsearch's rows, indexed by join key.
pub(crate) struct JoinIndex {
    rows: Vec<Record>,
    by_key: HashMap<Vec<String>, Vec<usize>>,
}

pub(crate) fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "t" | "1" | "yes")
}
