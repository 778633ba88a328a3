//! The prefilter's sets of predicates as bitsets: which predicates an exact value or a literal
//! stands for, and which conditions a row met.
//!
//! One value can stand for hundreds of predicates (`EventID=1` for SigmaHQ's process creation
//! rules, `sourcetype=...` for raw-event searches): marking each as met, and resetting each
//! after the row, cost ~90 instructions a predicate (110 M of the scan with SigmaHQ over the
//! 8 MB diverse XML corpus). As bitsets, a value ORs in the few words its predicates occupy,
//! the candidates come out of a pass over the words, in order, and a reset is one store a
//! word.

/// A set of positions in a list of predicates: the words of its bitset that have bits set, as
/// (word, bits), by word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Words(Vec<(u32, u64)>);

impl Words {
    /// The set of `positions`, which must be ascending.
    pub fn of(positions: impl IntoIterator<Item = usize>) -> Words {
        let mut words: Vec<(u32, u64)> = Vec::new();
        for i in positions {
            let (word, bit) = ((i / 64) as u32, 1u64 << (i % 64));
            match words.last_mut() {
                Some((w, bits)) if *w == word => *bits |= bit,
                _ => words.push((word, bit)),
            }
        }
        Words(words)
    }

    pub fn as_slice(&self) -> &[(u32, u64)] {
        &self.0
    }

    /// The set as a plain bitset of `words` words (positions past them left out).
    pub fn dense(&self, words: usize) -> Vec<u64> {
        let mut dense = vec![0; words];
        for &(w, bits) in &self.0 {
            if let Some(word) = dense.get_mut(w as usize) {
                *word = bits;
            }
        }
        dense
    }
}

/// One bit per predicate of an index, grown to the largest index a scratch serves.
#[derive(Debug, Default)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    /// Makes room for `words` words, all clear (every use clears what it set, see
    /// [`Bits::take_word`]).
    pub fn reserve_words(&mut self, words: usize) {
        if self.0.len() < words {
            self.0.resize(words, 0);
        }
    }

    /// Adds the predicates of `words`.
    #[inline]
    pub fn add(&mut self, words: &[(u32, u64)]) {
        for &(w, bits) in words {
            if let Some(word) = self.0.get_mut(w as usize) {
                *word |= bits;
            }
        }
    }

    /// Whether any predicate of `words` is in.
    #[inline]
    pub fn any(&self, words: &[(u32, u64)]) -> bool {
        words.iter().any(|&(w, bits)| self.0.get(w as usize).is_some_and(|word| word & bits != 0))
    }

    /// Word `w`, cleared.
    #[inline]
    pub fn take_word(&mut self, w: usize) -> u64 {
        self.0.get_mut(w).map_or(0, std::mem::take)
    }
}

/// Pushes the positions of the bits of `word` (word number `w`) onto `out`, ascending.
#[inline]
pub(crate) fn push_positions(w: usize, mut word: u64, out: &mut Vec<usize>) {
    while word != 0 {
        out.push(w * 64 + word.trailing_zeros() as usize);
        word &= word - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hold_the_positions_given() {
        let positions = [0, 3, 63, 64, 130, 191, 192, 1000];
        let words = Words::of(positions);
        assert_eq!(words.as_slice(), [(0, 1 | 1 << 3 | 1 << 63), (1, 1), (2, 1 << 2 | 1 << 63), (3, 1), (15, 1 << 40)]);
        let mut bits = Bits::default();
        bits.reserve_words(16);
        bits.add(words.as_slice());
        let mut out = Vec::new();
        for w in 0..16 {
            push_positions(w, bits.take_word(w), &mut out);
        }
        assert_eq!(out, positions);
        assert!((0..16).all(|w| bits.take_word(w) == 0), "taken words are clear");
        assert_eq!(Words::of([]), Words::default());
        assert_eq!(Words::of([1, 64, 130]).dense(2), [2, 1]);
    }

    #[test]
    fn any_tells_whether_a_set_meets_the_bits() {
        let mut bits = Bits::default();
        bits.reserve_words(4);
        bits.add(Words::of([5, 200]).as_slice());
        assert!(bits.any(Words::of([1, 200]).as_slice()));
        assert!(bits.any(Words::of([5]).as_slice()));
        assert!(!bits.any(Words::of([4, 6, 199, 201]).as_slice()));
        assert!(!bits.any(&[]));
        // Words past the bits' room are none of them.
        assert!(!bits.any(Words::of([1000]).as_slice()));
    }
}
