//! The groups a table holds in memory: keys and states in two flat arenas, found through a
//! hash table of group numbers.
//!
//! A scan finds a group per kept row and per query, so this is on the hot path of every
//! `tstats` and `stats`. Each group used to be two allocations (its key ids and its states)
//! behind a 40-byte table slot: a new group cost two allocations (and two frees after), and
//! finding one read the slot, then the key's allocation, then the states' allocation, each a
//! cache miss in a large table. Here a slot is 8 bytes (the group's number and half its key's
//! hash), a group's key is `width` ids at `number * width` in one vector and its states
//! `aggs` states at `number * aggs` in another: no allocation per group, a table a fifth the
//! size, and the key and the states of neighbouring groups (made by neighbouring rows) close
//! together.

use crate::store::agg::AggState;
use crate::store::symbols::table_hash;
use hashbrown::HashTable;

/// Bytes a group's slot takes in the table (the slot and its control byte).
pub(crate) const SLOT_BYTES: usize = std::mem::size_of::<(u32, u32)>() + 1;

#[derive(Clone, Default)]
pub(crate) struct Arena {
    /// Group numbers, each with the upper half of its key's hash (see [`Arena::find`]).
    table: HashTable<(u32, u32)>,
    keys: Vec<u32>,
    states: Vec<AggState>,
    /// Ids per key and states per group: set by the first group (one scan's groups all have
    /// as many by-fields and aggregations).
    width: usize,
    aggs: usize,
}

impl Arena {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Heap bytes reserved by the table and the arenas.
    pub fn reserved_bytes(&self) -> usize {
        self.table.capacity() * SLOT_BYTES + self.keys.capacity() * 4 + self.states.capacity() * std::mem::size_of::<AggState>()
    }

    /// Whether a group of this key and number of states fits this table's shape (any does
    /// while the table is empty).
    pub fn fits(&self, key: &[u32], aggs: usize) -> bool {
        self.is_empty() || (key.len() == self.width && aggs == self.aggs)
    }

    pub fn key(&self, group: u32) -> &[u32] {
        let at = group as usize * self.width;
        self.keys.get(at..at + self.width).unwrap_or_default()
    }

    /// The number of the group with this key; `hash` is the key's full hash.
    pub fn find(&self, hash: u64, key: &[u32]) -> Option<u32> {
        let half = (hash >> 32) as u32;
        // The half is compared first: a probe reads the keys' arena only for a likely match.
        self.table.find(table_hash(half), |&(group, h)| h == half && self.key(group) == key).map(|&(group, _)| group)
    }

    pub fn states_mut(&mut self, group: u32) -> &mut [AggState] {
        let at = group as usize * self.aggs;
        self.states.get_mut(at..at + self.aggs).unwrap_or_default()
    }

    /// Adds a group (its key must not be in the table, and must [`Arena::fits`]); returns its
    /// number.
    pub fn insert(&mut self, hash: u64, key: &[u32], states: impl IntoIterator<Item = AggState>) -> u32 {
        // The first group sets the shape of every other.
        let first = self.is_empty();
        if first {
            self.width = key.len();
            self.keys.clear();
            self.states.clear();
        }
        // Groups are never removed one by one: the next number is the count.
        let group = self.table.len() as u32;
        self.keys.extend_from_slice(key);
        self.states.extend(states);
        if first {
            self.aggs = self.states.len();
        }
        let half = (hash >> 32) as u32;
        self.table.insert_unique(table_hash(half), (group, half), |&(_, h)| table_hash(h));
        group
    }

    /// Forgets every group, freeing the arenas (a spill: the budget counts nothing for them
    /// after).
    pub fn free(&mut self) {
        *self = Arena { width: self.width, aggs: self.aggs, ..Arena::default() };
    }

    /// Forgets every group, keeping the allocations of a table of up to `keep` groups.
    pub fn clear_bounded(&mut self, keep: usize) {
        if self.table.capacity() > keep {
            self.free();
        } else {
            self.table.clear();
            self.keys.clear();
            self.states.clear();
        }
    }

    /// Every group's key and number, in no order.
    pub fn keys(&self) -> Vec<(&[u32], u32)> {
        (0..self.table.len() as u32).map(|g| (self.key(g), g)).collect()
    }

    /// Takes group `group`'s states out (leaving counts of zero).
    pub fn take_states(&mut self, group: u32) -> Vec<AggState> {
        self.states_mut(group).iter_mut().map(|st| std::mem::replace(st, AggState::Count(0))).collect()
    }

    /// Group `group`'s states, for reading.
    pub fn states(&self, group: u32) -> &[AggState] {
        let at = group as usize * self.aggs;
        self.states.get(at..at + self.aggs).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::agg::AggFunc;
    use hashbrown::DefaultHashBuilder;
    use std::hash::BuildHasher;

    #[test]
    fn groups_are_found_by_key_with_their_states_in_place() {
        let hasher = DefaultHashBuilder::default();
        let mut a = Arena::default();
        let keys: Vec<[u32; 3]> = (0..5000u32).map(|i| [i % 7, i, i / 3]).collect();
        for k in &keys {
            let h = hasher.hash_one(k.as_slice());
            assert!(a.find(h, k).is_none());
            let g = a.insert(h, k, [AggState::new(AggFunc::Count), AggState::new(AggFunc::Values)]);
            a.states_mut(g)[0].add_row();
        }
        assert_eq!(a.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            let g = a.find(hasher.hash_one(k.as_slice()), k).expect("found");
            assert_eq!(g as usize, i);
            a.states_mut(g)[1].add(AggFunc::Values, "x", 0);
        }
        assert!(matches!(a.states(17)[0], AggState::Count(1)));
        assert!(!a.fits(&[1, 2], 2) && !a.fits(&[1, 2, 3], 1) && a.fits(&[1, 2, 3], 2));
        // A group is one slot and its share of the arenas, no allocation of its own.
        let per_group = SLOT_BYTES + 3 * 4 + 2 * std::mem::size_of::<AggState>();
        assert!(a.reserved_bytes() <= 2 * keys.len() * per_group + 4096, "{}", a.reserved_bytes());
        let mut taken = a.keys();
        taken.sort_unstable_by_key(|&(_, g)| g);
        assert_eq!(taken[9].0, keys[9]);
        a.free();
        assert_eq!((a.len(), a.reserved_bytes()), (0, 0));
    }
}
