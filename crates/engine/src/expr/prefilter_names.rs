//! The prefilter's map from field names to the conditions it checks on their values, and
//! memos of it by a field's place in the row: rows of one kind (one event ID, one data model)
//! carry the same names in the same order. When the row says which names it has (an event's
//! [`NamesShape`], from the normalizer, which compared them already), the places with
//! conditions are worked out once per shape ([`ShapePlan`]) and no other field is visited.
//! Else comparing a name with the one last seen at its place costs less than hashing it and
//! probing the map, for every field of every row; kinds of events interleave in the input, so
//! there is one such memo per row shape hint (see
//! [`FieldAccess::shape`](crate::expr::field::FieldAccess::shape)), not one for all rows.

use crate::expr::field::{FieldRef, NamedFields, PROPERTY_NAMES};
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use vigil_model::NamesShape;

/// Field name -> the anchored fields and literal fields of a
/// [`ScanIndex`](super::prefilter::ScanIndex) that read that name.
#[derive(Debug)]
pub(crate) struct NameTargets {
    /// Name -> its place in `targets`.
    index: HashMap<String, u32>,
    targets: Vec<Targets>,
    /// The places in `targets` of the event properties' names ([`PROPERTY_NAMES`]).
    properties: [u32; 4],
    /// Tells this map's memo from other maps' (one scratch serves every index of a thread).
    id: u64,
}

/// The conditions on one field name: the anchored fields and the literal fields (positions
/// in the index's lists) that read it.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    pub exact: Vec<usize>,
    pub literal: Vec<usize>,
}

/// No conditions.
static NO_TARGETS: Targets = Targets { exact: Vec::new(), literal: Vec::new() };

/// What the names of the previous row of each map and shape resolved to, by place.
#[derive(Debug, Default)]
pub(crate) struct NameMemos {
    /// By map (its id): one memo per shape slot (see [`SHAPES`]).
    memos: Vec<(u64, Vec<Memo>)>,
    /// By map id and names shape id.
    plans: HashMap<(u64, u64), ShapePlan>,
}

/// A map's conditions on the fields of rows of one [`NamesShape`], worked out once for them.
#[derive(Debug, Default)]
pub(crate) struct ShapePlan {
    /// The fields the shape covers that have conditions, in row order.
    pub places: Vec<PlannedPlace>,
    /// How many fields the shape covers.
    pub len: usize,
    /// The memo of the row's properties, and of its fields past `len` (fields derived from
    /// the others), by place counted from `len`.
    pub rest: Memo,
}

/// A field with conditions in a [`ShapePlan`].
#[derive(Debug, Default)]
pub(crate) struct PlannedPlace {
    /// Its place in the row.
    pub place: usize,
    /// Where its conditions are ([`NameTargets::targets_at`]).
    pub at: u32,
    pub exact: ExactMemo,
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
    /// As the words of their bitset (see `prefilter_bits::Words`).
    predicates: Vec<(u32, u64)>,
    /// Whether `value` and `predicates` hold (for this place's current name).
    held: bool,
}

