//! `(f1="a" f2="b") OR (f1="c" f2="d") OR ...` with many alternatives, looked up by the
//! tuple of values instead of tried one by one.
//!
//! This is what `format` makes of a subsearch's rows (up to 10 000 of them): "Suspicious Reg
//! exe Process" tested every process row against thousands of `process_id=… dest=…` pairs,
//! and spent 1.7 s of a 4 GB run doing it. Alternatives whose values are all exact (no
//! wildcard) go into a hash set of their lowercased value tuples; any others are kept as
//! they are and tried in order after the lookup, so the result is that of the plain `OR`.

use crate::expr::field::{FieldAccess, FieldRef};
use hashbrown::HashSet;

/// Below this many alternatives a plain loop is as fast.
const INDEX_FROM: usize = 8;

/// Separates a key's parts: the byte 0xFF never occurs in UTF-8 text.
const SEPARATOR: u8 = 0xFF;

/// An alternative of the `OR`, as the index sees it.
pub trait Alternative {
    /// `f1=v1 AND f2=v2 ...` with exact values (lowercased) on distinct fields, sorted by
    /// field: the terms. `None` for any other shape.
    fn exact_terms(&self) -> Option<Vec<(FieldRef, &[u8])>>;
    fn eval(&self, row: &dyn FieldAccess) -> bool;
}

#[derive(Clone, Debug, PartialEq)]
pub struct TupleList<A> {
    /// The fields every indexed alternative compares, in key order.
    fields: Vec<FieldRef>,
    /// Keys: the lowercased values of `fields`, each followed by [`SEPARATOR`].
    exact: HashSet<Box<[u8]>>,
    /// Alternatives of any other shape, tried in order.
    rest: Vec<A>,
}

impl<A: Alternative> TupleList<A> {
    /// Indexes `alternatives` (the items of an `OR`) when enough of them are conjunctions of
    /// exact equalities on the same two or more fields; gives them back otherwise.
    pub fn build(alternatives: Vec<A>) -> Result<TupleList<A>, Vec<A>> {
        let first = alternatives.iter().filter_map(A::exact_terms).find(|t| t.len() >= 2);
        let Some(fields) = first.map(|t| t.into_iter().map(|(f, _)| f).collect::<Vec<_>>()) else {
            return Err(alternatives);
        };
        let indexable = alternatives.iter().filter(|p| key_of(*p, &fields).is_some()).count();
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

    /// How many alternatives are indexed, and the others (for EXPLAIN).
    pub(crate) fn sizes(&self) -> (usize, &[A]) {
        (self.exact.len(), &self.rest)
    }

    /// The fields the indexed alternatives read.
    pub fn fields(&self) -> impl Iterator<Item = &FieldRef> {
        self.fields.iter()
    }

    pub fn rest(&self) -> &[A] {
        &self.rest
    }
}

/// The key of an alternative that compares exactly `fields` with exact values.
fn key_of<A: Alternative>(p: &A, fields: &[FieldRef]) -> Option<Vec<u8>> {
    let terms = p.exact_terms()?;
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
