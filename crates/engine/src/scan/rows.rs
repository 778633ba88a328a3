//! Rows of the scan: dataset columns as group-key parts, raw events as records, and a
//! finished scan's groups or events as result rows.

use super::ScanAcc;
use crate::error::ExecError;
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
    if let Some(t) = ev.time {
        r.push_new("_time".into(), Value::Num(t as f64 / 1e6));
    }
    if with_raw {
        r.push_new("_raw".into(), Value::Str(ev.raw.clone()));
    }
    for (name, value) in [("host", &ev.host), ("source", &ev.source), ("sourcetype", &ev.sourcetype)] {
        if wanted(name) {
            r.push_new(name.into(), Value::Str(value.clone()));
        }
    }
    if wanted("index") {
        r.push_new("index".into(), Value::str(ev.index_name()));
    }
    for (k, v) in &ev.fields {
        if matches!(k.as_str(), "_time" | "_raw" | "host" | "source" | "sourcetype" | "index") || !wanted(k) {
            continue;
        }
        match r.get(k) {
            None => r.push_new(k.clone(), Value::Str(v.clone())),
            // A repeated name makes a multivalue field.
            Some(existing) => {
                let mut items: Vec<String> = existing.items().into_iter().map(|s| s.into_owned()).collect();
                items.push(v.clone());
                r.set(k.clone(), Value::Multi(items));
            }
        }
    }
    // Where the event was read, so a responder can open the evidence (an extracted field of
    // the same name wins). Aggregations drop them, as Splunk drops `source`, unless grouped by.
    if wanted(SOURCE_FILE) && r.get(SOURCE_FILE).is_none() {
        r.push_new(SOURCE_FILE.into(), Value::Str(ev.origin.file.to_string()));
    }
    if wanted(RECORD) && r.get(RECORD).is_none() {
        r.push_new(RECORD.into(), Value::Num(ev.origin.record() as f64));
    }
    r
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
