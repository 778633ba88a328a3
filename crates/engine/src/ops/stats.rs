//! `stats` and `eventstats` over result rows, and the group-by machinery tstats shares.

use crate::agg::{AggInput, AggSpec, AggState};
use crate::error::{ExecError, PlanError};
use crate::eval::{EvalContext, Scope};
use crate::plan::plan_agg;
use crate::predicate::FieldRef;
use std::collections::HashMap;
use vigil_model::{Micros, Record, Value};
use vigil_spl::ast::{Span, Stats};

#[derive(Debug)]
pub(crate) struct StatsOp {
    pub aggs: Vec<AggSpec>,
    pub by: Vec<String>,
}

/// Most groups one `stats`/`eventstats`/`tstats` may build, and most keys one row may put
/// itself in (multivalue by-fields multiply): beyond this a search fails with a clear error
/// instead of exhausting memory.
pub const MAX_GROUPS: usize = 5_000_000;

/// How many group keys [`group_keys`] would make for these by-values (saturating).
pub(crate) fn key_count(values: &[Value]) -> usize {
    values.iter().fold(1usize, |n, v| match v {
        Value::Multi(items) => n.saturating_mul(items.len()),
        _ => n,
    })
}

/// Group keys for one row: the cartesian product of the by-fields' items (a multivalue
/// by-field puts the row in one group per item). `None` when a by-field is null and there is
/// no fill value, which drops the row, as Splunk does.
pub(crate) fn group_keys(values: &[Value], fill: Option<&str>) -> Option<Vec<Vec<String>>> {
    if key_count(values) > MAX_GROUPS {
        return None;
    }
    let mut keys: Vec<Vec<String>> = vec![Vec::with_capacity(values.len())];
    for v in values {
        let items: Vec<String> = match v {
            Value::Null => vec![fill?.to_string()],
            v => v.items().into_iter().map(|s| s.into_owned()).collect(),
        };
        if items.len() == 1 {
            for k in &mut keys {
                k.push(items[0].clone());
            }
        } else {
            keys = keys
                .into_iter()
                .flat_map(|k| {
                    items.iter().map(move |i| {
                        let mut k = k.clone();
                        k.push(i.clone());
                        k
                    })
                })
                .collect();
        }
    }
    Some(keys)
}

/// Groups and their aggregation states, in first-seen order of keys.
#[derive(Debug)]
pub(crate) struct Groups {
    pub map: HashMap<Vec<String>, Vec<AggState>>,
    /// Most groups kept ([`MAX_GROUPS`]); rows for further new groups are dropped and
    /// `overflow` is set, which fails the query (memory stays bounded meanwhile).
    limit: usize,
    pub overflow: bool,
    /// Absorbs rows of groups refused after the limit.
    spill: Vec<AggState>,
}

impl Default for Groups {
    fn default() -> Self {
        Groups::with_limit(MAX_GROUPS)
    }
}

impl Groups {
    pub fn with_limit(limit: usize) -> Groups {
        Groups { map: HashMap::new(), limit, overflow: false, spill: Vec::new() }
    }

    pub fn entry(&mut self, key: Vec<String>, aggs: &[AggSpec]) -> &mut Vec<AggState> {
        if self.map.len() >= self.limit && !self.map.contains_key(&key) {
            self.overflow = true;
            self.spill = aggs.iter().map(|a| AggState::new(a.func)).collect();
            return &mut self.spill;
        }
        self.map.entry(key).or_insert_with(|| aggs.iter().map(|a| AggState::new(a.func)).collect())
    }

    pub fn merge(&mut self, other: Groups, aggs: &[AggSpec]) {
        self.overflow |= other.overflow;
        for (k, states) in other.map {
            let full = self.map.len() >= self.limit;
            match self.map.get_mut(&k) {
                Some(mine) => {
                    for ((m, o), spec) in mine.iter_mut().zip(states).zip(aggs) {
                        m.merge(spec.func, o);
                    }
                }
                None if full => self.overflow = true,
                None => {
                    self.map.insert(k, states);
                }
            }
        }
    }

    /// The single row an aggregation without by-fields yields over no input.
    pub fn finish_empty(mut self, aggs: &[AggSpec]) -> Vec<Record> {
        self.entry(Vec::new(), aggs);
        self.finish(&[], aggs)
    }

    /// Result rows sorted by key (Splunk sorts stats output by the by-fields).
    pub fn finish(self, by_names: &[String], aggs: &[AggSpec]) -> Vec<Record> {
        let mut groups: Vec<(Vec<String>, Vec<AggState>)> = self.map.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
            .into_iter()
            .map(|(key, states)| {
                let mut r = Record::with_capacity(key.len() + states.len());
                for (name, v) in by_names.iter().zip(key) {
                    r.set(name.clone(), Value::Str(v));
                }
                for (spec, st) in aggs.iter().zip(states) {
                    r.set(spec.name.clone(), st.finish(spec.func));
                }
                r
            })
            .collect()
    }
}

