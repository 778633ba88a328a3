//! `stats` and `eventstats` over result rows (the groups themselves are in `store::groups`).

use crate::error::{ExecError, PlanError};
use crate::expr::field::FieldRef;
use crate::expr::value::{EvalContext, EvalValue, Scope};
use crate::store::agg::{plan_agg, AggFunc, AggInput, AggSpec, AggState};
use crate::store::groups::{for_each_key, key_count, Groups, KeyPart, MAX_GROUPS};
use crate::store::symbols::Symbols;
use std::collections::HashMap;
use vigil_model::value::{decimal_i64, format_num, DECIMAL_LEN};
use vigil_model::{Micros, Record, Value};
use vigil_spl::ast::{Span, Stats};

#[derive(Debug)]
pub(crate) struct StatsOp {
    pub aggs: Vec<AggSpec>,
    pub by: Vec<String>,
}

/// Whether a group may be created for a key of symbol ids ([`StatsOp::add_if`]), and the key
/// positions that alone decide it, if fewer than all.
pub(crate) type KeyAdmission<'a> = (Option<&'a [usize]>, &'a dyn Fn(&[u32], &Symbols) -> bool);

/// Fills `parts` with the key parts of a result row's by-fields; false when one is null (no
/// fill value): such a row is dropped, as in Splunk.
fn row_key_parts(by: &[String], row: &Record, symbols: &mut Symbols, parts: &mut Vec<KeyPart>) -> bool {
    parts.clear();
    for b in by {
        let part = match row.value(b) {
            Value::Null => return false,
            Value::Multi(items) if items.is_empty() => return false,
            Value::Multi(items) => KeyPart::Many(items.iter().map(|i| symbols.intern(i)).collect()),
            Value::Str(s) => KeyPart::One(symbols.intern(s)),
            Value::Num(n) => KeyPart::One(intern_num(symbols, *n)),
        };
        parts.push(part);
    }
    true
}

/// Interns a number's text (`format_num`'s), an integer's written on the stack.
fn intern_num(symbols: &mut Symbols, n: f64) -> u32 {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e16 {
        symbols.intern(decimal_i64(n as i64, &mut [0; DECIMAL_LEN + 1]))
    } else {
        symbols.intern(&format_num(n))
    }
}

fn row_time(r: &Record) -> Micros {
    r.value("_time").as_num().map(|s| (s * 1e6) as Micros).unwrap_or(0)
}

/// Feeds a field's value (each item of a multivalue) to an aggregation state, reading its
/// texts in place; returns the heap bytes the state grew by.
fn feed_value(st: &mut AggState, func: AggFunc, value: &Value, time: Micros) -> usize {
    match value {
        Value::Null => 0,
        Value::Str(s) => st.add(func, s, time),
        Value::Multi(items) => items.iter().map(|i| st.add(func, i, time)).sum(),
        // min/max of a number (`_time` in most searches): the number its text parses back to.
        Value::Num(n) if n.is_finite() && matches!(st, AggState::Extreme { .. }) => {
            st.add_num(func, *n);
            0
        }
        Value::Num(n) => st.add(func, &format_num(*n), time),
    }
}

/// Feeds one record into a group's states; returns the heap bytes they grew by.
fn feed(states: &mut [AggState], aggs: &[AggSpec], row: &Record, ctx: &EvalContext) -> usize {
    let time = row_time(row);
    let mut grown = 0;
    for (st, spec) in states.iter_mut().zip(aggs) {
        match &spec.input {
            AggInput::Rows => st.add_row(),
            AggInput::Field(FieldRef::Name(n)) => grown += feed_value(st, spec.func, row.value(n), time),
            AggInput::Field(FieldRef::Time) => grown += feed_value(st, spec.func, row.value("_time"), time),
            AggInput::Field(_) => {}
            AggInput::Eval(e) => {
                let v = e.eval(&Scope { row, bound: None, ctx });
                if v.truthy() {
                    st.add_row();
                } else if !matches!(v, EvalValue::Bool(_) | EvalValue::Null) {
                    for item in v.items() {
                        grown += st.add(spec.func, &item, time);
                    }
                }
            }
        }
    }
    grown
}

impl StatsOp {
    pub fn plan(s: &Stats, span: Span) -> Result<StatsOp, PlanError> {
        let by_name = |n: &str| if n == "_time" { FieldRef::Time } else { FieldRef::Name(n.to_string()) };
        let aggs = s.aggregations.iter().map(|a| plan_agg(a, &by_name, span)).collect::<Result<_, _>>()?;
        Ok(StatsOp { aggs, by: s.by.clone() })
    }

    /// The fields the by-clause and aggregations read (`_time` for time-ordered ones).
    pub fn fields_read(&self) -> Option<Vec<String>> {
        let mut out: Vec<String> = self.by.clone();
        for a in &self.aggs {
            match &a.input {
                AggInput::Rows => {}
                AggInput::Field(FieldRef::Name(n)) => out.push(n.clone()),
                AggInput::Field(FieldRef::Time) => out.push("_time".into()),
                AggInput::Field(_) => return None,
                AggInput::Eval(e) => e.fields(&mut out),
            }
        }
        // latest()/earliest() order by `_time`.
        out.push("_time".into());
        Some(out)
    }

