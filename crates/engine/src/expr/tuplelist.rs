//! `(f1="a" f2="b") OR (f1="c" f2="d") OR ...` with many alternatives, looked up by the
//! tuple of values instead of tried one by one.
//!
//! This is what `format` makes of a subsearch's rows (up to 10 000 of them): "Suspicious Reg
//! exe Process" tested every process row against thousands of `process_id=… dest=…` pairs,
//! and spent 1.7 s of a 4 GB run doing it. Alternatives whose values are all exact (no
//! wildcard) go into a hash set of their lowercased value tuples; any others are kept as
//! they are and tried in order after the lookup, so the result is that of the plain `OR`.

use crate::expr::pattern::Pattern;
use crate::expr::predicate::{FieldAccess, FieldRef, Pred};
use hashbrown::HashSet;

/// Below this many alternatives a plain loop is as fast.
const INDEX_FROM: usize = 8;

/// Separates a key's parts: the byte 0xFF never occurs in UTF-8 text.
const SEPARATOR: u8 = 0xFF;

#[derive(Clone, Debug)]
pub struct TupleList {
    /// The fields every indexed alternative compares, in key order.
    fields: Vec<FieldRef>,
    /// Keys: the lowercased values of `fields`, each followed by [`SEPARATOR`].
    exact: HashSet<Box<[u8]>>,
    /// Alternatives of any other shape, tried in order.
    rest: Vec<Pred>,
}

impl TupleList {
    /// Indexes `alternatives` (the items of an `OR`) when enough of them are conjunctions of
    /// exact equalities on the same two or more fields; gives them back otherwise.
    pub fn build(alternatives: Vec<Pred>) -> Result<TupleList, Vec<Pred>> {
        let first = alternatives.iter().filter_map(exact_terms).find(|t| t.len() >= 2);
        let Some(fields) = first.map(|t| t.into_iter().map(|(f, _)| f).collect::<Vec<_>>()) else {
            return Err(alternatives);
        };
        let indexable = alternatives.iter().filter(|p| key_of(p, &fields).is_some()).count();
        if fields.len() < 2 || indexable < INDEX_FROM {
            return Err(alternatives);
        }
        let mut list = TupleList { fields, exact: HashSet::new(), rest: Vec::new() };
        for p in alternatives {
            match key_of(&p, &list.fields) {
                Some(key) => {
                    list.exact.insert(key.into_boxed_slice());
                }
                None => list.rest.push(p),
            }
        }
        Ok(list)
    }

    pub fn eval(&self, row: &dyn FieldAccess) -> bool {
        self.any_exact(row) || self.rest.iter().any(|p| p.eval(row))
    }

    /// Whether some combination of the row's items of `fields` is an indexed key.
    fn any_exact(&self, row: &dyn FieldAccess) -> bool {
        let mut items: Vec<Vec<Vec<u8>>> = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let mut values = Vec::new();
            row.any_item(f, &mut |s| {
                let mut folded = Vec::with_capacity(s.len() + 1);
                fold_into(s, &mut folded);
                folded.push(SEPARATOR);
                values.push(folded);
                false
            });
            if values.is_empty() {
                return false;
            }
            items.push(values);
        }
        // Every combination of items (fields are almost always single-valued: one).
        let mut pick = vec![0usize; items.len()];
        let mut key = Vec::new();
        loop {
            key.clear();
            for (values, &i) in items.iter().zip(&pick) {
                key.extend_from_slice(&values[i]);
            }
            if self.exact.contains(key.as_slice()) {
                return true;
            }
            let Some(next) = (0..pick.len()).find(|&k| pick[k] + 1 < items[k].len()) else { return false };
            pick[next] += 1;
            pick[..next].iter_mut().for_each(|i| *i = 0);
        }
    }

    /// The fields the alternatives read.
    /// How many alternatives are indexed, and the others (for EXPLAIN).
    pub(crate) fn sizes(&self) -> (usize, &[Pred]) {
        (self.exact.len(), &self.rest)
    }

    pub fn fields(&self) -> impl Iterator<Item = &FieldRef> {
        self.fields.iter()
    }

    pub fn rest(&self) -> &[Pred] {
        &self.rest
    }
}

