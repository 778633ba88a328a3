//! The prefilter's map from field names to the conditions it checks on their values, and a
//! memo of it by a field's place in the row: rows of one kind (one event ID, one data model)
//! carry the same names in the same order, and comparing a name with the one last seen at its
//! place costs less than hashing it and probing the map, for every field of every row. Kinds
//! of events interleave in the input, so there is one memo per row shape (see
//! [`FieldAccess::shape`](crate::expr::field::FieldAccess::shape)), not one for all rows.

use crate::expr::field::{FieldRef, NamedFields, PROPERTY_NAMES};
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Field name -> the anchored fields (`Ok`) and literal fields (`Err`) of a
/// [`ScanIndex`](super::prefilter::ScanIndex) that read that name.
#[derive(Debug)]
pub(crate) struct NameTargets {
    /// Name -> its place in `targets`.
    index: HashMap<String, u32>,
    targets: Vec<Vec<Result<usize, usize>>>,
    /// The places in `targets` of the event properties' names ([`PROPERTY_NAMES`]).
    properties: [u32; 4],
    /// Tells this map's memo from other maps' (one scratch serves every index of a thread).
    id: u64,
}

/// What the names of the previous row of each map and shape resolved to, by place.
#[derive(Debug, Default)]
pub(crate) struct NameMemos {
    /// By map (its id): one memo per shape slot (see [`SHAPES`]).
    memos: Vec<(u64, Vec<Memo>)>,
}

/// What the names of a map's rows of one shape slot resolved to, by place, and the exact-value
/// lookups of their values.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// Per event property ([`PROPERTY_NAMES`]).
    pub properties: [ExactMemo; 4],
    places: Vec<Place>,
}

/// A field's place in the previous row: its name and what that resolved to.
#[derive(Debug, Default)]
struct Place {
    name: String,
    found: u32,
    exact: ExactMemo,
}

/// The last value of a place and the predicates whose exact value it is: a place mostly keeps
/// its value from row to row (source, sourcetype, host, index, an event ID), and comparing it
/// costs less than lowercasing and hashing it for the index's map.
#[derive(Debug, Default)]
pub(crate) struct ExactMemo {
    value: String,
    predicates: Vec<usize>,
    /// Whether `value` and `predicates` hold (for this place's current name).
    held: bool,
}

impl ExactMemo {
    /// The predicates whose exact value `value` is: remembered if it is the last value, else
    /// found by `find` (which pushes them onto the vector it is given).
    #[inline]
    pub fn find(&mut self, value: &str, find: impl FnOnce(&mut Vec<usize>)) -> &[usize] {
        if !self.held || self.value != value {
            self.value.clear();
            self.value.push_str(value);
            self.predicates.clear();
            find(&mut self.predicates);
            self.held = true;
        }
        &self.predicates
    }
}

/// Memos per map: rows whose shapes are equal modulo this share one. With one memo for all,
/// 37 % of the names of the 8 MB base XML corpus missed, its event kinds interleaving.
const SHAPES: usize = 16;

