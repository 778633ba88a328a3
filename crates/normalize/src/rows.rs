//! The rows of one event, built into buffers kept from event to event: a row per mapping
//! and a string per value were most of the cost of normalizing.

use vigil_model::{DatasetRow, Event, Micros, Value};

use crate::expr::{basename, first_token, set_str, FieldValues};
use crate::items::Items;
use crate::knowledge::SPARE_MAX_CAP;
use crate::needs::RowPlan;
use crate::spec::Mapping;
use crate::RowNeeds;
use crate::{Normalizer, Rules};

/// At most this many strings of values that became null are kept for reuse (each of at most
/// [`SPARE_MAX_CAP`] bytes).
const SPARE_STRINGS: usize = 64;

/// Dataset rows of one event ([`Normalizer::normalize_into`]); their buffers serve the next.
#[derive(Debug, Default)]
pub struct Rows {
    /// `[..len]` are the event's rows; the rest are buffers.
    rows: Vec<DatasetRow>,
    len: usize,
    /// Strings of values that became null, for the next string values.
    spare: Vec<String>,
    /// Reused by the expressions.
    items: Items,
}

impl Rows {
    pub fn as_slice(&self) -> &[DatasetRow] {
        &self.rows[..self.len]
    }

    /// Forgets the rows, keeping their buffers.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Moves the rows to the end of `out`.
    pub(crate) fn move_into(mut self, out: &mut Vec<DatasetRow>) {
        self.rows.truncate(self.len);
        out.append(&mut self.rows);
    }
}

/// Appends a row of `width` values to `rows[..len]`, its values left over from earlier rows.
fn next_row<'a>(rows: &'a mut Vec<DatasetRow>, len: &mut usize, dataset: usize, time: Micros, width: usize) -> &'a mut DatasetRow {
    if *len == rows.len() {
        rows.push(DatasetRow { dataset, time, values: Vec::new() });
    }
    *len += 1;
    let row = &mut rows[*len - 1];
    row.dataset = dataset;
    row.time = time;
    row.values.resize(width, Value::Null);
    row
}

/// Sets `slot` to null, keeping its string for a later value.
#[inline]
fn set_null(slot: &mut Value, spare: &mut Vec<String>) {
    // Most columns a mapping leaves null were null in the reused row already.
    if slot.is_null() {
        return;
    }
    if let Value::Str(s) = std::mem::take(slot) {
        if spare.len() < SPARE_STRINGS && s.capacity() <= SPARE_MAX_CAP {
            spare.push(s);
        }
    }
}

/// Sets `slot` to the string `v`, in its own or a spare buffer when there is one.
fn set_str_spare(slot: &mut Value, v: &str, spare: &mut Vec<String>) {
    if !matches!(slot, Value::Str(_)) {
        if let Some(mut s) = spare.pop() {
            s.clear();
            *slot = Value::Str(s);
        }
    }
    set_str(slot, v);
}

impl Normalizer {
    /// [`Normalizer::normalize_filtered`] into `rows` (cleared first), whose buffers are
    /// reused: no allocation per event once they have grown.
    pub fn normalize_into(&self, ev: &Event, wanted: &dyn Fn(usize) -> bool, rows: &mut Rows) {
        self.rows_of(ev, |i| wanted(self.mappings[i].dataset).then_some(RowPlan::All), rows)
    }

    /// The rows of `ev` that `needs` asks for, into `rows` (cleared first): columns it does
    /// not read stay null.
    pub fn normalize_needed(&self, ev: &Event, needs: &RowNeeds, rows: &mut Rows) {
        self.rows_of(ev, |i| needs.plan(i, self.mappings[i].dataset), rows)
    }

