//! Hashers for the normalizer's maps: every event's field names and kinds are looked up, and
//! the standard SipHash costs several times more on such short texts.

use std::collections::HashMap;

/// FNV-1a. The knowledge hashes every raw field name of every event (and each event's kind):
/// short texts, for which SipHash costs several times more. Lookups of names from the input
/// only probe maps whose keys come from the add-on files or are bounded (the memo): chosen
/// collisions cannot grow them.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Hashes eight bytes at a time: for keys made of whole events' texts (kinds of event, event
/// shapes), which a byte-at-a-time hash spends more on than the lookup saves. The maps it
/// serves are bounded, so chosen collisions cannot grow them.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut add = |word: u64| self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            add(u64::from_le_bytes(last) ^ (rest.len() as u64) << 56);
        }
    }
}

/// A map keyed by field names (or kinds of event), hashed with [`Fnv`].
pub(crate) type NameMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_hashes_tell_tails_apart() {
        use std::hash::Hasher;
        let hash = |bytes: &[u8]| {
            let mut h = WordHasher::default();
            h.write(bytes);
            h.finish()
        };
        assert_ne!(hash(b"abcdefgh1"), hash(b"abcdefgh2"));
        assert_ne!(hash(b"abc"), hash(b"abc\0"));
        assert_ne!(hash(b"abcdefgh"), hash(b"abcdefgi"));
    }
}
