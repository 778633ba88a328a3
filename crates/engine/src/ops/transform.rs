//! Row transforms: dedup, sort, convert, fillnull, bin, mvexpand, makemv.

use crate::error::PlanError;
use crate::expr::timespan::parse_span;
use std::cmp::Ordering;
use std::collections::HashMap;
use vigil_model::value::{format_num, parse_num};
use vigil_model::{Micros, Record, Value};
use vigil_spl::ast::{Bin, Conversion, Convert, Dedup, Fillnull, Sort, SortKey, Span};
use vigil_time::Tz;

pub(crate) fn dedup(rows: Vec<Record>, d: &Dedup) -> Vec<Record> {
    let mut seen: HashMap<Vec<String>, u64> = HashMap::new();
    let mut prev: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for row in rows {
        let key: Option<Vec<String>> = d.fields.iter().map(|f| row.get(f).map(|v| v.to_string())).collect();
        let Some(key) = key else {
            if d.keepempty {
                out.push(row);
            }
            continue;
        };
        if d.consecutive {
            if prev.as_ref() != Some(&key) {
                prev = Some(key);
                out.push(row);
            }
            continue;
        }
        let n = seen.entry(key).or_insert(0);
        if *n < d.count.max(1) {
            *n += 1;
            out.push(row);
        }
    }
    if !d.sortby.is_empty() {
        sort_rows(&mut out, &d.sortby);
    }
    out
}

fn compare_values(a: &Value, b: &Value, mode: &str) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (ta, tb) = (a.as_text().unwrap_or_default(), b.as_text().unwrap_or_default());
    match mode {
        "str" => ta.cmp(&tb),
        "ip" => ip_key(&ta).cmp(&ip_key(&tb)),
        _ => match (parse_num(&ta), parse_num(&tb)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            // Numbers sort before text in Splunk's automatic mode.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => ta.cmp(&tb),
        },
    }
}

fn ip_key(s: &str) -> Vec<u32> {
    s.split('.').map(|p| p.parse().unwrap_or(u32::MAX)).collect()
}