impl ExactMemo {
    /// The predicates whose exact value `value` is: remembered if it is the last value, else
    /// found by `find` (which pushes them onto the vector it is given).
    #[inline]
    pub fn find(&mut self, value: &str, find: impl FnOnce(&mut Vec<(u32, u64)>)) -> &[(u32, u64)] {
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
pub(crate) const ABSENT: u32 = u32::MAX;
/// Places remembered per row: rows with more fields look the rest up.
const MEMO_PLACES: usize = 256;
/// Plans kept per thread (memory stays bounded whatever the input holds): past it, they are
/// all forgotten and worked out again as rows need them.
const MAX_PLANS: usize = 1024;

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
                        map.targets.push(Targets::default());
                    }
                    let targets = &mut map.targets[at as usize];
                    match target {
                        Ok(f) => targets.exact.push(f),
                        Err(l) => targets.literal.push(l),
                    }
                }
                _ => return None,
            }
        }
        map.properties = PROPERTY_NAMES.map(|name| map.index.get(name).copied().unwrap_or(ABSENT));
        Some(map)
    }

    /// Where the conditions on the event properties are ([`PROPERTY_NAMES`], in order).
    pub fn property_places(&self) -> [u32; 4] {
        self.properties
    }

    /// The conditions at `at` (from [`NameTargets::lookup`] or a plan); none for [`ABSENT`].
    #[inline]
    pub fn targets_at(&self, at: u32) -> &Targets {
        self.targets.get(at as usize).unwrap_or(&NO_TARGETS)
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

    /// This map's plan in `memos` for rows of names shape `shape` whose fields are `fields`
    /// (made on first use, from `fields`, which must be at least `shape.len` long).
    pub fn plan<'m>(&self, memos: &'m mut NameMemos, shape: NamesShape, fields: &[(String, String)]) -> &'m mut ShapePlan {
        let key = (self.id, shape.id);
        if !memos.plans.contains_key(&key) && memos.plans.len() >= MAX_PLANS {
            memos.plans.clear();
        }
        memos.plans.entry(key).or_insert_with(|| {
            let places = fields.iter().take(shape.len).enumerate();
            let with_targets = places.map(|(place, (name, _))| (place, self.find(name))).filter(|&(_, at)| at != ABSENT);
            let places = with_targets.map(|(place, at)| PlannedPlace { place, at, exact: ExactMemo::default() }).collect();
            ShapePlan { places, len: shape.len, rest: Memo::default() }
        })
    }

    /// Where the conditions on field `name` are ([`NameTargets::targets_at`]), the row's
    /// field number `place` (counted from 0 in the order the row hands its fields out, or from
    /// a plan's `len`), through `memo` (from [`NameTargets::memo`] or a plan): [`ABSENT`] for a
    /// name standing for nothing ([`NamedFields::is_shadowed`]); with the place's memo of
    /// exact-value lookups, if the place is remembered.
    #[inline]
    pub fn lookup<'m>(&self, memo: &'m mut Memo, place: usize, name: &str) -> (u32, Option<&'m mut ExactMemo>) {
        if place == memo.places.len() && place < MEMO_PLACES {
            memo.places.push(Place { name: name.to_string(), found: self.find(name), exact: ExactMemo::default() });
        }
        let (found, exact) = match memo.places.get_mut(place) {
            Some(seen) => {
                if !same_name(&seen.name, name) {
                    seen.name.clear();
                    seen.name.push_str(name);
                    seen.found = self.find(name);
                    seen.exact.held = false;
                }
                (seen.found, Some(&mut seen.exact))
            }
            None => (self.find(name), None),
        };
        (found, exact)
    }

    fn find(&self, name: &str) -> u32 {
        if NamedFields::is_shadowed(name) {
            return ABSENT;
        }
        self.index.get(name).copied().unwrap_or(ABSENT)
    }
}

