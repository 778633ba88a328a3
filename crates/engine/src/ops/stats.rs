//! `stats` and `eventstats` over result rows, and the group-by machinery tstats shares.

use crate::agg::{AggInput, AggSpec, AggState};
use crate::error::{ExecError, PlanError};
use crate::eval::{EvalContext, Scope};
use crate::plan::plan_agg;
use crate::predicate::FieldRef;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::sync::Arc;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
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

/// One by-field's contribution to group keys: a single text or a multivalue's items.
pub(crate) enum KeyPart<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// Calls `f` with every key of the cartesian product of `parts` (one key unless a part is
/// multivalue), borrowing the texts.
pub(crate) fn for_each_key<'a>(parts: &[KeyPart<'a>], mut f: impl FnMut(&[&'a str])) {
    let mut key: Vec<&'a str> = parts
        .iter()
        .map(|p| match p {
            KeyPart::One(s) => *s,
            KeyPart::Many(items) => items.first().map(String::as_str).unwrap_or(""),
        })
        .collect();
    let mut idx = vec![0usize; parts.len()];
    loop {
        f(&key);
        // Advance the odometer over the multivalue parts.
        let mut i = parts.len();
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if let KeyPart::Many(items) = &parts[i] {
                if idx[i] + 1 < items.len() {
                    idx[i] += 1;
                    key[i] = &items[idx[i]];
                    break;
                }
                idx[i] = 0;
                key[i] = items.first().map(String::as_str).unwrap_or("");
            }
        }
    }
}

/// Groups and their aggregation states.
///
/// Keys are looked up by borrowed parts (`&[&str]`), so a row of an existing group costs a
/// hash and a comparison, with no allocation; the owned key is built only for a new group.
pub(crate) struct Groups {
    table: HashTable<(Vec<Arc<str>>, Vec<AggState>)>,
    hasher: DefaultHashBuilder,
    /// Key texts shared between groups (the same host or user recurs in many groups), so a
    /// new group allocates only the texts not seen before.
    interner: hashbrown::HashSet<Arc<str>>,
    /// Most groups kept ([`MAX_GROUPS`]); rows for further new groups are dropped and
    /// `overflow` is set, which fails the query (memory stays bounded meanwhile).
    limit: usize,
    pub overflow: bool,
    /// Absorbs rows of groups refused after the limit.
    spill: Vec<AggState>,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Groups({} groups, overflow: {})", self.table.len(), self.overflow)
    }
}

impl Default for Groups {
    fn default() -> Self {
        Groups::with_limit(MAX_GROUPS)
    }
}

/// The shared copy of `text`, added when new.
fn intern(interner: &mut hashbrown::HashSet<Arc<str>>, text: &str) -> Arc<str> {
    if let Some(t) = interner.get(text) {
        return t.clone();
    }
    let t: Arc<str> = Arc::from(text);
    interner.insert(t.clone());
    t
}

fn hash_key<S: AsRef<str>>(hasher: &DefaultHashBuilder, key: &[S]) -> u64 {
    let mut h = hasher.build_hasher();
    for part in key {
        part.as_ref().hash(&mut h);
    }
    h.finish()
}