fn row_time(r: &Record) -> Micros {
    r.value("_time").as_num().map(|s| (s * 1e6) as Micros).unwrap_or(0)
}

/// Feeds one record into a group's states.
fn feed(states: &mut [AggState], aggs: &[AggSpec], row: &Record, ctx: &EvalContext) {
    let time = row_time(row);
    for (st, spec) in states.iter_mut().zip(aggs) {
        match &spec.input {
            AggInput::Rows => st.add_row(),
            AggInput::Field(FieldRef::Name(n)) => {
                for item in row.value(n).items() {
                    st.add(spec.func, &item, time);
                }
            }
            AggInput::Field(FieldRef::Time) => {
                for item in row.value("_time").items() {
                    st.add(spec.func, &item, time);
                }
            }
            AggInput::Field(_) => {}
            AggInput::Eval(e) => {
                let v = e.eval(&Scope { row, bound: None, ctx });
                if v.truthy() {
                    st.add_row();
                } else if !matches!(v, crate::eval::EvalValue::Bool(_) | crate::eval::EvalValue::Null) {
                    for item in v.items() {
                        st.add(spec.func, &item, time);
                    }
                }
            }
        }
    }
}

impl StatsOp {
    pub fn plan(s: &Stats, span: Span) -> Result<StatsOp, PlanError> {
        let by_name = |n: &str| if n == "_time" { FieldRef::Time } else { FieldRef::Name(n.to_string()) };
        let aggs = s.aggregations.iter().map(|a| plan_agg(a, &by_name, span)).collect::<Result<_, _>>()?;
        Ok(StatsOp { aggs, by: s.by.clone() })
    }

    pub fn stats(&self, rows: Vec<Record>, ctx: &EvalContext) -> Result<Vec<Record>, ExecError> {
        {
            let mut groups = Groups::default();
            let mut by_vals = Vec::with_capacity(self.by.len());
            for row in &rows {
                by_vals.clear();
                by_vals.extend(self.by.iter().map(|b| row.value(b).clone()));
                if key_count(&by_vals).saturating_add(groups.map.len()) > MAX_GROUPS {
                    return Err(too_many_groups(&self.by));
                }
                let Some(keys) = group_keys(&by_vals, None) else { continue };
                for key in keys {
                    feed(groups.entry(key, &self.aggs), &self.aggs, row, ctx);
                }
            }
            if self.by.is_empty() && groups.map.is_empty() {
                // `stats count` over nothing is one row with count 0, as in Splunk.
                return Ok(Groups::default().finish_empty(&self.aggs));
            }
            Ok(groups.finish(&self.by, &self.aggs))
        }
    }

    pub fn eventstats(&self, mut rows: Vec<Record>, ctx: &EvalContext) -> Result<Vec<Record>, ExecError> {
        let summary = self.stats(rows.clone(), ctx)?;
        let index: HashMap<Vec<String>, &Record> = summary
            .iter()
            .map(|r| (self.by.iter().map(|b| r.value(b).as_text().unwrap_or_default().into_owned()).collect(), r))
            .collect();
        for row in &mut rows {
            let key: Option<Vec<String>> =
                self.by.iter().map(|b| row.value(b).as_text().map(|s| s.into_owned())).collect();
            let Some(key) = key else { continue };
            if let Some(s) = index.get(&key) {
                for spec in &self.aggs {
                    row.set(spec.name.clone(), s.value(&spec.name).clone());
                }
            }
        }
        Ok(rows)
    }
}

fn too_many_groups(by: &[String]) -> ExecError {
    ExecError(format!(
        "stats: more than {MAX_GROUPS} groups by {}; narrow the search or group by fewer or less distinct fields",
        by.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agg::AggFunc;

    #[test]
    fn groups_past_the_limit_set_overflow_and_stay_bounded() {
        let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
        let mut g = Groups::with_limit(3);
        for i in 0..10 {
            g.entry(vec![i.to_string()], &aggs)[0].add_row();
        }
        assert!(g.overflow);
        assert_eq!(g.map.len(), 3);
        // Existing groups still count.
        g.entry(vec!["0".into()], &aggs)[0].add_row();
        let mut other = Groups::with_limit(3);
        other.entry(vec!["new".into()], &aggs);
        let mut fresh = Groups::with_limit(3);
        for k in ["a", "b", "c"] {
            fresh.entry(vec![k.into()], &aggs);
        }
        fresh.merge(other, &aggs);
        assert!(fresh.overflow && fresh.map.len() == 3);
    }
}
