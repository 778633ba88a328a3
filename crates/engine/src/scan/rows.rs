//! Rows of the scan: dataset columns as group-key parts, raw events as records, and a
//! finished scan's groups or events as result rows.

use super::ScanAcc;
use crate::error::ExecError;
use crate::expr::event_names::NameIndex;
use crate::expr::field::FieldRef;
use crate::plan::{EventScan, Scan};
use crate::store::agg::{AggInput, AggSpec, AggState};
use crate::store::groups::{Groups, KeyPart};
use crate::store::symbols::Symbols;
use vigil_model::value::{decimal_i64, format_num, DECIMAL_LEN};
use vigil_model::{DatasetRow, Event, Micros, Record, Value};

/// A dataset column as a key part, interning its text once per row.
pub(super) fn column_part(row: &DatasetRow, i: usize, cache: &mut [u32], symbols: &mut Symbols) -> Option<KeyPart> {
    match row.values.get(i)? {
        Value::Multi(items) if items.is_empty() => None,
        Value::Multi(items) => Some(KeyPart::Many(items.iter().map(|s| symbols.intern(s)).collect())),
        Value::Null => None,
        v => {
            let slot = cache.get_mut(i)?;
            if *slot == u32::MAX {
                *slot = match v {
                    Value::Num(n) => symbols.intern(&format_num(*n)),
                    Value::Str(s) => symbols.intern(s),
                    _ => return None,
                };
            }
            Some(KeyPart::One(*slot))
        }
    }
}

/// Feeds a row's input to one aggregation state; returns the heap bytes it grew by.
pub(super) fn feed_row_agg(st: &mut AggState, spec: &AggSpec, row: &DatasetRow, secs: i64) -> usize {
    let time: Micros = row.time;
    match &spec.input {
        AggInput::Rows => {
            st.add_row();
            0
        }
        // min/max(_time), in most ESCU searches: the number its text would parse to.
        AggInput::Field(FieldRef::Time) if matches!(st, AggState::Extreme { .. }) => {
            st.add_num(spec.func, secs as f64);
            0
        }
        AggInput::Field(FieldRef::Time) => st.add(spec.func, decimal_i64(secs, &mut [0; DECIMAL_LEN + 1]), time),
        AggInput::Field(FieldRef::Column(i)) => match row.values.get(*i) {
            Some(Value::Str(s)) => st.add(spec.func, s, time),
            Some(Value::Multi(items)) => items.iter().map(|s| st.add(spec.func, s, time)).sum(),
            Some(Value::Num(n)) => st.add(spec.func, &format_num(*n), time),
            _ => 0,
        },
        _ => 0,
    }
}

/// A raw event as a result row: Splunk's default fields, then the extracted ones.
pub(super) fn event_record(ev: &Event, with_raw: bool, only: Option<&[String]>) -> Record {
    let wanted = |name: &str| only.is_none_or(|fields| fields.binary_search_by(|f| f.as_str().cmp(name)).is_ok());
    let mut r = Record::with_capacity(ev.fields.len() + 6);
    push_default_fields(&mut r, ev, with_raw, &wanted);
    for (k, v) in &ev.fields {
        if is_default_field(k) || !wanted(k) {
            continue;
        }
        if r.get(k).is_none() {
            r.push_new_str(k, Value::Str(v.clone()));
        } else {
            append_item(&mut r, k, v);
        }
    }
    push_origin(&mut r, ev, &wanted);
    r
}

/// [`event_record`] of the fields `only` (sorted) names: each is looked up in the event's name
/// index (`names`, reset for `ev`), instead of every field of the event being looked up in
/// `only`. The same record: fields in event order, a repeated name as one multivalue field at
/// its first position. `picked` is scratch.
pub(super) fn projected_event_record(
    ev: &Event,
    names: &NameIndex,
    with_raw: bool,
    only: &[String],
    picked: &mut Vec<(usize, usize)>,
) -> Record {
    // The properties and origin fields `only` names, found in one pass: a binary search of
    // `only` for each of the six, per kept event, cost a third of building the record.
    let named = only.iter().fold(0u8, |named, f| named | property_bit(f));
    let wanted = |name: &str| named & property_bit(name) != 0;
    let mut r = Record::with_capacity(only.len() + 4);
    push_default_fields(&mut r, ev, with_raw, &wanted);
    picked.clear();
    for (i, name) in only.iter().enumerate() {
        if is_default_field(name) || (i > 0 && only[i - 1] == *name) {
            continue;
        }
        names.for_each_position(ev, name, &mut |pos| picked.push((pos, i)));
    }
    picked.sort_unstable();
    // Which projected names (by their place in `only`, the first 128) are in the record.
    let mut present: u128 = 0;
    for &(pos, i) in picked.iter() {
        let Some((k, v)) = ev.fields.get(pos) else { continue };
        let first = match 1u128.checked_shl(i as u32) {
            Some(bit) => {
                let absent = present & bit == 0;
                present |= bit;
                absent
            }
            None => r.get(k).is_none(),
        };
        if first {
            r.push_new_str(k, Value::Str(v.clone()));
        } else {
            append_item(&mut r, k, v);
        }
    }
    push_origin(&mut r, ev, &wanted);
    r
}

