//! `top` and `rare`: the most (least) common values of fields, with count and percent.
//!
//! Splunk semantics: rows count toward a value combination only when they have every listed
//! field (a multivalue field counts once per value); per by-group, combinations are ordered by
//! count (descending for `top`, ascending for `rare`; ties keep first-seen order) and cut to
//! `limit` (default 10, 0 = all). `percent` is the share of the group's counted rows, with six
//! decimals as Splunk prints it. `useother=t` adds a row with `otherstr` in every listed field
//! counting the values past the limit.

use std::collections::HashMap;
use vigil_model::{Record, Value};
use vigil_spl::ast::TopRare;

#[derive(Debug)]
pub(crate) struct TopRareOp(pub(crate) TopRare);

/// The values of `field` in a row: each item of a multivalue, none when absent or empty.
fn values(row: &Record, field: &str) -> Vec<String> {
    row.get(field).map(|v| v.items().into_iter().map(|s| s.into_owned()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

/// Every combination of the fields' values (one per value of each multivalue field).
fn combinations(row: &Record, fields: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for f in fields {
        let vals = values(row, f);
        out = out.iter().flat_map(|prefix| vals.iter().map(move |v| [prefix.as_slice(), std::slice::from_ref(v)].concat())).collect();
    }
    out
}

/// Counts per combination of one by-group, in first-seen order.
#[derive(Default)]
struct Group {
    index: HashMap<Vec<String>, usize>,
    counts: Vec<(Vec<String>, u64)>,
    total: u64,
}

impl TopRareOp {
    pub(crate) fn fields_read(&self) -> Vec<String> {
        self.0.by.iter().chain(&self.0.fields).cloned().collect()
    }

    pub(crate) fn output_fields(&self) -> Vec<String> {
        let t = &self.0;
        let mut out: Vec<String> = t.by.iter().chain(&t.fields).cloned().collect();
        if t.showcount {
            out.push(t.countfield.clone());
        }
        if t.showperc {
            out.push(t.percentfield.clone());
        }
        out
    }

    pub(crate) fn apply(&self, rows: Vec<Record>) -> Vec<Record> {
        let t = &self.0;
        let mut group_index: HashMap<Vec<String>, usize> = HashMap::new();
        let mut groups: Vec<(Vec<String>, Group)> = Vec::new();
        for row in &rows {
            // A by-field missing from the row leaves the row out, as in `stats ... by`.
            let Some(by): Option<Vec<String>> = t.by.iter().map(|b| row.get(b).and_then(|v| v.as_text()).map(|s| s.into_owned())).collect()
            else {
                continue;
            };
            let combos = combinations(row, &t.fields);
            if combos.is_empty() {
                continue;
            }
            let gi = *group_index.entry(by.clone()).or_insert_with(|| {
                groups.push((by, Group::default()));
                groups.len() - 1
            });
            let g = &mut groups[gi].1;
            for combo in combos {
                g.total += 1;
                let next = g.counts.len();
                let i = *g.index.entry(combo.clone()).or_insert(next);
                if i == next {
                    g.counts.push((combo, 0));
                }
                g.counts[i].1 += 1;
            }
        }
        let mut out = Vec::new();
        for (by, mut g) in groups {
            if t.rare {
                g.counts.sort_by_key(|(_, n)| *n);
            } else {
                g.counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            }
            let keep = if t.limit == 0 { g.counts.len() } else { (t.limit as usize).min(g.counts.len()) };
            let other: u64 = g.counts[keep..].iter().map(|(_, n)| n).sum();
            for (combo, n) in g.counts.drain(..keep) {
                out.push(self.row(&by, combo, n, g.total));
            }
            if t.useother && other > 0 {
                out.push(self.row(&by, vec![t.otherstr.clone(); t.fields.len()], other, g.total));
            }
        }
        out
    }

    fn row(&self, by: &[String], combo: Vec<String>, count: u64, total: u64) -> Record {
        let t = &self.0;
        let mut r = Record::with_capacity(by.len() + combo.len() + 2);
        for (name, v) in t.by.iter().zip(by) {
            r.set(name, Value::str(v));
        }
        for (name, v) in t.fields.iter().zip(combo) {
            r.set(name, Value::Str(v));
        }
        if t.showcount {
            r.set(&t.countfield, Value::Num(count as f64));
        }
        if t.showperc {
            r.set(&t.percentfield, Value::Str(format!("{:.6}", 100.0 * count as f64 / total as f64)));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(vals: &[(&str, &str)]) -> Vec<Record> {
        vals.iter()
            .map(|(host, p)| {
                let mut r = Record::new();
                r.set("host", Value::str(*host));
                if !p.is_empty() {
                    r.set("p", Value::str(*p));
                }
                r
            })
            .collect()
    }

    fn table(out: &[Record]) -> Vec<String> {
        out.iter().map(|r| r.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")).collect()
    }

    /// a x4, b x2, c x1, d x1, one row without `p`: 8 counted rows.
    fn sample() -> Vec<Record> {
        rows(&[("h1", "a"), ("h1", "b"), ("h2", "a"), ("h1", "c"), ("h2", "a"), ("h1", ""), ("h2", "b"), ("h2", "d"), ("h1", "a")])
    }

    #[test]
    fn top_counts_and_percents() {
        let op = TopRareOp(TopRare { fields: vec!["p".into()], limit: 2, ..TopRare::new(false) });
        assert_eq!(table(&op.apply(sample())), ["p=a count=4 percent=50.000000", "p=b count=2 percent=25.000000"]);
        let other = TopRareOp(TopRare { fields: vec!["p".into()], limit: 2, useother: true, ..TopRare::new(false) });
        assert_eq!(table(&other.apply(sample()))[2], "p=other count=2 percent=25.000000");
    }

    #[test]
    fn rare_by_group_without_percent() {
        let op = TopRareOp(TopRare { fields: vec!["p".into()], by: vec!["host".into()], showperc: false, ..TopRare::new(true) });
        // h1: a x2, b, c (first-seen order among ties); h2: a x2, b, d.
        assert_eq!(
            table(&op.apply(sample())),
            [
                "host=h1 p=b count=1",
                "host=h1 p=c count=1",
                "host=h1 p=a count=2",
                "host=h2 p=b count=1",
                "host=h2 p=d count=1",
                "host=h2 p=a count=2"
            ]
        );
    }

    #[test]
    fn multivalues_count_each_value_and_renamed_columns() {
        let mut r = Record::new();
        r.set("p", Value::Multi(vec!["x".into(), "y".into()]));
        let op = TopRareOp(TopRare { fields: vec!["p".into()], countfield: "n".into(), percentfield: "pc".into(), ..TopRare::new(false) });
        assert_eq!(table(&op.apply(vec![r])), ["p=x n=1 pc=50.000000", "p=y n=1 pc=50.000000"]);
    }
}