/// Whether two field names are equal. Most are 4 to 16 bytes long: two overlapping words of
/// each tell, which costs less than the call to `bcmp` a comparison of strings makes, once
/// for every field of every row.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word8 = |s: &[u8], at: usize| s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes);
    let word4 = |s: &[u8], at: usize| s.get(at..at + 4).and_then(|w| <[u8; 4]>::try_from(w).ok()).map(u32::from_le_bytes);
    match n {
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conditions at `at`: (anchored fields, literal fields).
    fn conds(map: &NameTargets, at: u32) -> (Vec<usize>, Vec<usize>) {
        let t = map.targets_at(at);
        (t.exact.clone(), t.literal.clone())
    }

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
                let want = match *name {
                    "A" => (vec![0], vec![2]),
                    "B" => (vec![], vec![1]),
                    _ => (vec![], vec![]),
                };
                let at = map.lookup(map.memo(&mut memos, row.len()), place, name).0;
                assert_eq!(conds(&map, at), want, "{row:?} {place}");
                let want_other = if *name == "B" { (vec![7], vec![]) } else { (vec![], vec![]) };
                let at = other.lookup(other.memo(&mut memos, row.len()), place, name).0;
                assert_eq!(conds(&other, at), want_other);
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
                let want = if *name == "A" { (vec![0], vec![]) } else { (vec![], vec![]) };
                let at = map.lookup(map.memo(&mut memos, row.len()), place, name).0;
                assert_eq!(conds(&map, at), want);
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
                out.push(((name.len() + value.len()) as u32, 1));
            });
            assert_eq!(found, [((name.len() + value.len()) as u32, 1)]);
        }
        assert_eq!(finds, [("A", "x"), ("A", "y"), ("B", "y"), ("A", "y")]);
    }

    /// A plan holds the places of the covered fields that have conditions (a shadowed name
    /// has none), each with its own memo; its rest memo serves the fields past them.
    #[test]
    fn a_plan_holds_the_covered_places_with_conditions() {
        let (a, b) = (FieldRef::Name("A".into()), FieldRef::Name("B".into()));
        let map = NameTargets::new([(&a, Ok(0)), (&b, Err(1))].into_iter()).unwrap();
        let fields: Vec<(String, String)> = ["X", "A", "host", "B", "A", "B"].iter().map(|n| (n.to_string(), String::new())).collect();
        let mut memos = NameMemos::default();
        let plan = map.plan(&mut memos, NamesShape { id: 1, len: 4 }, &fields);
        let places: Vec<_> = plan.places.iter().map(|p| (p.place, conds(&map, p.at))).collect();
        assert_eq!(places, [(1, (vec![0], vec![])), (3, (vec![], vec![1]))]);
        assert_eq!(plan.len, 4);
        let at = map.lookup(&mut plan.rest, 0, "A").0;
        assert_eq!(conds(&map, at), (vec![0], vec![]));
        // The same shape again: the plan as made (not from these fields); another: its own.
        assert_eq!(map.plan(&mut memos, NamesShape { id: 1, len: 4 }, &[]).places.len(), 2);
        assert_eq!(map.plan(&mut memos, NamesShape { id: 2, len: 6 }, &fields).places.len(), 4);
    }

    /// Plans past the bound are forgotten, not kept: memory stays bounded.
    #[test]
    fn plans_stay_bounded() {
        let a = FieldRef::Name("A".into());
        let map = NameTargets::new([(&a, Ok(0))].into_iter()).unwrap();
        let fields = vec![("A".to_string(), String::new())];
        let mut memos = NameMemos::default();
        for id in 0..3 * MAX_PLANS as u64 {
            assert_eq!(map.plan(&mut memos, NamesShape { id, len: 1 }, &fields).places.len(), 1);
            assert!(memos.plans.len() <= MAX_PLANS);
        }
    }

    #[test]
    fn names_are_the_same_only_when_equal() {
        let names = ["", "a", "ab", "abc", "abcd", "abce", "bbcd", "Image", "Imagf", "EventCode", "EventCodf", "FventCode"];
        let long = ["ParentCommandLine", "ParentCommandLinf", "QarentCommandLine", "ParentCommandLin", "OriginalFileName"];
        let lengths: Vec<String> = (0..40).map(|n| "x".repeat(n)).collect();
        let all: Vec<&str> = names.iter().chain(&long).copied().chain(lengths.iter().map(String::as_str)).collect();
        for a in &all {
            for b in &all {
                assert_eq!(same_name(a, b), a == b, "{a:?} {b:?}");
            }
        }
        // A difference at every place of every length up to 20.
        for n in 1..=20 {
            let a = "n".repeat(n);
            for at in 0..n {
                let mut b = a.clone().into_bytes();
                b[at] = b'm';
                assert!(!same_name(&a, std::str::from_utf8(&b).unwrap_or_default()), "{n} {at}");
            }
        }
    }
}
