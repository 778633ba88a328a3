//! A bounded memo of the prefilter's literal searches: field values repeat heavily across
//! events (images, parent images, paths, users, often command lines), and searching a value
//! again with the same automaton finds the same literals. Direct-mapped: a value takes the one
//! slot its hash picks, evicting what was there, so the memo never grows with the input.

use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

/// Slots in the memo (a power of two): 1 MiB of text per thread. Every raw event and data
/// model row of a kind searches several fields with their own automata, and 1,024 slots
/// evicted values still in use (8 MB diverse XML: 25 % fewer searches with 4,096).
const SLOTS: usize = 4096;
/// Longest value remembered, in bytes: longer ones (rarely repeated command lines, scripts,
/// an event's whole text) are searched every time. Bounds the memo's text to SLOTS * MAX_VALUE.
const MAX_VALUE: usize = 256;
/// Most literal matches remembered for one value; a value with more is searched every time.
const MAX_MATCHES: usize = 6;

/// The literals (pattern ids) each automaton found in recently searched values.
#[derive(Debug, Default)]
pub(crate) struct LiteralMemo {
    slots: Vec<Slot>,
    /// The values of the slots, MAX_VALUE bytes per slot.
    text: Vec<u8>,
    hasher: DefaultHashBuilder,
    /// Matches of a search not remembered.
    spare: Vec<u32>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    /// The automaton that searched the value; 0 for an empty slot.
    automaton: u64,
    hash: u64,
    len: u16,
    count: u8,
    matches: [u32; MAX_MATCHES],
}

impl LiteralMemo {
    /// The pattern ids automaton `automaton` (an id other than 0, unique per automaton) finds
    /// in `value`: remembered if it searched the same value before and no other value took
    /// the slot since, else found by `search` (which pushes them onto the vector it is given).
    pub fn find(&mut self, automaton: u64, value: &str, search: impl FnOnce(&mut Vec<u32>)) -> &[u32] {
        if value.len() > MAX_VALUE {
            return self.search_unremembered(search);
        }
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
            self.text = vec![0; SLOTS * MAX_VALUE];
        }
        let hash = self.hasher.hash_one((automaton, value));
        let at = (hash as usize) & (SLOTS - 1);
        let text = &mut self.text[at * MAX_VALUE..][..value.len()];
        let slot = &mut self.slots[at];
        if slot.automaton == automaton && slot.hash == hash && usize::from(slot.len) == value.len() && *text == *value.as_bytes() {
            return &slot.matches[..usize::from(slot.count)];
        }
        self.spare.clear();
        search(&mut self.spare);
        if self.spare.len() > MAX_MATCHES {
            slot.automaton = 0;
            return &self.spare;
        }
        text.copy_from_slice(value.as_bytes());
        // Both fit: the value is at most MAX_VALUE bytes, the matches at most MAX_MATCHES.
        (slot.automaton, slot.hash, slot.len, slot.count) = (automaton, hash, value.len() as u16, self.spare.len() as u8);
        slot.matches[..self.spare.len()].copy_from_slice(&self.spare);
        &slot.matches[..usize::from(slot.count)]
    }

    fn search_unremembered(&mut self, search: impl FnOnce(&mut Vec<u32>)) -> &[u32] {
        self.spare.clear();
        search(&mut self.spare);
        &self.spare
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positions of `x` in `value` for automaton `automaton`, through the memo; counts the
    /// searches made in `searched`.
    fn xs(memo: &mut LiteralMemo, automaton: u64, value: &str, searched: &mut usize) -> Vec<u32> {
        let found = memo.find(automaton, value, |out| {
            *searched += 1;
            out.extend(value.match_indices('x').map(|(i, _)| i as u32 + automaton as u32 * 1000));
        });
        found.to_vec()
    }

    #[test]
    fn a_repeated_value_is_found_without_searching_again() {
        let mut memo = LiteralMemo::default();
        let mut searched = 0;
        for value in ["axbx", "axbx", "ab", "axbx", "ab"] {
            let want: Vec<u32> = value.match_indices('x').map(|(i, _)| i as u32 + 1000).collect();
            assert_eq!(xs(&mut memo, 1, value, &mut searched), want, "{value}");
        }
        assert_eq!(searched, 2);
    }

    #[test]
    fn automata_values_and_case_are_told_apart() {
        let mut memo = LiteralMemo::default();
        let mut searched = 0;
        assert_eq!(xs(&mut memo, 1, "X.x", &mut searched), [1002]);
        assert_eq!(xs(&mut memo, 2, "X.x", &mut searched), [2002]);
        assert_eq!(xs(&mut memo, 1, "x.x", &mut searched), [1000, 1002]);
        assert_eq!(xs(&mut memo, 1, "X.x", &mut searched), [1002]);
        assert_eq!(xs(&mut memo, 2, "X.x", &mut searched), [2002]);
        assert!(xs(&mut memo, 1, "X.", &mut searched).is_empty());
        assert_eq!(searched, 4);
    }

    #[test]
    fn long_values_and_many_matches_are_searched_every_time() {
        let mut memo = LiteralMemo::default();
        let long = format!("{}x", "-".repeat(MAX_VALUE));
        let many = "x".repeat(MAX_MATCHES + 1);
        for value in [&long, &many] {
            let mut searched = 0;
            let want: Vec<u32> = value.match_indices('x').map(|(i, _)| i as u32 + 1000).collect();
            assert_eq!(xs(&mut memo, 1, value, &mut searched), want);
            assert_eq!(xs(&mut memo, 1, value, &mut searched), want);
            assert_eq!(searched, 2, "{}", value.len());
        }
    }

    /// The values of a few hundred events' fields stay held: of 2,000 distinct values
    /// searched once each and then again in the same order, most are found the second time
    /// without a search (about 750 are searched again with 4,096 slots, 1,700 with 1,024; the
    /// hash is seeded at random, so the bound is loose).
    #[test]
    fn a_working_set_of_thousands_of_values_stays_held() {
        let mut memo = LiteralMemo::default();
        let mut searched = 0;
        let values: Vec<String> = (0..2000).map(|i| format!("C:\\Windows\\System32\\tool{i}.exe x")).collect();
        for value in &values {
            xs(&mut memo, 1, value, &mut searched);
        }
        let first = searched;
        for value in &values {
            xs(&mut memo, 1, value, &mut searched);
        }
        assert_eq!(first, values.len());
        assert!(searched - first < values.len() / 2, "{} searched again", searched - first);
    }

    #[test]
    fn the_memo_stays_bounded_over_many_values() {
        let mut memo = LiteralMemo::default();
        let mut searched = 0;
        for i in 0..20 * SLOTS {
            let value = format!("value {i} x");
            assert_eq!(xs(&mut memo, 1, &value, &mut searched), [value.len() as u32 - 1 + 1000]);
        }
        assert_eq!(searched, 20 * SLOTS);
        assert_eq!((memo.slots.len(), memo.text.len()), (SLOTS, SLOTS * MAX_VALUE));
    }
}
