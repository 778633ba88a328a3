//! An index from exact field values to the scans that can only match rows having one of them,
//! so that a row (or raw event) is checked only against the few detections it could satisfy.
//!
//! Most ESCU Processes detections begin with a process-name macro such as
//! `(Processes.process_name=msiexec.exe OR Processes.original_file_name=msiexec.exe)`, and most
//! raw-event detections with `sourcetype=... EventCode=4104`: a row whose values are none of
//! those can skip the detection without evaluating anything else. Predicates without such an
//! anchor are always evaluated.

use crate::expr::field::{FieldAccess, FieldRef};
use crate::expr::predicate::Pred;
use crate::expr::prefilter_bits::{push_positions, Bits, Words};
use crate::expr::prefilter_memo::LiteralMemo;
use crate::expr::prefilter_names::{NameMemos, NameTargets};
use crate::expr::prefilter_search::{is_raw, FieldSearcher, LazyDfas};
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Values (field, lowercased text) one of which a row must have for `pred` to hold, or `None`
/// when no such set exists.
pub(crate) fn anchors(pred: &Pred) -> Option<Vec<(FieldRef, String)>> {
    let indexable = |f: &FieldRef| matches!(f, FieldRef::Column(_) | FieldRef::Name(_));
    match pred {
        Pred::Eq(f, p) if indexable(f) => Some(p.exact_values()?.into_iter().map(|v| (f.clone(), v)).collect()),
        Pred::AnyOf(f, pats) if indexable(f) => {
            let mut out = Vec::new();
            for p in pats.iter() {
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
/// hold (the longest literal piece of each wildcard value), or `None`. A conjunct whose
/// literals are all among `anchored` (already an exact-value condition) is not chosen: in
/// `EventCode=1 Image IN ("*\\a.exe", "*\\b.exe")` the literal condition is on Image; and
/// exact-value conjuncts are chosen last.
pub(crate) fn literals(pred: &Pred, anchored: &[(FieldRef, String)]) -> Option<Vec<(FieldRef, String)>> {
    let indexable = |f: &FieldRef| matches!(f, FieldRef::Column(_) | FieldRef::Name(_));
    match pred {
        Pred::Eq(f, p) if indexable(f) => Some(p.required_literals()?.into_iter().map(|v| (f.clone(), v)).collect()),
        Pred::AnyOf(f, pats) if indexable(f) => {
            let mut out = Vec::new();
            for p in pats.iter() {
                out.extend(p.required_literals()?.into_iter().map(|v| (f.clone(), v)));
            }
            Some(out)
        }
        // A bare term: the event's text must contain its literal.
        Pred::Raw(p) => Some(p.required_literals()?.into_iter().map(|v| (FieldRef::Name("_raw".into()), v)).collect()),
        Pred::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(literals(i, anchored)?);
            }
            Some(out)
        }
        // Prefer the conjunct with the fewest, longest literals. Exact-value conjuncts (`source=...`)
        // come last: their values are anchors' business, and a wildcard conjunct's literals are usually far more selective.
        // Nested conjunctions are one: in `EventID=3 AND Channel=... AND (Initiated=true AND
        // Image=*\\regsvr32.exe)` (a Sigma rule's) the literal is Image's, not Channel's.
        Pred::And(items) => conjuncts(items)
            .into_iter()
            .filter_map(|i| Some((anchors(i).is_some(), literals(i, anchored)?)))
            .filter(|(_, l)| !l.iter().all(|x| anchored.contains(x)))
            .min_by_key(|(exact, l)| (*exact, l.len(), std::cmp::Reverse(l.iter().map(|(_, s)| s.len()).min().unwrap_or(0))))
            .map(|(_, l)| l),
        _ => None,
    }
}

/// The conjuncts of `items`, those of nested conjunctions in their place.
fn conjuncts(items: &[Pred]) -> Vec<&Pred> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Pred::And(inner) => out.extend(conjuncts(inner)),
            other => out.push(other),
        }
    }
    out
}

/// The conditions the index checks for `pred`: values one of which a row must have, and
/// literals one of which a value must contain (each `None` when there is none).
pub(crate) type Conditions = (Option<Vec<(FieldRef, String)>>, Option<Vec<(FieldRef, String)>>);

pub(crate) fn conditions(pred: &Pred) -> Conditions {
    let exact = anchors(pred).filter(|a| !a.is_empty());
    // A literal condition that only restates the anchors adds nothing.
    let literal = literals(pred, exact.as_deref().unwrap_or(&[]))
        .filter(|l| !l.is_empty())
        .filter(|l| exact.as_ref().is_none_or(|a| !l.iter().all(|x| a.contains(x))));
    (exact, literal)
}

