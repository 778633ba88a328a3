//! `timechart`: aggregations per time bucket, pivoted to one column per series.
//!
//! Splunk semantics implemented: rows bin on `_time` by `span=` (else the smallest nice span
//! giving at most `bins`, default 100, buckets over the rows' time range); rows without `_time`
//! are left out. With `by`, each value of the split-by field is a series and a column (named
//! `agg: value` when there are several aggregations); rows without the field form the
//! `nullstr` series (`NULL`) unless `usenull=f`. With more than `limit` series (default 10, 0 =
//! no limit) the top ones by the sum of the first aggregation over all buckets are kept (ties
//! by name) and the rest are aggregated together as `otherstr` (`OTHER`) unless
//! `useother=f`. Columns: `_time`, the kept series by name, then `NULL`, then `OTHER`. With
//! `cont=t` (default) every bucket from the first to the last is a row; cells without events
//! are 0 for `count`/`dc` and empty otherwise.

use super::stats::StatsOp;
use crate::error::{ExecError, PlanError};
use crate::expr::timespan::parse_span;
use crate::expr::value::EvalContext;
use crate::store::agg::AggFunc;
use std::collections::{BTreeMap, HashMap};
use vigil_model::{Record, Value};
use vigil_spl::ast::{Span, Stats, Timechart};

/// The internal by-field holding a row's series.
const SERIES: &str = "\u{1}series";
/// More buckets than this is an error rather than an exhausted machine.
const MAX_BUCKETS: f64 = 100_000.0;
/// Spans tried without `span=`, smallest first (as `bin` infers time spans).
const NICE_SPANS: &[f64] = &[1.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 86400.0, 604800.0, 2592000.0];

#[derive(Debug)]
pub(crate) struct TimechartOp {
    tc: Timechart,
    /// Span in seconds when given.
    span: Option<f64>,
    stats: StatsOp,
}

impl TimechartOp {
    pub(crate) fn plan(tc: &Timechart, span: Span) -> Result<TimechartOp, PlanError> {
        let secs = match &tc.span {
            Some(s) => Some(
                parse_span(s)
                    .ok_or_else(|| PlanError::invalid(format!("bad span `{s}`: a number with a time unit (30s, 5m, 1h, 1d, 1w)"), span))?
                    as f64
                    / 1e6,
            ),
            None => None,
        };
        let by = vec!["_time".to_string(), SERIES.to_string()];
        let stats = StatsOp::plan(&Stats { aggregations: tc.aggregations.clone(), by }, span)?;
        Ok(TimechartOp { tc: tc.clone(), span: secs, stats })
    }

    pub(crate) fn fields_read(&self) -> Option<Vec<String>> {
        let mut out: Vec<String> = self.stats.fields_read()?.into_iter().filter(|f| f != SERIES).collect();
        out.extend(self.tc.by.iter().cloned());
        Some(out)
    }

    /// The columns when they do not depend on the data (no split-by field).
    pub(crate) fn fixed_columns(&self) -> Option<Vec<String>> {
        if self.tc.by.is_some() {
            return None;
        }
        Some(std::iter::once("_time".to_string()).chain(self.stats.aggs.iter().map(|a| a.name.clone())).collect())
    }

    pub(crate) fn apply(&self, rows: Vec<Record>, ctx: &EvalContext) -> Result<Vec<Record>, ExecError> {
        let times: Vec<f64> = rows.iter().filter_map(|r| r.value("_time").as_num()).collect();
        let (Some(lo), Some(hi)) = (times.iter().copied().reduce(f64::min), times.iter().copied().reduce(f64::max)) else {
            return Ok(Vec::new());
        };
        let span = self.span.unwrap_or_else(|| {
            NICE_SPANS.iter().copied().find(|s| (hi - lo) / s < self.tc.bins as f64).unwrap_or(NICE_SPANS[NICE_SPANS.len() - 1])
        });
        let bucket = |t: f64| (t / span).floor() * span;
        let (first, last) = (bucket(lo), bucket(hi));
        if (last - first) / span > MAX_BUCKETS {
            return Err(ExecError(format!("timechart: more than {MAX_BUCKETS} buckets of {span} s; give a larger span=")));
        }
        let mut binned = Vec::with_capacity(rows.len());
        for mut row in rows {
            let Some(t) = row.value("_time").as_num() else { continue };
            row.set("_time", Value::Num(bucket(t)));
            let series = match &self.tc.by {
                None => String::new(),
                Some(by) => match row.get(by).and_then(|v| v.as_text()).filter(|s| !s.is_empty()) {
                    Some(s) => s.into_owned(),
                    None if self.tc.usenull => self.tc.nullstr.clone(),
                    None => continue,
                },
            };
            row.set(SERIES, Value::Str(series));
            binned.push(row);
        }
        let mut cells = self.stats.stats(binned.iter(), ctx)?;
        let (kept, others) = self.rank_series(&cells);
        if !others.is_empty() {
            for row in &mut binned {
                let s = row.value(SERIES).to_string();
                if others.contains(&s) {
                    row.set(SERIES, Value::Str(self.tc.otherstr.clone()));
                }
            }
            if !self.tc.useother {
                binned.retain(|r| !others.contains(&r.value(SERIES).to_string()));
            }
            cells = self.stats.stats(binned.iter(), ctx)?;
        }
        let mut columns = kept;
        if !others.is_empty() && self.tc.useother {
            columns.push(self.tc.otherstr.clone());
        }
        Ok(self.pivot(cells, &columns, first, last, span))
    }