/// A repeated name makes a multivalue field: `v` joins the items of the field `k` already in `r`.
fn append_item(r: &mut Record, k: &str, v: &str) {
    let Some(existing) = r.get(k) else { return };
    let mut items: Vec<String> = existing.items().into_iter().map(|s| s.into_owned()).collect();
    items.push(v.to_string());
    r.set(k, Value::Multi(items));
}

/// `_time`, `_raw` (when `with_raw`) and the default fields `wanted`, from the event's properties.
fn push_default_fields(r: &mut Record, ev: &Event, with_raw: bool, wanted: &dyn Fn(&str) -> bool) {
    if let Some(t) = ev.time {
        r.push_new_str("_time", Value::Num(t as f64 / 1e6));
    }
    if with_raw {
        r.push_new_str("_raw", Value::Str(ev.raw.clone()));
    }
    for (name, value) in [("host", &ev.host), ("source", &ev.source), ("sourcetype", &ev.sourcetype)] {
        if wanted(name) {
            r.push_new_str(name, Value::Str(value.clone()));
        }
    }
    if wanted("index") {
        r.push_new_str("index", Value::str(ev.index_name()));
    }
}

/// Where the event was read, so a responder can open the evidence (an extracted field of the
/// same name wins). Aggregations drop them, as Splunk drops `source`, unless grouped by.
fn push_origin(r: &mut Record, ev: &Event, wanted: &dyn Fn(&str) -> bool) {
    if wanted(SOURCE_FILE) && r.get(SOURCE_FILE).is_none() {
        r.push_new_str(SOURCE_FILE, Value::Str(ev.origin.file.to_string()));
    }
    if wanted(RECORD) && r.get(RECORD).is_none() {
        r.push_new_str(RECORD, Value::Num(ev.origin.record() as f64));
    }
}

/// A bit for each name [`push_default_fields`] and [`push_origin`] ask `wanted` about
/// (`_time` and `_raw` they do not ask about); 0 for other names.
fn property_bit(name: &str) -> u8 {
    match name {
        "host" => 1,
        "source" => 2,
        "sourcetype" => 4,
        "index" => 8,
        SOURCE_FILE => 16,
        RECORD => 32,
        _ => 0,
    }
}

/// Splunk's default fields, which an event record takes from the event's properties, never
/// from an extracted field of the same name.
fn is_default_field(name: &str) -> bool {
    matches!(name, "_time" | "_raw" | "host" | "source" | "sourcetype" | "index")
}

/// Result field: the file (or `archive:member`) a raw event was read from.
pub const SOURCE_FILE: &str = "source_file";
/// Result field: the event's record number in that file (see [`vigil_model::Origin::record`]).
pub const RECORD: &str = "record";

pub(crate) fn scan_rows(scan: &Scan, acc: ScanAcc, symbols: &Symbols) -> Result<Vec<Record>, ExecError> {
    Ok(match (scan, acc) {
        (Scan::Tstats(t), ScanAcc::Groups(g)) => {
            let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
            let mut rows = g.finish(symbols, &names, &t.aggs)?;
            if names.is_empty() && rows.is_empty() {
                // `tstats count` over nothing is one row with count 0, as in Splunk.
                rows = Groups::finish_empty(&t.aggs);
            }
            rows
        }
        (Scan::Events(EventScan { stats: Some(stats), .. }), ScanAcc::Groups(g)) => stats.finish(g, symbols)?,
        // Splunk returns events newest first (stable: ties keep input order).
        (_, ScanAcc::Events(v)) => v.into_records_newest_first(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The projected record is the one the whole-event record gives with the same projection:
    /// fields in event order, repeated names as one multivalue, default fields from the event.
    #[test]
    fn projected_records_equal_whole_event_records() {
        let mut ev = Event { time: Some(1_500_000), host: "h1".into(), sourcetype: "st".into(), ..Default::default() };
        for (k, v) in [("B", "b1"), ("A", "a1"), ("host", "extracted"), ("C", "c1"), ("A", "a2"), ("B", "b2"), ("A", "a3"), ("D", "d")] {
            ev.push(k, v);
        }
        let names = NameIndex::default();
        let mut picked = Vec::new();
        let projections: [&[&str]; 7] = [
            &["A", "B", "C", "_time"],
            // Every property and origin field the record takes from the event.
            &["host", "index", "record", "source", "source_file", "sourcetype"],
            &["A"],
            &["C", "host", "source_file"],
            &["B", "record", "sourcetype", "zzz"],
            &[],
            &["A", "A", "D"],
        ];
        for only in projections {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            for with_raw in [false, true] {
                names.reset();
                let projected = projected_event_record(&ev, &names, with_raw, &only, &mut picked);
                assert_eq!(projected, event_record(&ev, with_raw, Some(&only)), "{only:?}");
            }
        }
    }
}