/// Per field: a searcher over the literals required by some predicates.
#[derive(Debug)]
struct LiteralField {
    field: FieldRef,
    searcher: FieldSearcher,
    /// Whether every literal is ASCII: then non-ASCII text needs no lowercasing first.
    ascii: bool,
    /// Whether the searcher folds ASCII case itself (see [`FieldSearcher::folds_case`]); else the
    /// text is ASCII-lowercased before it is searched.
    folds_case: bool,
    /// Literal id -> its predicates.
    owners: Vec<Words>,
    /// The predicates owning the literals, when every one of them also has an exact-value
    /// condition: the field's values are searched only when one of those conditions holds (a
    /// predicate whose exact value is missing is no candidate whatever the values hold).
    gate: Option<Words>,
}

/// Which of a list of predicates to try for a row.
///
/// A predicate may have two independent necessary conditions: an exact value of some field
/// (its anchors) and a literal some field must contain. A row is a candidate only if it meets
/// every condition its predicate has: `sysmon EventCode=7 ImageLoaded IN ("*\\wbemprox.dll")`
/// is not tried on every image load, only on those whose path contains the literal.
#[derive(Debug, Default)]
pub(crate) struct ScanIndex {
    /// Per anchored field: lowercased value -> its predicates.
    fields: Vec<(FieldRef, HashMap<String, Words>)>,
    /// Per field: literals, one of which a value must contain.
    literal_fields: Vec<LiteralField>,
    /// Per word of the predicates' bitsets: those with an exact-value condition, and those
    /// with a literal condition.
    exact_needed: Vec<u64>,
    literal_needed: Vec<u64>,
    /// Field name -> the anchored fields (`Ok`) and literal fields (`Err`) of that name, for
    /// rows read in one pass by name; `None` if an exact-value condition is on `_raw` or
    /// `_time`.
    by_name: Option<NameTargets>,
    /// Literal fields on `_raw` (bare terms, Sigma keywords), checked after the one pass.
    raw_literals: Vec<usize>,
    /// Predicates with no condition (evaluated for every row).
    always: Vec<usize>,
    /// Number of predicates.
    len: usize,
    /// Tells this index's automata from other indexes' in the memo of a thread's searches.
    id: u64,
}

/// The next index's id (0 is no index: an empty memo slot).
static NEXT_INDEX_ID: AtomicU64 = AtomicU64::new(1);

/// Scratch buffers for [`ScanIndex::candidates`], reused across rows. Its parts are borrowed
/// apart (not taken out and put back, which made and dropped a default part per row).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub candidates: Vec<usize>,
    met: Met,
    /// Field names by their place in the previous row, per index (see `NameTargets`).
    names: NameMemos,
    pass: PassBuffers,
}

/// The conditions the row at hand met, per predicate (see `prefilter_bits`).
#[derive(Debug, Default)]
struct Met {
    exact: Bits,
    literal: Bits,
}

/// Buffers of one pass over a row's fields.
#[derive(Debug, Default)]
struct PassBuffers {
    /// A lowercased value.
    key: String,
    /// The values with literal conditions, searched once every exact value is in: where
    /// their conditions are (see `NameTargets::targets_at`) and where they are in the row.
    literal_values: Vec<(u32, named::ValueAt)>,
    /// The literals recently searched values held, and the thread's lazily built DFAs.
    searches: Searches,
}

/// What [`ScanIndex::meet_literal`] searches with.
#[derive(Debug, Default)]
struct Searches {
    memo: LiteralMemo,
    dfas: LazyDfas,
}