    /// The rows of `ev`, each made as `plan` of its mapping's number says (none for `None`).
    fn rows_of<'a>(&self, ev: &Event, plan: impl Fn(usize) -> Option<RowPlan<'a>>, rows: &mut Rows) {
        rows.clear();
        let Some((_, idxs)) = self.by_sourcetype.iter().find(|(st, _)| st.eq_ignore_ascii_case(&ev.sourcetype)) else {
            return;
        };
        for &i in idxs {
            let m = &self.mappings[i];
            if let Some(plan) = plan(i).filter(|_| self.mapping_applies(m, ev)) {
                self.push_row(m, plan, ev, ev.fields.as_slice(), rows);
            }
        }
    }

    /// Whether `ev`'s source and fields meet the conditions of `m` (its sourcetype does).
    pub(crate) fn mapping_applies(&self, m: &Mapping, ev: &Event) -> bool {
        if !m.sources.is_empty() && !m.sources.iter().any(|s| s.eq_ignore_ascii_case(&ev.source)) {
            return false;
        }
        m.conds.iter().all(|(field, vals)| ev.get_all(field).any(|v| vals.iter().any(|w| w.eq_ignore_ascii_case(v))))
    }

    /// Appends the row `m` makes of `ev` as `plan` says, its field values read from `fields`.
    pub(crate) fn push_row<F: FieldValues + ?Sized>(&self, m: &Mapping, plan: RowPlan, ev: &Event, fields: &F, rows: &mut Rows) {
        let Rows { rows, len, spare, items } = rows;
        let width = self.catalog.datasets[m.dataset].fields.len();
        let row = next_row(rows, len, m.dataset, ev.time.unwrap_or(0), width);
        let rules = match plan {
            RowPlan::All => {
                for &c in &m.unmapped {
                    set_null(&mut row.values[c], spare);
                }
                for (c, expr) in &m.fields {
                    expr.eval_into(fields, items, &mut row.values[*c]);
                }
                &self.rules[m.dataset]
            }
            RowPlan::Columns(plan, rules) => {
                for &c in &plan.nulls {
                    set_null(&mut row.values[c], spare);
                }
                for (c, expr) in plan.fields.iter().filter_map(|&i| m.fields.get(i)) {
                    expr.eval_into(fields, items, &mut row.values[*c]);
                }
                rules
            }
        };
        apply_rules(rules, &mut row.values, spare);
        let inherited = [&ev.host, &ev.source, &ev.sourcetype];
        for &(c, which) in &rules.inherited {
            if row.values[c].is_null() && !inherited[which].is_empty() {
                set_str_spare(&mut row.values[c], inherited[which], spare);
            }
        }
    }
}

/// The data model's rules of one dataset, on a row whose mapping has run.
pub(crate) fn apply_rules(r: &Rules, values: &mut [Value], spare: &mut Vec<String>) {
    for &(target, src) in &r.name_from_first_token {
        if values[target].is_null() {
            if let Some(text) = values[src].as_text() {
                let name = basename(first_token(&text)).to_string();
                if !name.is_empty() {
                    values[target] = Value::Str(name);
                }
            }
        }
    }
    for &i in &r.lowercase {
        match &mut values[i] {
            Value::Str(s) if s.is_ascii() => s.make_ascii_lowercase(),
            Value::Str(s) => *s = s.to_lowercase(),
            Value::Multi(v) => v.iter_mut().for_each(|s| *s = s.to_lowercase()),
            _ => {}
        }
    }
    for &i in &r.unknown_when_null {
        if values[i].is_null() {
            set_str_spare(&mut values[i], "unknown", spare);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_strings_and_rows_hold_only_the_new_values() {
        let mut spare = Vec::new();
        let mut slot = Value::str("old");
        set_null(&mut slot, &mut spare);
        assert_eq!((slot.clone(), spare.len()), (Value::Null, 1));
        set_str_spare(&mut slot, "new", &mut spare);
        assert_eq!((slot.clone(), spare.len()), (Value::str("new"), 0));
        let mut slot = Value::Multi(vec!["a".into(), "b".into()]);
        set_str_spare(&mut slot, "c", &mut spare);
        assert_eq!(slot, Value::str("c"));
        let (mut rows, mut len) = (Vec::new(), 0);
        next_row(&mut rows, &mut len, 1, 5, 3).values[2] = Value::str("x");
        len = 0;
        let row = next_row(&mut rows, &mut len, 2, 6, 2);
        assert_eq!((row.dataset, row.time, row.values.len()), (2, 6, 2));
        assert_eq!((rows.len(), len), (1, 1));
    }
}
