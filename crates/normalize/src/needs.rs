//! What a consumer of rows reads: which datasets, and which of their columns. A column no
//! consumer reads is left null instead of being computed (its value copied, transformed,
//! looked up), so rows cost what their readers use of them.

use crate::{Normalizer, Rules};

/// What to build of each mapping's rows for one consumer (see [`Normalizer::row_needs`]);
/// belongs to the normalizer that made it.
#[derive(Debug)]
pub struct RowNeeds {
    /// Per mapping, in the normalizer's order.
    mappings: Vec<Need>,
    /// Per dataset: its rules, on the columns read only (empty rules for the others).
    rules: Vec<Rules>,
}

#[derive(Debug)]
enum Need {
    /// The mapping's dataset is not read: no row.
    Skip,
    /// Every column.
    All,
    Columns(ColumnPlan),
}

/// How a row of one mapping is made when only some of its columns are read.
#[derive(Debug, Default)]
pub(crate) struct ColumnPlan {
    /// Indexes into the mapping's fields of the expressions to evaluate.
    pub fields: Vec<usize>,
    /// Columns that stay null: the ones no expression sets, and the ones not read.
    pub nulls: Vec<usize>,
}

/// How to make a row of one mapping: every column with the dataset's rules, or a plan.
#[derive(Clone, Copy)]
pub(crate) enum RowPlan<'a> {
    All,
    Columns(&'a ColumnPlan, &'a Rules),
}

impl RowNeeds {
    /// The plan for rows of mapping `i`, or `None` when they are not read.
    #[inline]
    pub(crate) fn plan(&self, i: usize, dataset: usize) -> Option<RowPlan<'_>> {
        match self.mappings.get(i)? {
            Need::Skip => None,
            Need::All => Some(RowPlan::All),
            Need::Columns(plan) => Some(RowPlan::Columns(plan, self.rules.get(dataset)?)),
        }
    }
}

impl Normalizer {
    /// What to build for a consumer that reads the rows of the datasets `wanted` accepts,
    /// and of those, the columns `columns` marks (`None`: every column). Build once per scan:
    /// it is worked out per mapping.
    pub fn row_needs(&self, wanted: &dyn Fn(usize) -> bool, columns: &dyn Fn(usize) -> Option<Vec<bool>>) -> RowNeeds {
        let mut rules = Vec::with_capacity(self.rules.len());
        // Per dataset: the columns to compute (those read and the ones their rules read).
        let mut computed: Vec<Option<Vec<bool>>> = Vec::with_capacity(self.rules.len());
        for (d, r) in self.rules.iter().enumerate() {
            let read = wanted(d).then(|| columns(d)).flatten();
            let Some(read) = read else {
                rules.push(Rules::default());
                computed.push(None);
                continue;
            };
            let is_read = |c: usize| read.get(c).copied().unwrap_or(false);
            let mut compute = read.clone();
            for &(target, src) in &r.name_from_first_token {
                if is_read(target) {
                    if let Some(slot) = compute.get_mut(src) {
                        *slot = true;
                    }
                }
            }
            rules.push(Rules {
                name_from_first_token: r.name_from_first_token.iter().copied().filter(|&(t, _)| is_read(t)).collect(),
                lowercase: r.lowercase.iter().copied().filter(|&c| is_read(c)).collect(),
                unknown_when_null: r.unknown_when_null.iter().copied().filter(|&c| is_read(c)).collect(),
                inherited: r.inherited.iter().copied().filter(|&(c, _)| is_read(c)).collect(),
            });
            computed.push(Some(compute));
        }
        let mappings = self
            .mappings
            .iter()
            .map(|m| match (wanted(m.dataset), computed.get(m.dataset).and_then(Option::as_ref)) {
                (false, _) => Need::Skip,
                (true, None) => Need::All,
                (true, Some(compute)) => {
                    let computes = |c: usize| compute.get(c).copied().unwrap_or(false);
                    let fields = (0..m.fields.len()).filter(|&i| computes(m.fields[i].0)).collect();
                    let unread = m.fields.iter().map(|(c, _)| *c).filter(|&c| !computes(c));
                    let mut nulls: Vec<usize> = m.unmapped.iter().copied().chain(unread).collect();
                    nulls.sort_unstable();
                    Need::Columns(ColumnPlan { fields, nulls })
                }
            })
            .collect();
        RowNeeds { mappings, rules }
    }

    /// Rows of every dataset, every column.
    pub fn all_rows(&self) -> RowNeeds {
        self.row_needs(&|_| true, &|_| None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rows;
    use vigil_model::{Event, Value};

    fn normalizer() -> Normalizer {
        let dm = "[[dataset]]\nname = \"A.B\"\nobject = \"B\"\nfields = [\"process\", \"process_name\", \"il\", \"dest\", \"tag\"]\nlowercase = [\"il\"]\nunknown_when_null = [\"dest\"]\nname_from_first_token = { process_name = \"process\" }\n";
        let m = "[[mapping]]\nname = \"m\"\ndataset = \"A.B\"\nwhen = { sourcetype = \"S\" }\n[mapping.fields]\nprocess = \"cmd\"\nil = \"IL\"\ntag = { const = [\"a\", \"b\"] }\n";
        Normalizer::from_sources(vec![("dm".into(), dm.into()), ("m".into(), m.into())]).unwrap()
    }

    fn event() -> Event {
        let mut ev = Event { sourcetype: "s".into(), host: "h".into(), time: Some(5), ..Default::default() };
        ev.push("cmd", "\"C:\\x\\MsiExec.exe\" /i http://a");
        ev.push("IL", "High");
        ev
    }

    /// The row `needs` makes of `ev`, twice into the same buffers (the second time after a
    /// row of every column, so stale values would show).
    fn row_of(n: &Normalizer, needs: &RowNeeds, ev: &Event) -> Vec<Value> {
        let mut rows = Rows::default();
        n.normalize_needed(ev, &n.all_rows(), &mut rows);
        n.normalize_needed(ev, needs, &mut rows);
        rows.as_slice()[0].values.clone()
    }

    #[test]
    fn only_the_columns_read_get_values_and_the_rules_read_what_they_need() {
        let n = normalizer();
        let all = row_of(&n, &n.all_rows(), &event());
        assert_eq!(all[1], Value::str("MsiExec.exe"));
        assert_eq!(all[4], Value::Multi(vec!["a".into(), "b".into()]));
        // process_name comes from process by a rule: process is computed, process_name kept.
        let name_only = n.row_needs(&|_| true, &|_| Some(vec![false, true, false, false, false]));
        let row = row_of(&n, &name_only, &event());
        assert_eq!(row[1], Value::str("MsiExec.exe"));
        assert!(row[2..].iter().all(Value::is_null), "{row:?}");
        // Columns read get the same values as with every column.
        let some = n.row_needs(&|_| true, &|_| Some(vec![false, false, true, true, false, false, false, true]));
        let row = row_of(&n, &some, &event());
        assert_eq!((&row[2], &row[3], &row[7]), (&all[2], &all[3], &all[7]));
        assert!([0, 1, 4, 5, 6].iter().all(|&c| row[c].is_null()), "{row:?}");
        let none = n.row_needs(&|_| false, &|_| None);
        let mut rows = Rows::default();
        n.normalize_needed(&event(), &none, &mut rows);
        assert!(rows.as_slice().is_empty());
    }
}