    /// Series kept (by name, `NULL` last) and those past the limit.
    fn rank_series(&self, cells: &[Record]) -> (Vec<String>, Vec<String>) {
        let first_agg = self.stats.aggs.first().map(|a| a.name.as_str()).unwrap_or("count");
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        for c in cells {
            *totals.entry(c.value(SERIES).to_string()).or_default() += c.value(first_agg).as_num().unwrap_or(0.0);
        }
        let null = self.tc.by.is_some().then(|| self.tc.nullstr.clone());
        let mut ranked: Vec<(String, f64)> = totals.into_iter().collect();
        // Highest total first; the stable sort keeps name order among ties.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let limit = if self.tc.limit == 0 { usize::MAX } else { self.tc.limit as usize };
        let others: Vec<String> = ranked.iter().skip(limit).map(|(s, _)| s.clone()).collect();
        let mut kept: Vec<String> = ranked.into_iter().take(limit).map(|(s, _)| s).collect();
        kept.sort_by_key(|s| (Some(s) == null.as_ref(), s.clone()));
        (kept, others)
    }

    /// One row per bucket from `first` to `last` (only buckets with events when `cont=f`).
    fn pivot(&self, cells: Vec<Record>, series: &[String], first: f64, last: f64, span: f64) -> Vec<Record> {
        let aggs = &self.stats.aggs;
        let column = |agg: &str, s: &str| match (&self.tc.by, aggs.len()) {
            (None, _) => agg.to_string(),
            (Some(_), 1) => s.to_string(),
            (Some(_), _) => format!("{agg}: {s}"),
        };
        let mut by_bucket: HashMap<i64, HashMap<String, Record>> = HashMap::new();
        for c in cells {
            let Some(t) = c.value("_time").as_num() else { continue };
            by_bucket.entry(((t - first) / span).round() as i64).or_default().insert(c.value(SERIES).to_string(), c);
        }
        let n = ((last - first) / span).round() as i64;
        let mut out = Vec::new();
        for i in 0..=n {
            let cell_rows = by_bucket.remove(&i);
            if cell_rows.is_none() && !self.tc.cont {
                continue;
            }
            let mut row = Record::with_capacity(1 + series.len() * aggs.len());
            row.push_new("_time".into(), Value::Num(first + i as f64 * span));
            for s in series {
                let cell = cell_rows.as_ref().and_then(|m| m.get(s));
                for a in aggs {
                    let v = match cell.map(|c| c.value(&a.name)) {
                        Some(v) if !v.is_null() => v.clone(),
                        _ if matches!(a.func, AggFunc::Count | AggFunc::Dc) => Value::Num(0.0),
                        _ => continue,
                    };
                    row.push_new(column(&a.name, s), v);
                }
            }
            out.push(row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> TimechartOp {
        let p = vigil_spl::parse(text).unwrap();
        let vigil_spl::ast::CommandKind::Timechart(tc) = &p.commands[0].kind else { panic!() };
        TimechartOp::plan(tc, Span::new(0, 1)).unwrap()
    }

    fn ev(t: f64, host: Option<&str>, bytes: f64) -> Record {
        let mut r = Record::new();
        r.set("_time", Value::Num(t));
        if let Some(h) = host {
            r.set("host", Value::str(h));
        }
        r.set("bytes", Value::Num(bytes));
        r
    }

    fn table(rows: &[Record]) -> Vec<String> {
        rows.iter().map(|r| r.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")).collect()
    }

    fn ctx() -> EvalContext {
        EvalContext { now: 0, tz: vigil_time::Tz::utc() }
    }

    /// Hours 0 and 2 have events, hour 1 none: a, a, b at 0h; c and a host-less row at 2h.
    fn events() -> Vec<Record> {
        vec![
            ev(10.0, Some("a"), 1.0),
            ev(20.0, Some("a"), 2.0),
            ev(30.0, Some("b"), 4.0),
            ev(7300.0, Some("c"), 8.0),
            ev(7400.0, None, 16.0),
        ]
    }

    #[test]
    fn count_by_series_with_empty_buckets_and_null() {
        let out = plan("| timechart span=1h count by host").apply(events(), &ctx()).unwrap();
        assert_eq!(table(&out), ["_time=0 a=2 b=1 c=0 NULL=0", "_time=3600 a=0 b=0 c=0 NULL=0", "_time=7200 a=0 b=0 c=1 NULL=1",]);
    }

    #[test]
    fn limit_folds_the_rest_into_other() {
        // Sums: a 3, b 4, c 8, NULL 16 -> limit=2 keeps NULL and c; a and b are OTHER.
        let out = plan("| timechart span=1h limit=2 sum(bytes) by host").apply(events(), &ctx()).unwrap();
        assert_eq!(table(&out), ["_time=0 OTHER=7", "_time=3600", "_time=7200 c=8 NULL=16"]);
        // Counts: a 2, then NULL, b, c with 1 each (ties by name: uppercase first).
        let out = plan("| timechart span=1h limit=2 useother=f cont=f count by host").apply(events(), &ctx()).unwrap();
        assert_eq!(table(&out), ["_time=0 a=2 NULL=0", "_time=7200 a=0 NULL=1"]);
    }

    #[test]
    fn without_by_and_automatic_span() {
        // 7390 s of data in at most 100 buckets: 300 s is the smallest nice span that fits.
        let out = plan("| timechart count, max(bytes) as top").apply(events(), &ctx()).unwrap();
        assert_eq!(out.len(), 25);
        assert_eq!(table(&out[..2]), ["_time=0 count=3 top=4", "_time=300 count=0"]);
        assert_eq!(table(&out[24..]), ["_time=7200 count=2 top=16"]);
        let two = plan("| timechart span=2h count, dc(host) by host").apply(events(), &ctx()).unwrap();
        assert_eq!(
            table(&two)[0],
            "_time=0 count: a=2 dc(host): a=1 count: b=1 dc(host): b=1 count: c=0 dc(host): c=0 count: NULL=0 dc(host): NULL=0"
        );
    }
}