fn sort_rows(rows: &mut [Record], keys: &[SortKey]) {
    rows.sort_by(|a, b| {
        for k in keys {
            let o = compare_values(a.value(&k.field), b.value(&k.field), &k.mode);
            let o = if k.descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

pub(crate) fn sort(mut rows: Vec<Record>, s: &Sort) -> Vec<Record> {
    sort_rows(&mut rows, &s.keys);
    // Splunk's sort keeps 10000 rows unless told otherwise; `sort 0` keeps all.
    match s.limit {
        Some(0) => {}
        Some(n) => rows.truncate(n as usize),
        None => rows.truncate(10_000),
    }
    rows
}

/// Conversion functions `convert` supports.
pub(crate) fn check_conversion(func: &str, span: Span) -> Result<(), PlanError> {
    match func {
        "ctime" | "mktime" | "dur2sec" | "num" | "auto" | "none" | "rmunit" | "rmcomma" | "memk" => Ok(()),
        other => Err(PlanError::UnsupportedFunction { name: format!("convert {other}()"), span }),
    }
}

pub(crate) fn convert(mut rows: Vec<Record>, c: &Convert, tz: &Tz) -> Vec<Record> {
    let fmt = c.timeformat.as_deref().unwrap_or(vigil_time::CONVERT_DEFAULT_FORMAT);
    for row in &mut rows {
        for conv in &c.conversions {
            if !conv.field.contains('*') {
                convert_field(row, conv, &conv.field, fmt, tz);
                continue;
            }
            let names: Vec<String> =
                row.names().filter(|n| crate::ops::fields::wild_capture(&conv.field, n).is_some()).map(str::to_string).collect();
            for name in names {
                convert_field(row, conv, &name, fmt, tz);
            }
        }
    }
    rows
}

/// Converts field `name` of `row` (into the conversion's alias, if any); a value the
/// function does not convert leaves the row as it is.
fn convert_field(row: &mut Record, conv: &Conversion, name: &str, fmt: &str, tz: &Tz) {
    let Some(converted) = convert_value(&conv.func, row.value(name), fmt, tz) else { return };
    row.set(conv.alias.as_deref().unwrap_or(name), converted);
}

/// `ctime` of epoch seconds `t`.
fn ctime(t: f64, fmt: &str, tz: &Tz) -> String {
    vigil_time::format_time((t * 1e6) as Micros, fmt, tz)
}

fn convert_value(func: &str, v: &Value, fmt: &str, tz: &Tz) -> Option<Value> {
    let map = |f: &dyn Fn(&str) -> Option<String>| -> Option<Value> {
        let items: Vec<String> = v.items().iter().map(|s| f(s).unwrap_or_else(|| s.to_string())).collect();
        (!items.is_empty()).then(|| Value::from_items(items))
    };
    // One value (the usual `firstTime`/`lastTime`), without the list `map` builds: a finite
    // number's text (`format_num`) parses back to the number itself.
    match (func, v) {
        ("ctime", Value::Num(n)) if n.is_finite() => return Some(Value::Str(ctime(*n, fmt, tz))),
        ("ctime", Value::Str(s)) => return Some(Value::Str(parse_num(s).map_or_else(|| s.clone(), |t| ctime(t, fmt, tz)))),
        _ => {}
    }
    match func {
        "ctime" => map(&|s| parse_num(s).map(|t| ctime(t, fmt, tz))),
        "mktime" => map(&|s| vigil_time::parse_time(s, fmt, tz).map(|t| format_num(t as f64 / 1e6))),
        "dur2sec" => map(&|s| dur2sec(s).map(format_num)),
        "num" | "auto" => {
            let items: Vec<String> = v.items().iter().filter_map(|s| parse_num(s).map(format_num)).collect();
            // `num` drops values that are not numbers; `auto` keeps them.
            if func == "auto" {
                map(&|s| parse_num(s).map(format_num))
            } else {
                Some(Value::from_items(items))
            }
        }
        "rmunit" => map(&|s| {
            let end = s.trim().find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(s.trim().len());
            parse_num(&s.trim()[..end]).map(format_num)
        }),
        "rmcomma" => map(&|s| Some(s.replace(',', ""))),
        "memk" => map(&|s| {
            let t = s.trim();
            let (n, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
                Some('k') => (&t[..t.len() - 1], 1.0),
                Some('m') => (&t[..t.len() - 1], 1024.0),
                Some('g') => (&t[..t.len() - 1], 1024.0 * 1024.0),
                _ => (t, 1.0),
            };
            parse_num(n).map(|x| format_num(x * mult))
        }),
        _ => None,
    }
}

/// `[D+]HH:MM:SS` to seconds.
fn dur2sec(s: &str) -> Option<f64> {
    let (days, rest) = match s.split_once('+') {
        Some((d, r)) => (d.trim().parse::<f64>().ok()?, r),
        None => (0.0, s),
    };
    let mut total = 0.0;
    for part in rest.trim().split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(days * 86400.0 + total)
}

pub(crate) fn fillnull(mut rows: Vec<Record>, f: &Fillnull) -> Vec<Record> {
    let fields: Vec<String> = if f.fields.is_empty() {
        let mut all: Vec<String> = Vec::new();
        for r in &rows {
            for n in r.names() {
                if !all.iter().any(|a| a == n) {
                    all.push(n.to_string());
                }
            }
        }
        all
    } else {
        f.fields.clone()
    };
    for row in &mut rows {
        for name in &fields {
            if row.get(name).is_none() {
                row.set(name.clone(), Value::Str(f.value.clone()));
            }
        }
    }
    rows
}

#[derive(Debug)]
pub(crate) struct BinOp {
    pub(crate) field: String,
    pub(crate) target: String,
    span: Option<f64>,
    bins: u64,
    /// Time discretization (`_time`, or a span with a time unit): the bin's start, a number.
    /// Otherwise Splunk's numeric bins: the range `start-end` as text (`10-20`).
    time: bool,
}

impl BinOp {
    /// A span is a time range when the field is `_time` or the span has a time unit (on any
    /// numeric field, e.g. epoch seconds in `firstTime`); otherwise an absolute bin length.
    pub fn plan(b: &Bin, span: Span) -> Result<BinOp, PlanError> {
        let bad = |s: &str| {
            PlanError::invalid(format!("bad span `{s}`: a positive number, or a number with a time unit (30s, 5m, 1h, 1d, 1w)"), span)
        };
        let mut time = b.field == "_time";
        let size = match &b.span {
            Some(s) => Some(match parse_num(s) {
                Some(n) if n > 0.0 && !time => n,
                Some(_) if !time => return Err(bad(s)),
                _ => {
                    time = true;
                    parse_span(s).ok_or_else(|| bad(s))? as f64 / 1e6
                }
            }),
            None => None,
        };
        Ok(BinOp {
            field: b.field.clone(),
            target: b.alias.clone().unwrap_or_else(|| b.field.clone()),
            span: size,
            bins: b.bins.unwrap_or(100).max(1),
            time,
        })
    }

    /// With `span=`, each row bins alone; without it the span depends on all rows.
    pub fn has_span(&self) -> bool {
        self.span.is_some()
    }

    pub fn apply(&self, mut rows: Vec<Record>) -> Vec<Record> {
        let size = self.span.unwrap_or_else(|| self.auto_span(&rows));
        for row in &mut rows {
            self.bin_row(row, size);
        }
        rows
    }

    /// Bins one row by the span (`false` without one: the span depends on all rows).
    pub fn apply_row(&self, row: &mut Record) -> bool {
        let Some(size) = self.span else { return false };
        self.bin_row(row, size);
        true
    }

    fn bin_row(&self, row: &mut Record, size: f64) {
        if let Some(x) = row.value(&self.field).as_num() {
            let start = (x / size).floor() * size;
            let v = if self.time { Value::Num(start) } else { Value::Str(format!("{}-{}", format_num(start), format_num(start + size))) };
            row.set(self.target.as_str(), v);
        }
    }

    /// Without `span=`, the smallest "nice" span that yields at most `bins` buckets (powers
    /// of ten for numbers, as Splunk infers them).
    fn auto_span(&self, rows: &[Record]) -> f64 {
        let nums = rows.iter().filter_map(|r| r.value(&self.field).as_num());
        let (lo, hi) = nums.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let width = (hi - lo).max(0.0);
        let nice: &[f64] = if self.time {
            &[1.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 86400.0, 604800.0, 2592000.0]
        } else {
            &[1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1e6, 1e7, 1e8, 1e9]
        };
        nice.iter().copied().find(|s| width / s < self.bins as f64).unwrap_or(nice[nice.len() - 1])
    }
}

pub(crate) fn mvexpand(rows: Vec<Record>, field: &str, limit: Option<u64>) -> Vec<Record> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match row.value(field) {
            Value::Multi(items) => {
                let n = limit.map(|l| l as usize).unwrap_or(items.len());
                for item in items.iter().take(n) {
                    let mut r = row.clone();
                    r.set(field.to_string(), Value::Str(item.clone()));
                    out.push(r);
                }
            }
            _ => out.push(row),
        }
    }
    out
}

pub(crate) fn makemv(mut rows: Vec<Record>, delim: &str, field: &str) -> Vec<Record> {
    for row in &mut rows {
        if let Value::Str(s) = row.value(field) {
            let items: Vec<String> = s.split(delim).filter(|p| !p.is_empty()).map(str::to_string).collect();
            row.set(field.to_string(), Value::from_items(items));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(field: &str, span: Option<&str>, bins: Option<u64>) -> BinOp {
        let b = Bin { field: field.into(), span: span.map(String::from), bins, alias: None };
        BinOp::plan(&b, Span::new(0, 1)).unwrap()
    }

    fn binned(op: &BinOp, vals: &[&str]) -> Vec<String> {
        let rows = vals.iter().map(|v| [(op.field.clone(), Value::str(*v))].into_iter().collect()).collect();
        op.apply(rows).iter().map(|r| r.value(&op.target).to_string()).collect()
    }

    #[test]
    fn bin_numbers_into_ranges_and_times_into_starts() {
        // Numeric span on any field: Splunk's `start-end` ranges, end exclusive.
        assert_eq!(binned(&bin("bytes", Some("10"), None), &["0", "9.5", "10", "27", "-3"]), ["0-10", "0-10", "10-20", "20-30", "-10-0"]);
        assert_eq!(binned(&bin("ratio", Some("0.5"), None), &["1.2"]), ["1-1.5"]);
        // A time unit makes it a time span on any field (epoch seconds): the bin's start.
        assert_eq!(binned(&bin("firstTime", Some("1h"), None), &["1795170301"]), ["1795168800"]);
        assert_eq!(binned(&bin("_time", Some("5m"), None), &["1795170301.5"]), ["1795170300"]);
        // No span: a power of ten giving at most `bins` bins (0..59 in 5 bins -> 100).
        assert_eq!(binned(&bin("sec", None, Some(5)), &["0", "59"]), ["0-100", "0-100"]);
        assert_eq!(binned(&bin("sec", None, Some(12)), &["3", "59"]), ["0-10", "50-60"]);
        let bad = Bin { field: "x".into(), span: Some("-5".into()), bins: None, alias: None };
        assert!(BinOp::plan(&bad, Span::new(0, 1)).is_err());
        let bad = Bin { field: "x".into(), span: Some("5parsecs".into()), bins: None, alias: None };
        assert!(BinOp::plan(&bad, Span::new(0, 1)).is_err());
    }

    fn rows(vals: &[&str]) -> Vec<Record> {
        vals.iter().map(|v| [("x".to_string(), Value::str(*v))].into_iter().collect()).collect()
    }

    #[test]
    fn auto_sort_numbers_before_text() {
        let s = Sort { limit: None, keys: vec![SortKey { field: "x".into(), descending: false, mode: "auto".into() }] };
        let out = sort(rows(&["b", "10", "9", "a"]), &s);
        let got: Vec<String> = out.iter().map(|r| r.value("x").to_string()).collect();
        assert_eq!(got, ["9", "10", "a", "b"]);
    }

    #[test]
    fn dedup_keeps_first() {
        let d = Dedup { count: 1, fields: vec!["x".into()], keepempty: false, consecutive: false, sortby: vec![] };
        assert_eq!(dedup(rows(&["a", "b", "a"]), &d).len(), 2);
    }

    #[test]
    fn ctime_converts_epoch() {
        let c = Convert {
            timeformat: Some("%Y-%m-%dT%H:%M:%S".into()),
            conversions: vec![vigil_spl::ast::Conversion { func: "ctime".into(), field: "x".into(), alias: None }],
        };
        let out = convert(rows(&["1700000000"]), &c, &Tz::utc());
        assert_eq!(out[0].value("x"), &Value::str("2023-11-14T22:13:20"));
    }

    #[test]
    fn ctime_of_numbers_texts_and_lists_alike() {
        let c = Convert {
            timeformat: Some("%Y-%m-%dT%H:%M:%S".into()),
            conversions: vec![vigil_spl::ast::Conversion { func: "ctime".into(), field: "*Time".into(), alias: None }],
        };
        let row: Record = [
            ("firstTime".to_string(), Value::Num(1700000000.5)),
            ("lastTime".to_string(), Value::str("1700000001")),
            ("midTime".to_string(), Value::Multi(vec!["1700000002".into(), "soon".into()])),
            ("badTime".to_string(), Value::Num(f64::NAN)),
            ("noTime".to_string(), Value::str("never")),
        ]
        .into_iter()
        .collect();
        let out = convert(vec![row], &c, &Tz::utc());
        assert_eq!(out[0].value("firstTime"), &Value::str("2023-11-14T22:13:20"));
        assert_eq!(out[0].value("lastTime"), &Value::str("2023-11-14T22:13:21"));
        assert_eq!(out[0].value("midTime"), &Value::Multi(vec!["2023-11-14T22:13:22".into(), "soon".into()]));
        assert_eq!(out[0].value("badTime"), &Value::str("NaN"));
        assert_eq!(out[0].value("noTime"), &Value::str("never"));
    }

    #[test]
    fn ctime_into_an_alias_keeps_the_field() {
        let c = Convert {
            timeformat: None,
            conversions: vec![vigil_spl::ast::Conversion { func: "ctime".into(), field: "t".into(), alias: Some("when".into()) }],
        };
        let row: Record = [("t".to_string(), Value::Num(0.0))].into_iter().collect();
        let out = convert(vec![row], &c, &Tz::utc());
        assert_eq!(out[0].value("when"), &Value::str("01/01/1970 00:00:00"));
        assert_eq!(out[0].value("t"), &Value::Num(0.0));
    }

    #[test]
    fn dur2sec_parses() {
        assert_eq!(dur2sec("1+01:00:05"), Some(90005.0));
    }
}
