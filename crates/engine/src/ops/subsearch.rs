//! `[ subsearch ]` inside search expressions.
//!
//! Splunk runs the subsearch first and splices its results into the outer search as
//! `(f1="v1" f2="v2") OR (...)` (the `format` command). A subsearch over a lookup is static, so
//! it is resolved once at plan time and the outer expression compiles like any other. A
//! subsearch that reads events can only be resolved after the scan: it is allowed in a
//! `search` command after the leading scan, where the outer predicate is compiled at run time.

use crate::error::ExecError;
use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::ops::{Env, StageId};
use vigil_model::{Record, Value};
use vigil_spl::ast::{CompareOp, SearchExpr, SearchValue};

/// Splunk's default `maxout` for subsearches.
const MAX_SUBSEARCH_ROWS: usize = 10_000;

/// Whether an expression contains a subsearch.
pub(crate) fn has_subsearch(e: &SearchExpr) -> bool {
    match e {
        SearchExpr::Subsearch(_) => true,
        SearchExpr::And(items) | SearchExpr::Or(items) => items.iter().any(has_subsearch),
        SearchExpr::Not(inner) => has_subsearch(inner),
        _ => false,
    }
}

/// Splunk's `format`: rows as an OR of ANDs of `field="value"` (a multivalue field as an OR of
/// its values). Fields starting with `_` are left out. No rows match nothing.
pub(crate) fn format_rows(rows: &[Record]) -> SearchExpr {
    let mut alternatives = Vec::new();
    for row in rows.iter().take(MAX_SUBSEARCH_ROWS) {
        let mut terms = Vec::new();
        for (name, value) in row.iter().filter(|(n, _)| !n.starts_with('_')) {
            let cmp = |v: &str| SearchExpr::Compare {
                field: name.to_string(),
                op: CompareOp::Eq,
                value: SearchValue { text: v.to_string(), quoted: true },
            };
            match value {
                Value::Null => {}
                Value::Multi(items) => terms.push(SearchExpr::Or(items.iter().map(|i| cmp(i)).collect())),
                v => terms.push(cmp(&v.to_string())),
            }
        }
        if !terms.is_empty() {
            alternatives.push(SearchExpr::And(terms));
        }
    }
    SearchExpr::Or(alternatives)
}

/// Replaces the remaining subsearches, in traversal order, by `formatted`.
fn splice(e: &SearchExpr, formatted: &mut std::vec::IntoIter<SearchExpr>) -> SearchExpr {
    match e {
        SearchExpr::Subsearch(_) => formatted.next().unwrap_or(SearchExpr::Or(Vec::new())),
        SearchExpr::And(items) => SearchExpr::And(items.iter().map(|i| splice(i, formatted)).collect()),
        SearchExpr::Or(items) => SearchExpr::Or(items.iter().map(|i| splice(i, formatted)).collect()),
        SearchExpr::Not(inner) => SearchExpr::Not(Box::new(splice(inner, formatted))),
        other => other.clone(),
    }
}

/// A `search` command whose subsearches read events: resolved after the scan.
#[derive(Debug)]
pub(crate) struct DynamicSearch {
    expr: SearchExpr,
    /// The event subsearches, in traversal order.
    stages: Vec<StageId>,
}

impl DynamicSearch {
    pub fn new(expr: SearchExpr, stages: Vec<StageId>) -> DynamicSearch {
        DynamicSearch { expr, stages }
    }

    /// The subsearch stages, in traversal order.
    pub fn stages(&self) -> &[StageId] {
        &self.stages
    }

    pub fn apply(&self, rows: Vec<Record>, env: &mut dyn Env) -> Result<Vec<Record>, ExecError> {
        let mut formatted = Vec::with_capacity(self.stages.len());
        for &stage in &self.stages {
            formatted.push(format_rows(&env.run_stage(stage)?));
        }
        let expr = splice(&self.expr, &mut formatted.into_iter());
        let pred = Pred::compile(&expr, &|n| FieldRef::Name(n.to_string()));
        Ok(rows.into_iter().filter(|r| pred.eval(r)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_or_of_ands() {
        let rows: Vec<Record> = vec![
            [("process_id".to_string(), Value::str("4")), ("dest".to_string(), Value::str("h"))].into_iter().collect(),
            [("_time".to_string(), Value::str("1")), ("dest".to_string(), Value::Multi(vec!["a".into(), "b".into()]))]
                .into_iter()
                .collect(),
        ];
        let SearchExpr::Or(alts) = format_rows(&rows) else { panic!() };
        assert_eq!(alts.len(), 2);
        let SearchExpr::And(second) = &alts[1] else { panic!() };
        assert_eq!(second.len(), 1, "_time is left out");
        assert!(matches!(&second[0], SearchExpr::Or(v) if v.len() == 2));
        assert_eq!(format_rows(&[]), SearchExpr::Or(Vec::new()));
    }
}