impl Groups {
    pub fn with_limit(limit: usize) -> Groups {
        Groups {
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            interner: hashbrown::HashSet::new(),
            limit,
            overflow: false,
            spill: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn entry(&mut self, key: Vec<String>, aggs: &[AggSpec]) -> &mut Vec<AggState> {
        let parts: Vec<&str> = key.iter().map(String::as_str).collect();
        self.entry_ref(&parts, aggs)
    }

    /// The states of the group with key `parts`, created if new.
    pub fn entry_ref(&mut self, parts: &[&str], aggs: &[AggSpec]) -> &mut Vec<AggState> {
        let h = hash_key(&self.hasher, parts);
        let eq = |(k, _): &(Vec<Arc<str>>, Vec<AggState>)| {
            k.len() == parts.len() && k.iter().zip(parts).all(|(a, b)| a.as_ref() == *b)
        };
        if self.table.find(h, eq).is_none() {
            let key = parts.iter().map(|p| intern(&mut self.interner, p)).collect();
            return self.insert_new(h, key, aggs);
        }
        match self.table.find_mut(h, eq) {
            Some((_, states)) => states,
            None => &mut self.spill,
        }
    }

    fn insert_new(&mut self, h: u64, key: Vec<Arc<str>>, aggs: &[AggSpec]) -> &mut Vec<AggState> {
        if self.table.len() >= self.limit {
            self.overflow = true;
            self.spill = aggs.iter().map(|a| AggState::new(a.func)).collect();
            return &mut self.spill;
        }
        let hasher = &self.hasher;
        let states = aggs.iter().map(|a| AggState::new(a.func)).collect();
        &mut self.table.insert_unique(h, (key, states), |(k, _)| hash_key(hasher, k)).into_mut().1
    }

    pub fn merge(&mut self, other: Groups, aggs: &[AggSpec]) {
        self.overflow |= other.overflow;
        for (k, states) in other.table {
            let h = hash_key(&self.hasher, &k);
            let full = self.table.len() >= self.limit;
            match self.table.find_mut(h, |(mine, _)| *mine == k) {
                Some((_, mine)) => {
                    for ((m, o), spec) in mine.iter_mut().zip(states).zip(aggs) {
                        m.merge(spec.func, o);
                    }
                }
                None if full => self.overflow = true,
                None => {
                    let k: Vec<Arc<str>> = k.iter().map(|p| intern(&mut self.interner, p)).collect();
                    let hasher = &self.hasher;
                    self.table.insert_unique(h, (k, states), |(k, _)| hash_key(hasher, k));
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
        let mut groups: Vec<(Vec<Arc<str>>, Vec<AggState>)> = self.table.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
            .into_iter()
            .map(|(key, states)| {
                let mut r = Record::with_capacity(key.len() + states.len());
                for (name, v) in by_names.iter().zip(key) {
                    r.push_new(name.clone(), Value::Str(v.to_string()));
                }
                for (spec, st) in aggs.iter().zip(states) {
                    // An aggregate named like a by-field replaces it, as in Splunk.
                    if by_names.contains(&spec.name) {
                        r.set(spec.name.clone(), st.finish(spec.func));
                    } else {
                        r.push_new(spec.name.clone(), st.finish(spec.func));
                    }
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
    pub fn add(&self, groups: &mut Groups, row: &Record, ctx: &EvalContext) {
        let by_vals: Vec<Value> = self.by.iter().map(|b| row.value(b).clone()).collect();
        if key_count(&by_vals).saturating_add(groups.len()) > MAX_GROUPS {
            groups.overflow = true;
            return;
        }
        let Some(keys) = group_keys(&by_vals, None) else { return };
        for key in keys {
            feed(groups.entry(key, &self.aggs), &self.aggs, row, ctx);
        }
    }

    /// The result rows of groups accumulated with [`StatsOp::add`].
    pub fn finish(&self, groups: Groups) -> Vec<Record> {
        if self.by.is_empty() && groups.is_empty() {
            // `stats count` over nothing is one row with count 0, as in Splunk.
            return Groups::default().finish_empty(&self.aggs);
        }
        groups.finish(&self.by, &self.aggs)
    }

    pub fn stats(&self, rows: Vec<Record>, ctx: &EvalContext) -> Result<Vec<Record>, ExecError> {
        {
            let mut groups = Groups::default();
            let mut by_vals = Vec::with_capacity(self.by.len());
            for row in &rows {
                by_vals.clear();
                by_vals.extend(self.by.iter().map(|b| row.value(b).clone()));
                if key_count(&by_vals).saturating_add(groups.len()) > MAX_GROUPS {
                    return Err(too_many_groups(&self.by));
                }
                let Some(keys) = group_keys(&by_vals, None) else { continue };
                for key in keys {
                    feed(groups.entry(key, &self.aggs), &self.aggs, row, ctx);
                }
            }
            if self.by.is_empty() && groups.is_empty() {
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
    fn keys_are_the_cartesian_product() {
        let a = vec!["x".to_string(), "y".to_string()];
        let mut keys = Vec::new();
        for_each_key(&[KeyPart::One("h"), KeyPart::Many(&a), KeyPart::One("z")], |k| {
            keys.push(k.join("|"))
        });
        assert_eq!(keys, ["h|x|z", "h|y|z"]);
        let mut n = 0;
        for_each_key(&[KeyPart::Many(&a), KeyPart::Many(&a)], |_| n += 1);
        assert_eq!(n, 4);
    }
    use crate::agg::AggFunc;

    #[test]
    fn groups_past_the_limit_set_overflow_and_stay_bounded() {
        let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
        let mut g = Groups::with_limit(3);
        for i in 0..10 {
            g.entry(vec![i.to_string()], &aggs)[0].add_row();
        }
        assert!(g.overflow);
        assert_eq!(g.len(), 3);
        // Existing groups still count.
        g.entry(vec!["0".into()], &aggs)[0].add_row();
        let mut other = Groups::with_limit(3);
        other.entry(vec!["new".into()], &aggs);
        let mut fresh = Groups::with_limit(3);
        for k in ["a", "b", "c"] {
            fresh.entry(vec![k.into()], &aggs);
        }
        fresh.merge(other, &aggs);
        assert!(fresh.overflow && fresh.len() == 3);
    }
}