    /// Whether a by-field or an aggregation reads `field`.
    pub fn reads_field(&self, field: &str) -> bool {
        self.by.iter().any(|b| b == field)
            || self.aggs.iter().any(|a| match &a.input {
                AggInput::Field(FieldRef::Name(n)) => n == field,
                AggInput::Eval(e) => {
                    let mut f = Vec::new();
                    e.fields(&mut f);
                    f.iter().any(|n| n == field)
                }
                _ => false,
            })
    }

    /// Whether no aggregation reads the clock (so it can run during the scan).
    pub fn is_pure(&self) -> bool {
        self.aggs.iter().all(|a| match &a.input {
            AggInput::Eval(e) => e.is_pure(),
            _ => true,
        })
    }

    /// Adds one row to `groups` (bounded by the groups' limit, which marks overflow).
    /// `parts` is scratch, reused across rows.
    pub fn add(&self, groups: &mut Groups, symbols: &mut Symbols, row: &Record, ctx: &EvalContext, parts: &mut Vec<KeyPart>) {
        self.add_if(groups, symbols, row, ctx, parts, None);
    }

    /// [`StatsOp::add`], creating a group only if `admit` accepts its key (decided by the
    /// key's parts at the positions given, when some; see `plan::keyfilter`).
    pub fn add_if(
        &self,
        groups: &mut Groups,
        symbols: &mut Symbols,
        row: &Record,
        ctx: &EvalContext,
        parts: &mut Vec<KeyPart>,
        admit: Option<KeyAdmission>,
    ) {
        if !row_key_parts(&self.by, row, symbols, parts) {
            return;
        }
        if key_count(parts).saturating_add(groups.len()) > MAX_GROUPS {
            groups.overflow = true;
            return;
        }
        let symbols = &*symbols;
        for_each_key(parts, |key| {
            let states = match &admit {
                None => Some(groups.entry(key, &self.aggs)),
                Some((decides, admits)) => groups.entry_if(key, &self.aggs, *decides, |key| admits(key, symbols)),
            };
            let grown = states.map_or(0, |states| feed(states, &self.aggs, row, ctx));
            groups.grew(grown);
        });
    }

    /// The result rows of groups accumulated with [`StatsOp::add`].
    pub fn finish(&self, groups: Groups, symbols: &Symbols) -> Result<Vec<Record>, ExecError> {
        if self.by.is_empty() && groups.is_empty() {
            // `stats count` over nothing is one row with count 0, as in Splunk.
            return Ok(Groups::finish_empty(&self.aggs));
        }
        groups.finish(symbols, &self.by, &self.aggs)
    }

    /// Aggregates rows, by reference or by value (owned rows are dropped as they are read, so
    /// a large input table is not held beside its groups).
    pub fn stats<R: std::borrow::Borrow<Record>>(
        &self,
        rows: impl IntoIterator<Item = R>,
        ctx: &EvalContext,
    ) -> Result<Vec<Record>, ExecError> {
        let mut groups = Groups::default();
        let mut symbols = Symbols::default();
        let mut parts = Vec::new();
        for row in rows {
            let row = row.borrow();
            if !row_key_parts(&self.by, row, &mut symbols, &mut parts) {
                continue;
            }
            if key_count(&parts).saturating_add(groups.len()) > MAX_GROUPS {
                return Err(too_many_groups(&self.by));
            }
            for_each_key(&parts, |key| {
                let grown = feed(groups.entry(key, &self.aggs), &self.aggs, row, ctx);
                groups.grew(grown);
            });
        }
        self.finish(groups, &symbols)
    }

    pub fn eventstats(&self, mut rows: Vec<Record>, ctx: &EvalContext) -> Result<Vec<Record>, ExecError> {
        // The summary is computed over the rows in place: a copy of a large table doubled
        // its memory.
        let summary = self.stats(rows.iter(), ctx)?;
        let index = self.summary_index(&summary);
        for row in &mut rows {
            self.annotate(row, &summary, &index);
        }
        Ok(rows)
    }

    /// Positions of eventstats summary rows by their by-field texts.
    pub(crate) fn summary_index(&self, summary: &[Record]) -> HashMap<Vec<String>, usize> {
        summary
            .iter()
            .enumerate()
            .map(|(i, r)| (self.by.iter().map(|b| r.value(b).as_text().unwrap_or_default().into_owned()).collect(), i))
            .collect()
    }

    /// Adds the eventstats aggregates of the row's group to the row.
    pub(crate) fn annotate(&self, row: &mut Record, summary: &[Record], index: &HashMap<Vec<String>, usize>) {
        let key: Option<Vec<String>> = self.by.iter().map(|b| row.value(b).as_text().map(|s| s.into_owned())).collect();
        let Some(s) = key.and_then(|k| index.get(&k)).and_then(|&i| summary.get(i)) else { return };
        for spec in &self.aggs {
            row.set(spec.name.clone(), s.value(&spec.name).clone());
        }
    }
}

pub(crate) fn too_many_groups(by: &[String]) -> ExecError {
    ExecError(format!(
        "stats: more than {MAX_GROUPS} groups by {}; narrow the search or group by fewer or less distinct fields",
        by.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_intern_as_their_formatted_text() {
        let mut symbols = Symbols::default();
        for n in [0.0, -0.0, 7.0, -12.0, 1e15, -9_999_999_999_999_998.0, 1e16, 1.5, -0.25, 1e17, f64::NAN, f64::INFINITY] {
            let id = intern_num(&mut symbols, n);
            assert_eq!(symbols.text(id), format_num(n), "{n}");
        }
    }
}
