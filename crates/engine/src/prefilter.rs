//! An index from exact field values to the tstats scans that can only match rows having one of
//! them, so that a row is checked only against the few detections it could satisfy.
//!
//! Most ESCU Processes detections begin with a process-name macro such as
//! `(Processes.process_name=msiexec.exe OR Processes.original_file_name=msiexec.exe)`: a row
//! whose process_name and original_file_name are neither can skip that detection without
//! evaluating anything else. Predicates without such an anchor are always evaluated.

use crate::predicate::{FieldRef, Pred};
use std::collections::HashMap;

/// Values (column, lowercased text) one of which a row must have for `pred` to hold, or
/// `None` when no such set exists.
pub(crate) fn anchors(pred: &Pred) -> Option<Vec<(usize, String)>> {
    match pred {
        Pred::Eq(FieldRef::Column(c), p) => Some(p.exact_values()?.into_iter().map(|v| (*c, v)).collect()),
        Pred::AnyOf(FieldRef::Column(c), pats) => {
            let mut out = Vec::new();
            for p in pats {
                out.extend(p.exact_values()?.into_iter().map(|v| (*c, v)));
            }
            Some(out)
        }
        Pred::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(anchors(i)?);
            }
            Some(out)
        }
        // Any conjunct's anchors are necessary; the smallest set filters best.
        Pred::And(items) => items.iter().filter_map(anchors).min_by_key(|a| a.len()),
        _ => None,
    }
}

/// Per dataset: which scans to try for a row.
#[derive(Debug, Default)]
pub(crate) struct ScanIndex {
    /// Columns that appear in some anchor.
    columns: Vec<usize>,
    /// (column, lowercased value) -> positions in the dataset's scan list.
    by_value: HashMap<(usize, String), Vec<usize>>,
    /// Scans evaluated for every row.
    always: Vec<usize>,
    /// Number of scans on the dataset.
    len: usize,
}

impl ScanIndex {
    /// Builds the index over the predicates of a dataset's scans (in their list order).
    pub fn new<'a>(preds: impl Iterator<Item = &'a Pred>) -> ScanIndex {
        let mut idx = ScanIndex::default();
        for (i, p) in preds.enumerate() {
            idx.len = i + 1;
            match anchors(p) {
                Some(a) if !a.is_empty() => {
                    for (c, v) in a {
                        if !idx.columns.contains(&c) {
                            idx.columns.push(c);
                        }
                        let list = idx.by_value.entry((c, v)).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
                _ => idx.always.push(i),
            }
        }
        idx
    }

    /// Positions of the scans worth evaluating for a row, in ascending order, written to
    /// `out` (`seen` and `key` are scratch buffers reused across rows).
    pub fn candidates(
        &self,
        values: &[vigil_model::Value],
        out: &mut Vec<usize>,
        seen: &mut Vec<bool>,
        key: &mut (usize, String),
    ) {
        out.clear();
        if self.by_value.is_empty() {
            out.extend_from_slice(&self.always);
            return;
        }
        seen.clear();
        seen.resize(self.len, false);
        for &i in &self.always {
            seen[i] = true;
        }
        for &c in &self.columns {
            let Some(v) = values.get(c) else { continue };
            for item in v.items() {
                key.0 = c;
                key.1.clear();
                if item.is_ascii() {
                    key.1.extend(item.chars().map(|ch| ch.to_ascii_lowercase()));
                } else {
                    key.1.extend(item.chars().flat_map(char::to_lowercase));
                }
                if let Some(list) = self.by_value.get(key) {
                    for &i in list {
                        seen[i] = true;
                    }
                }
            }
        }
        out.extend(seen.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;
    use vigil_model::Value;

    fn eq(c: usize, v: &str) -> Pred {
        Pred::Eq(FieldRef::Column(c), Pattern::new(v))
    }

    #[test]
    fn anchors_of_macro_shapes() {
        let p = Pred::And(vec![
            Pred::Or(vec![eq(0, "MSIEXEC.exe"), eq(1, "msiexec.exe")]),
            Pred::AnyOf(FieldRef::Column(2), vec![Pattern::new("*http://*")]),
        ]);
        assert_eq!(anchors(&p), Some(vec![(0, "msiexec.exe".into()), (1, "msiexec.exe".into())]));
        assert_eq!(anchors(&Pred::Or(vec![eq(0, "a"), eq(1, "b*")])), None);
        assert_eq!(anchors(&Pred::Not(Box::new(eq(0, "a")))), None);
    }

    #[test]
    fn candidates_include_always_and_matching() {
        let preds = [eq(0, "msiexec.exe"), Pred::True, eq(0, "cmd.exe")];
        let idx = ScanIndex::new(preds.iter());
        let mut out = Vec::new();
        let (mut seen, mut key) = (Vec::new(), (0, String::new()));
        idx.candidates(&[Value::str("MsiExec.EXE")], &mut out, &mut seen, &mut key);
        assert_eq!(out, [0, 1]);
        idx.candidates(&[Value::str("notepad.exe")], &mut out, &mut seen, &mut key);
        assert_eq!(out, [1]);
    }
}