/// `f1=v1 AND f2=v2 ...` with exact values on distinct fields, sorted by field: the terms.
fn exact_terms(p: &Pred) -> Option<Vec<(FieldRef, &[u8])>> {
    let Pred::And(items) = p else { return None };
    let mut terms = Vec::with_capacity(items.len());
    for item in items {
        let Pred::Eq(f, pat) = item else { return None };
        terms.push((f.clone(), exact_text(pat)?));
    }
    terms.sort_by(|a, b| a.0.cmp(&b.0));
    terms.windows(2).all(|w| w[0].0 != w[1].0).then_some(terms)
}

/// The key of an alternative that compares exactly `fields` with exact values.
fn key_of(p: &Pred, fields: &[FieldRef]) -> Option<Vec<u8>> {
    let terms = exact_terms(p)?;
    if terms.len() != fields.len() || terms.iter().zip(fields).any(|((f, _), g)| f != g) {
        return None;
    }
    let mut key = Vec::new();
    for (_, text) in terms {
        key.extend_from_slice(text);
        key.push(SEPARATOR);
    }
    Some(key)
}

/// The lowercased text a pattern without wildcards equals.
fn exact_text(p: &Pattern) -> Option<&[u8]> {
    let mut alternatives = p.alternative_pieces();
    match (alternatives.next(), alternatives.next()) {
        (Some([only]), None) => Some(only.as_slice()),
        _ => None,
    }
}

/// Lowercases `s` as patterns do (see `Pattern::with_folded`).
fn fold_into(s: &str, out: &mut Vec<u8>) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        let mut buf = [0u8; 4];
        for c in s.chars().flat_map(char::to_lowercase) {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{Record, Value};

    fn eq(f: &str, v: &str) -> Pred {
        Pred::Eq(FieldRef::Name(f.into()), Pattern::new(v))
    }

    fn pair(pid: &str, dest: &str) -> Pred {
        Pred::And(vec![eq("process_id", pid), eq("dest", dest)])
    }

    fn row(pid: Value, dest: &str) -> Record {
        let mut r = Record::new();
        r.push_new("process_id".into(), pid);
        r.push_new("dest".into(), Value::str(dest));
        r
    }

    fn alternatives() -> Vec<Pred> {
        let mut alts: Vec<Pred> = (0..50).map(|i| pair(&format!("{}", 1000 + i), &format!("HOST{}", i % 5))).collect();
        // Field order differs, a wildcard, a different field set: all must still count.
        alts.push(Pred::And(vec![eq("dest", "swapped"), eq("process_id", "7")]));
        alts.push(pair("42", "web*"));
        alts.push(eq("dest", "alone"));
        alts
    }

    #[test]
    fn matches_exactly_what_the_plain_or_matches() {
        let list = TupleList::build(alternatives()).expect("indexed");
        assert_eq!(list.rest().len(), 2);
        let plain = Pred::Or(alternatives());
        let rows = [
            row(Value::str("1003"), "host3"),
            row(Value::str("1003"), "HOST4"),
            row(Value::Num(1010.0), "Host0"),
            row(Value::str("7"), "SWAPPED"),
            row(Value::str("42"), "webserver"),
            row(Value::str("43"), "webserver"),
            row(Value::str("9"), "alone"),
            row(Value::Multi(vec!["5".into(), "1001".into()]), "host1"),
            row(Value::Multi(vec!["5".into(), "1001".into()]), "host2"),
            row(Value::Null, "host1"),
            row(Value::str("10035"), "host3"),
            row(Value::str("1003"), "host3x"),
        ];
        let expected = [true, false, true, true, true, false, true, true, false, false, false, false];
        for (r, want) in rows.iter().zip(expected) {
            assert_eq!(plain.eval(r), want, "plain {r:?}");
            assert_eq!(list.eval(r), want, "indexed {r:?}");
        }
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        let alts: Vec<Pred> = (0..10).map(|i| pair(&format!("1{i}"), "ab")).collect();
        let list = TupleList::build(alts).expect("indexed");
        assert!(list.eval(&row(Value::str("13"), "ab")));
        assert!(!list.eval(&row(Value::str("13a"), "b")));
    }

    #[test]
    fn short_or_single_field_lists_are_left_alone() {
        assert!(TupleList::build((0..5).map(|i| pair(&i.to_string(), "h")).collect()).is_err());
        assert!(TupleList::build((0..20).map(|i| Pred::And(vec![eq("a", &i.to_string())])).collect()).is_err());
    }
}