/// No entry in the map.
const ABSENT: u32 = u32::MAX;
/// Places remembered per row: rows with more fields look the rest up.
const MEMO_PLACES: usize = 256;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl NameTargets {
    /// The map of `targets` (field, condition), or `None` if a condition is on `_time`, or an
    /// exact-value one on `_raw` (rows read in one pass by name cannot meet those).
    pub fn new<'a>(targets: impl Iterator<Item = (&'a FieldRef, Result<usize, usize>)>) -> Option<NameTargets> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut map = NameTargets { index: HashMap::new(), targets: Vec::new(), properties: [ABSENT; 4], id };
        for (field, target) in targets {
            match field {
                // Read from the row's text, not its fields (see `ScanIndex::raw_literals`).
                FieldRef::Name(n) if n == "_raw" && target.is_err() => {}
                FieldRef::Name(n) if n != "_raw" && n != "_time" => {
                    let next = map.targets.len() as u32;
                    let at = *map.index.entry(n.clone()).or_insert(next);
                    if at == next {
                        map.targets.push(Vec::new());
                    }
                    map.targets[at as usize].push(target);
                }
                _ => return None,
            }
        }
        map.properties = PROPERTY_NAMES.map(|name| map.index.get(name).copied().unwrap_or(ABSENT));
        Some(map)
    }

    /// The conditions on the event properties ([`PROPERTY_NAMES`], in order).
    pub fn property_targets(&self) -> impl Iterator<Item = &[Result<usize, usize>]> + '_ {
        self.properties.iter().map(|&at| self.targets_at(at))
    }

    fn targets_at(&self, at: u32) -> &[Result<usize, usize>] {
        self.targets.get(at as usize).map_or(&[], Vec::as_slice)
    }

    /// This map's memo in `memos` for rows of `shape` (made on first use).
    pub fn memo<'m>(&self, memos: &'m mut NameMemos, shape: usize) -> &'m mut Memo {
        let at = match memos.memos.iter().position(|(id, _)| *id == self.id) {
            Some(at) => at,
            None => {
                memos.memos.push((self.id, (0..SHAPES).map(|_| Memo::default()).collect()));
                memos.memos.len() - 1
            }
        };
        &mut memos.memos[at].1[shape % SHAPES]
    }

    /// The conditions on field `name`, the row's field number `place` (counted from 0 in the
    /// order the row hands its fields out), through `memo` (from [`NameTargets::memo`]): none
    /// for a name standing for nothing ([`NamedFields::is_shadowed`]); with the place's memo
    /// of exact-value lookups, if the place is remembered.
    #[inline]
    pub fn lookup<'m>(&self, memo: &'m mut Memo, place: usize, name: &str) -> (&[Result<usize, usize>], Option<&'m mut ExactMemo>) {
        if place == memo.places.len() && place < MEMO_PLACES {
            memo.places.push(Place { name: name.to_string(), found: self.find(name), exact: ExactMemo::default() });
        }
        let (found, exact) = match memo.places.get_mut(place) {
            Some(seen) => {
                if seen.name != name {
                    seen.name.clear();
                    seen.name.push_str(name);
                    seen.found = self.find(name);
                    seen.exact.held = false;
                }
                (seen.found, Some(&mut seen.exact))
            }
            None => (self.find(name), None),
        };
        (self.targets_at(found), exact)
    }

    fn find(&self, name: &str) -> u32 {
        if NamedFields::is_shadowed(name) {
            return ABSENT;
        }
        self.index.get(name).copied().unwrap_or(ABSENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_through_the_memo_equal_lookups_in_the_map() {
        let (a, b, raw) = (FieldRef::Name("A".into()), FieldRef::Name("B".into()), FieldRef::Name("_raw".into()));
        let map = NameTargets::new([(&a, Ok(0)), (&b, Err(1)), (&a, Err(2)), (&raw, Err(3))].into_iter()).unwrap();
        let other = NameTargets::new([(&b, Ok(7))].into_iter()).unwrap();
        assert!(NameTargets::new([(&raw, Ok(0))].into_iter()).is_none());
        let mut memos = NameMemos::default();
        let rows: [&[&str]; 4] = [&["A", "B", "C"], &["A", "B", "C"], &["B", "A"], &["C", "C", "A", "B", "_raw"]];
        for row in rows {
            for (place, name) in row.iter().enumerate() {
                let want: &[Result<usize, usize>] = match *name {
                    "A" => &[Ok(0), Err(2)],
                    "B" => &[Err(1)],
                    _ => &[],
                };
                assert_eq!(map.lookup(map.memo(&mut memos, row.len()), place, name).0, want, "{row:?} {place}");
                let want_other: &[Result<usize, usize>] = if *name == "B" { &[Ok(7)] } else { &[] };
                assert_eq!(other.lookup(other.memo(&mut memos, row.len()), place, name).0, want_other);
            }
        }
    }

    /// Interleaved kinds of rows each keep the names of their last row, so neither evicts the
    /// other's (one memo for all rows held only the last row's names).
    #[test]
    fn rows_of_each_shape_keep_their_own_memo() {
        let a = FieldRef::Name("A".into());
        let map = NameTargets::new([(&a, Ok(0))].into_iter()).unwrap();
        let mut memos = NameMemos::default();
        let kinds: [&[&str]; 2] = [&["X", "A", "Y"], &["A", "Z"]];
        for row in kinds.iter().chain(kinds.iter()) {
            for (place, name) in row.iter().enumerate() {
                let want: &[Result<usize, usize>] = if *name == "A" { &[Ok(0)] } else { &[] };
                assert_eq!(map.lookup(map.memo(&mut memos, row.len()), place, name).0, want);
            }
        }
        for row in kinds {
            let seen: Vec<String> = map.memo(&mut memos, row.len()).places.iter().map(|p| p.name.clone()).collect();
            assert_eq!(seen, row);
        }
    }

    /// A place's last value is looked up again only when it changes, or when the place's name
    /// does (the same value of another field is another lookup).
    #[test]
    fn exact_lookups_are_remembered_per_place_and_name() {
        let (a, b) = (FieldRef::Name("A".into()), FieldRef::Name("B".into()));
        let map = NameTargets::new([(&a, Ok(0)), (&b, Ok(1))].into_iter()).unwrap();
        let mut memos = NameMemos::default();
        let mut finds = Vec::new();
        for (name, value) in [("A", "x"), ("A", "x"), ("A", "y"), ("B", "y"), ("B", "y"), ("A", "y")] {
            let (_, exact) = map.lookup(map.memo(&mut memos, 1), 0, name);
            let found = exact.unwrap().find(value, |out| {
                finds.push((name, value));
                out.push(name.len() + value.len());
            });
            assert_eq!(found, [name.len() + value.len()]);
        }
        assert_eq!(finds, [("A", "x"), ("A", "y"), ("B", "y"), ("A", "y")]);
    }
}
