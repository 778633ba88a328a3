//! The prefilter's map from field names to the conditions it checks on their values, and a
//! memo of it by a field's place in the row: rows of one kind (one event ID, one data model)
//! carry the same names in the same order, and comparing a name with the one last seen at its
//! place costs less than hashing it and probing the map, for every field of every row. Kinds
//! of events interleave in the input, so there is one memo per row shape (see
//! [`FieldAccess::shape`](crate::expr::field::FieldAccess::shape)), not one for all rows.

use crate::expr::field::FieldRef;
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Field name -> the anchored fields (`Ok`) and literal fields (`Err`) of a
/// [`ScanIndex`](super::prefilter::ScanIndex) that read that name.
#[derive(Debug)]
pub(crate) struct NameTargets {
    /// Name -> its place in `targets`.
    index: HashMap<String, u32>,
    targets: Vec<Vec<Result<usize, usize>>>,
    /// Tells this map's memo from other maps' (one scratch serves every index of a thread).
    id: u64,
}

/// What the names of the previous row of each map and shape resolved to, by place.
#[derive(Debug, Default)]
pub(crate) struct NameMemos {
    /// By map (its id): one memo per shape slot (see [`SHAPES`]).
    memos: Vec<(u64, Vec<Memo>)>,
}

/// Per place: the name seen there last and what it resolved to.
type Memo = Vec<(String, u32)>;

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
        let mut map = NameTargets { index: HashMap::new(), targets: Vec::new(), id: NEXT_ID.fetch_add(1, Ordering::Relaxed) };
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
        Some(map)
    }

    /// This map's memo in `memos` for rows of `shape` (made on first use).
    pub fn memo<'m>(&self, memos: &'m mut NameMemos, shape: usize) -> &'m mut Memo {
        let at = match memos.memos.iter().position(|(id, _)| *id == self.id) {
            Some(at) => at,
            None => {
                memos.memos.push((self.id, (0..SHAPES).map(|_| Vec::new()).collect()));
                memos.memos.len() - 1
            }
        };
        &mut memos.memos[at].1[shape % SHAPES]
    }

    /// The conditions on field `name`, the row's field number `place` (counted from 0 in the
    /// order the row hands its fields out), through `memo` (from [`NameTargets::memo`]).
    pub fn lookup(&self, memo: &mut Vec<(String, u32)>, place: usize, name: &str) -> &[Result<usize, usize>] {
        let remembered = memo.len();
        let found = match memo.get_mut(place) {
            Some((seen, found)) if seen == name => *found,
            Some((seen, found)) => {
                seen.clear();
                seen.push_str(name);
                *found = self.find(name);
                *found
            }
            None if place == remembered && place < MEMO_PLACES => {
                let found = self.find(name);
                memo.push((name.to_string(), found));
                found
            }
            None => self.find(name),
        };
        self.targets.get(found as usize).map_or(&[], Vec::as_slice)
    }

    fn find(&self, name: &str) -> u32 {
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
                assert_eq!(map.lookup(map.memo(&mut memos, row.len()), place, name), want, "{row:?} {place}");
                let want_other: &[Result<usize, usize>] = if *name == "B" { &[Ok(7)] } else { &[] };
                assert_eq!(other.lookup(other.memo(&mut memos, row.len()), place, name), want_other);
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
                assert_eq!(map.lookup(map.memo(&mut memos, row.len()), place, name), want);
            }
        }
        for row in kinds {
            let seen: Vec<String> = map.memo(&mut memos, row.len()).iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(seen, row);
        }
    }
}
