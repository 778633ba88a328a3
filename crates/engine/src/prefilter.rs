//! An index from exact field values to the scans that can only match rows having one of them,
//! so that a row (or raw event) is checked only against the few detections it could satisfy.
//!
//! Most ESCU Processes detections begin with a process-name macro such as
//! `(Processes.process_name=msiexec.exe OR Processes.original_file_name=msiexec.exe)`, and most
//! raw-event detections with `sourcetype=... EventCode=4104`: a row whose values are none of
//! those can skip the detection without evaluating anything else. Predicates without such an
//! anchor are always evaluated.

use crate::predicate::{FieldAccess, FieldRef, Pred};
use aho_corasick::AhoCorasick;
use std::collections::HashMap;

/// Values (field, lowercased text) one of which a row must have for `pred` to hold, or `None`
/// when no such set exists.
pub(crate) fn anchors(pred: &Pred) -> Option<Vec<(FieldRef, String)>> {
    let indexable = |f: &FieldRef| matches!(f, FieldRef::Column(_) | FieldRef::Name(_));
    match pred {
        Pred::Eq(f, p) if indexable(f) => Some(p.exact_values()?.into_iter().map(|v| (f.clone(), v)).collect()),
        Pred::AnyOf(f, pats) if indexable(f) => {
            let mut out = Vec::new();
            for p in pats {
                out.extend(p.exact_values()?.into_iter().map(|v| (f.clone(), v)));
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

/// Literals (field, lowercased text) one of which a field value must contain for `pred` to
/// hold (the longest literal piece of each wildcard value), or `None`.
pub(crate) fn literals(pred: &Pred) -> Option<Vec<(FieldRef, String)>> {
    let indexable = |f: &FieldRef| matches!(f, FieldRef::Column(_) | FieldRef::Name(_));
    match pred {
        Pred::Eq(f, p) if indexable(f) => Some(p.required_literals()?.into_iter().map(|v| (f.clone(), v)).collect()),
        Pred::AnyOf(f, pats) if indexable(f) => {
            let mut out = Vec::new();
            for p in pats {
                out.extend(p.required_literals()?.into_iter().map(|v| (f.clone(), v)));
            }
            Some(out)
        }
        Pred::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(literals(i)?);
            }
            Some(out)
        }
        // Prefer the conjunct with the fewest, longest literals.
        Pred::And(items) => items
            .iter()
            .filter_map(literals)
            .min_by_key(|l| (l.len(), std::cmp::Reverse(l.iter().map(|(_, s)| s.len()).min().unwrap_or(0)))),
        _ => None,
    }
}

/// Per field: an automaton over the literals required by some predicates.
#[derive(Debug)]
struct LiteralField {
    field: FieldRef,
    automaton: AhoCorasick,
    /// Literal id -> positions in the predicate list.
    owners: Vec<Vec<usize>>,
}

/// Which of a list of predicates to try for a row.
#[derive(Debug, Default)]
pub(crate) struct ScanIndex {
    /// Per anchored field: lowercased value -> positions in the predicate list.
    fields: Vec<(FieldRef, HashMap<String, Vec<usize>>)>,
    /// Per field: literals, one of which a value must contain, for predicates without an exact
    /// anchor.
    literal_fields: Vec<LiteralField>,
    /// Predicates evaluated for every row.
    always: Vec<usize>,
    /// Number of predicates.
    len: usize,
}

/// Scratch buffers for [`ScanIndex::candidates`], reused across rows.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub candidates: Vec<usize>,
    seen: Vec<bool>,
    key: String,
}

impl ScanIndex {
    /// Builds the index over predicates (in their list order).
    pub fn new<'a>(preds: impl Iterator<Item = &'a Pred>) -> ScanIndex {
        let mut idx = ScanIndex::default();
        // (field, literal texts, owners) gathered before building automata.
        let mut lits: Vec<(FieldRef, Vec<String>, Vec<Vec<usize>>)> = Vec::new();
        for (i, p) in preds.enumerate() {
            idx.len = i + 1;
            let exact = anchors(p).filter(|a| !a.is_empty());
            let literal = if exact.is_none() { literals(p).filter(|l| !l.is_empty()) } else { None };
            if let Some(l) = literal {
                for (f, text) in l {
                    let pos = match lits.iter().position(|(g, _, _)| *g == f) {
                        Some(pos) => pos,
                        None => {
                            lits.push((f, Vec::new(), Vec::new()));
                            lits.len() - 1
                        }
                    };
                    let (_, texts, owners) = &mut lits[pos];
                    match texts.iter().position(|t| *t == text) {
                        Some(t) if owners[t].last() != Some(&i) => owners[t].push(i),
                        Some(_) => {}
                        None => {
                            texts.push(text);
                            owners.push(vec![i]);
                        }
                    }
                }
                continue;
            }
            match exact {
                Some(a) if !a.is_empty() => {
                    for (f, v) in a {
                        let pos = match idx.fields.iter().position(|(g, _)| *g == f) {
                            Some(pos) => pos,
                            None => {
                                idx.fields.push((f, HashMap::new()));
                                idx.fields.len() - 1
                            }
                        };
                        let list = idx.fields[pos].1.entry(v).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
                _ => idx.always.push(i),
            }
        }
        for (field, texts, owners) in lits {
            match AhoCorasick::new(&texts) {
                Ok(automaton) => idx.literal_fields.push(LiteralField { field, automaton, owners }),
                // Cannot happen for plain literals; evaluating those predicates always is safe.
                Err(_) => idx.always.extend(owners.into_iter().flatten()),
            }
        }
        idx.always.sort_unstable();
        idx.always.dedup();
        idx
    }

    /// Positions of the predicates worth evaluating for `row`, ascending, in
    /// `scratch.candidates`.
    pub fn candidates(&self, row: &dyn FieldAccess, scratch: &mut Scratch) {
        let Scratch { candidates, seen, key } = scratch;
        candidates.clear();
        if self.fields.is_empty() && self.literal_fields.is_empty() {
            candidates.extend_from_slice(&self.always);
            return;
        }
        seen.clear();
        seen.resize(self.len, false);
        for &i in &self.always {
            seen[i] = true;
        }
        for (field, values) in &self.fields {
            row.any_item(field, &mut |item| {
                key.clear();
                if item.is_ascii() {
                    key.extend(item.bytes().map(|b| b.to_ascii_lowercase() as char));
                } else {
                    key.extend(item.chars().flat_map(char::to_lowercase));
                }
                if let Some(list) = values.get(key.as_str()) {
                    for &i in list {
                        seen[i] = true;
                    }
                }
                false
            });
        }
        for lf in &self.literal_fields {
            row.any_item(&lf.field, &mut |item| {
                key.clear();
                if item.is_ascii() {
                    key.extend(item.bytes().map(|b| b.to_ascii_lowercase() as char));
                } else {
                    key.extend(item.chars().flat_map(char::to_lowercase));
                }
                for m in lf.automaton.find_overlapping_iter(key.as_str()) {
                    for &i in &lf.owners[m.pattern().as_usize()] {
                        seen[i] = true;
                    }
                }
                false
            });
        }
        candidates.extend(seen.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;
    use vigil_model::{DatasetRow, Event, Value};

    fn eq(c: usize, v: &str) -> Pred {
        Pred::Eq(FieldRef::Column(c), Pattern::new(v))
    }

    fn name_eq(n: &str, v: &str) -> Pred {
        Pred::Eq(FieldRef::Name(n.into()), Pattern::new(v))
    }

    #[test]
    fn anchors_of_macro_shapes() {
        let p = Pred::And(vec![
            Pred::Or(vec![eq(0, "MSIEXEC.exe"), eq(1, "msiexec.exe")]),
            Pred::AnyOf(FieldRef::Column(2), vec![Pattern::new("*http://*")]),
        ]);
        assert_eq!(
            anchors(&p),
            Some(vec![(FieldRef::Column(0), "msiexec.exe".into()), (FieldRef::Column(1), "msiexec.exe".into())])
        );
        assert_eq!(anchors(&Pred::Or(vec![eq(0, "a"), eq(1, "b*")])), None);
        assert_eq!(anchors(&Pred::Not(Box::new(eq(0, "a")))), None);
    }

    #[test]
    fn candidates_for_rows() {
        let preds = [eq(0, "msiexec.exe"), Pred::True, eq(0, "cmd.exe")];
        let idx = ScanIndex::new(preds.iter());
        let mut s = Scratch::default();
        let row = |v: &str| DatasetRow { dataset: 0, time: 0, values: vec![Value::str(v)] };
        idx.candidates(&row("MsiExec.EXE"), &mut s);
        assert_eq!(s.candidates, [0, 1]);
        idx.candidates(&row("notepad.exe"), &mut s);
        assert_eq!(s.candidates, [1]);
    }

    #[test]
    fn literal_prefilter_for_wildcard_predicates() {
        let http = Pred::AnyOf(FieldRef::Column(0), vec![Pattern::new("*http://*"), Pattern::new("*https://*")]);
        let enc = Pred::Eq(FieldRef::Column(0), Pattern::new("*-EncodedCommand*"));
        let star = Pred::Eq(FieldRef::Column(0), Pattern::new("*"));
        let preds = [http, enc, star];
        let idx = ScanIndex::new(preds.iter());
        let mut s = Scratch::default();
        let row = |v: &str| DatasetRow { dataset: 0, time: 0, values: vec![Value::str(v)] };
        idx.candidates(&row("msiexec /i HTTPS://x"), &mut s);
        assert_eq!(s.candidates, [0, 2]);
        idx.candidates(&row("powershell -encodedcommand AAA"), &mut s);
        assert_eq!(s.candidates, [1, 2]);
        idx.candidates(&row("notepad"), &mut s);
        assert_eq!(s.candidates, [2]);
    }

    #[test]
    fn candidates_for_events_by_eventcode_and_sourcetype() {
        let preds = [
            Pred::And(vec![
                Pred::Or(vec![name_eq("sourcetype", "xmlwineventlog"), name_eq("source", "x")]),
                name_eq("EventCode", "4104"),
            ]),
            name_eq("EventCode", "1"),
        ];
        let idx = ScanIndex::new(preds.iter());
        let mut s = Scratch::default();
        let mut ev = Event { sourcetype: "XmlWinEventLog".into(), ..Default::default() };
        ev.push("EventCode", "1");
        idx.candidates(&ev, &mut s);
        assert_eq!(s.candidates, [1]);
    }
}