impl ScanIndex {
    /// Builds the index over predicates (in their list order).
    pub fn new<'a>(preds: impl Iterator<Item = &'a Pred>) -> ScanIndex {
        let mut idx = ScanIndex { id: NEXT_INDEX_ID.fetch_add(1, Ordering::Relaxed), ..ScanIndex::default() };
        // Per predicate: whether it has an exact-value condition, and a literal condition.
        let (mut has_exact, mut has_literal) = (Vec::new(), Vec::new());
        let mut exact_lists: Vec<HashMap<String, Vec<usize>>> = Vec::new();
        // (field, literal texts, owners) gathered before building automata.
        let mut lits: Vec<(FieldRef, Vec<String>, Vec<Vec<usize>>)> = Vec::new();
        // (field position in `lits`, literal) -> its position in that field's texts: a search
        // of the texts per literal was quadratic in a field's literals (thousands with SigmaHQ).
        let mut text_pos: HashMap<(usize, String), usize> = HashMap::new();
        for (i, p) in preds.enumerate() {
            idx.len = i + 1;
            let (exact, literal) = conditions(p);
            has_exact.push(exact.is_some());
            has_literal.push(literal.is_some());
            if exact.is_none() && literal.is_none() {
                idx.always.push(i);
            }
            for (f, text) in literal.into_iter().flatten() {
                let pos = match lits.iter().position(|(g, _, _)| *g == f) {
                    Some(pos) => pos,
                    None => {
                        lits.push((f, Vec::new(), Vec::new()));
                        lits.len() - 1
                    }
                };
                let (_, texts, owners) = &mut lits[pos];
                // The texts themselves are moved out of the map once every literal is in.
                match text_pos.entry((pos, text)) {
                    hashbrown::hash_map::Entry::Occupied(t) => {
                        let t = *t.get();
                        if owners[t].last() != Some(&i) {
                            owners[t].push(i);
                        }
                    }
                    hashbrown::hash_map::Entry::Vacant(slot) => {
                        texts.push(String::new());
                        owners.push(vec![i]);
                        slot.insert(texts.len() - 1);
                    }
                }
            }
            for (f, v) in exact.into_iter().flatten() {
                let pos = match idx.fields.iter().position(|(g, _)| *g == f) {
                    Some(pos) => pos,
                    None => {
                        idx.fields.push((f, HashMap::new()));
                        exact_lists.push(HashMap::new());
                        idx.fields.len() - 1
                    }
                };
                let list = exact_lists[pos].entry(v).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        for ((_, values), lists) in idx.fields.iter_mut().zip(exact_lists) {
            *values = lists.into_iter().map(|(v, list)| (v, Words::of(list))).collect();
        }
        for ((pos, text), t) in text_pos {
            lits[pos].1[t] = text;
        }
        idx.add_literal_fields(lits, &has_exact, &mut has_literal);
        let words = idx.len.div_ceil(64);
        idx.exact_needed = Words::of((0..idx.len).filter(|&i| has_exact[i])).dense(words);
        idx.literal_needed = Words::of((0..idx.len).filter(|&i| has_literal[i])).dense(words);
        idx.always.sort_unstable();
        idx.always.dedup();
        let exact_targets = idx.fields.iter().enumerate().map(|(i, (f, _))| (f, Ok(i)));
        let literal_targets = idx.literal_fields.iter().enumerate().map(|(i, lf)| (&lf.field, Err(i)));
        idx.by_name = NameTargets::new(exact_targets.chain(literal_targets));
        idx.raw_literals = (0..idx.literal_fields.len()).filter(|&l| is_raw(&idx.literal_fields[l].field)).collect();
        idx
    }

    /// Builds the searchers of the literal fields `lits` (field, literals, their predicates),
    /// given which predicates have an exact-value condition; a predicate whose literals cannot
    /// be searched loses its literal condition.
    #[allow(clippy::type_complexity)]
    fn add_literal_fields(&mut self, lits: Vec<(FieldRef, Vec<String>, Vec<Vec<usize>>)>, has_exact: &[bool], has_literal: &mut [bool]) {
        for (field, texts, owners) in lits {
            let searcher = FieldSearcher::new(&texts);
            let ascii = texts.iter().all(|t| t.is_ascii());
            let mut gate: Vec<usize> = owners.iter().flatten().copied().collect();
            gate.sort_unstable();
            gate.dedup();
            let gate = gate.iter().all(|&i| has_exact[i]).then(|| Words::of(gate));
            match searcher {
                Ok(searcher) => {
                    let folds_case = searcher.folds_case();
                    let owners = owners.into_iter().map(Words::of).collect();
                    self.literal_fields.push(LiteralField { field, searcher, ascii, folds_case, owners, gate });
                }
                // Cannot happen for plain literals; dropping the literal condition is safe.
                Err(_) => {
                    for i in owners.into_iter().flatten() {
                        has_literal[i] = false;
                        if !has_exact[i] {
                            self.always.push(i);
                        }
                    }
                }
            }
        }
    }

    /// Positions of the predicates worth evaluating for `row`, ascending, in
    /// `scratch.candidates`.
    pub fn candidates(&self, row: &dyn FieldAccess, scratch: &mut Scratch) {
        scratch.candidates.clear();
        if self.fields.is_empty() && self.literal_fields.is_empty() {
            scratch.candidates.extend_from_slice(&self.always);
            return;
        }
        let Scratch { candidates, met, names, pass } = scratch;
        // Grown, never shrunk: indexes of different sizes (the raw events', each dataset's)
        // alternate row by row, and every word is cleared after use, so words past this
        // index's predicates stay clear.
        let words = self.exact_needed.len();
        met.exact.reserve_words(words);
        met.literal.reserve_words(words);
        let one_pass = match (&self.by_name, row.named_fields()) {
            (Some(by_name), Some(named)) => {
                self.meet_named(by_name, &named, row, names, pass, met);
                true
            }
            _ => false,
        };
        let PassBuffers { key, searches, .. } = pass;
        if one_pass {
            for &l in &self.raw_literals {
                if !self.gate_open(l, met) {
                    continue;
                }
                if let Some(raw) = row.raw() {
                    self.meet_literal(l, raw, key, searches, met);
                }
            }
        } else {
            for (f, (field, _)) in self.fields.iter().enumerate() {
                row.any_item(field, &mut |item| {
                    self.meet_exact(f, item, key, met);
                    false
                });
            }
            for (l, lf) in self.literal_fields.iter().enumerate() {
                // Every exact value is in: a field whose gate is shut cannot make a candidate.
                if !self.gate_open(l, met) {
                    continue;
                }
                row.any_item(&lf.field, &mut |item| {
                    self.meet_literal(l, item, key, searches, met);
                    false
                });
            }
        }
        // A candidate met every condition it has: predicates with none (`always`) among them.
        for (w, (&exact_needed, &literal_needed)) in self.exact_needed.iter().zip(&self.literal_needed).enumerate() {
            let in_list = if (w + 1) * 64 > self.len { (1u64 << (self.len % 64)) - 1 } else { u64::MAX };
            let (exact, literal) = (met.exact.take_word(w), met.literal.take_word(w));
            push_positions(w, (exact | !exact_needed) & (literal | !literal_needed) & in_list, candidates);
        }
    }
}

impl ScanIndex {
    /// Whether literal field `l`'s values can make a candidate of this row: it has no gate, or
    /// a predicate of its gate met its exact-value condition.
    fn gate_open(&self, l: usize, met: &Met) -> bool {
        self.literal_fields[l].gate.as_ref().is_none_or(|gate| met.exact.any(gate.as_slice()))
    }

    fn meet_exact(&self, f: usize, item: &str, key: &mut String, met: &mut Met) {
        met.exact.add(self.exact_predicates(f, item, key));
    }

    /// The predicates one of whose exact values for anchored field `f` is `item`.
    fn exact_predicates(&self, f: usize, item: &str, key: &mut String) -> &[(u32, u64)] {
        // A value lowercase already (event codes, most names) is looked up without a copy.
        let folded = if item.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
            item
        } else {
            lowercase_into(item, key);
            key.as_str()
        };
        self.fields[f].1.get(folded).map_or(&[], Words::as_slice)
    }

    fn meet_literal(&self, l: usize, item: &str, key: &mut String, searches: &mut Searches, met: &mut Met) {
        let lf = &self.literal_fields[l];
        let field_id = (self.id << 32) | l as u64;
        let Searches { memo, dfas } = searches;
        let found = memo.find(field_id, item, |found| {
            // Text is searched lowercased, unless only its ASCII letters could need it (it is
            // ASCII, or the literals are and no character of it lowercases to ASCII) and either
            // the automaton folds ASCII case itself or the text has no upper-case ASCII letter.
            let ascii_only = item.is_ascii() || (lf.ascii && !item.contains(LOWERCASE_TO_ASCII));
            let text = if ascii_only && (lf.folds_case || !item.bytes().any(|b| b.is_ascii_uppercase())) {
                item
            } else {
                lowercase_into(item, key);
                key.as_str()
            };
            lf.searcher.find(text, dfas.of(field_id), found);
        });
        for &p in found {
            met.literal.add(lf.owners[p as usize].as_slice());
        }
    }
}

/// The non-ASCII characters whose lowercase holds ASCII (İ -> i̇, Kelvin sign -> k).
const LOWERCASE_TO_ASCII: [char; 2] = ['\u{130}', '\u{212A}'];

fn lowercase_into(item: &str, key: &mut String) {
    super::field::fold_into(key, item);
}

#[path = "prefilter_named.rs"]
mod named;

#[cfg(test)]
#[path = "prefilter_tests.rs"]
mod tests;
