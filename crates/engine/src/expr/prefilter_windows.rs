//! Literals found by one window of their text each (4 or 8 bytes), for fields whose literals
//! are too many for an automaton to search them from cache.
//!
//! SigmaHQ's `Hashes|contains` values are ~4,700 literals such as `SHA256=<64 hex digits>`
//! (230 KB of text): their trie has ~230,000 states, and a hash value, seen once, walks states
//! no other value took. The lazily built DFA filled its table and went back to walking the NFA
//! (~45 instructions a byte), and building that NFA took ~100 M instructions at start-up.
//! SigmaHQ's `CommandLine` has ~3,300 literals: a command line walks a DFA row of ~140
//! transitions per byte, each a load that waits on the previous one and misses the cache.
//! Instead, each literal is known by one window of its text: a value is searched by reading
//! each of its windows as a number, testing one bit of a small table (in cache) and, for
//! windows some literal has, checking those literals in place. Windows do not wait on one
//! another, so the processor reads several at once.

use hashbrown::HashMap;

/// Bits of the table of windows' hashes per window known, at least: about 1 in 32 of a
/// value's windows that no literal has then tests true.
const BITS_PER_WINDOW: usize = 32;
/// Bounds of that table's size, in bits: at most 2^17, 16 KiB, which stays in the first-level
/// cache (SigmaHQ's ~4,700 hashes reach it).
const MIN_HASH_BITS: u32 = 9;
const MAX_HASH_BITS: u32 = 17;

/// Literals of at least `W` bytes (at most 8), each found through one of its windows of `W`
/// bytes.
#[derive(Debug)]
pub(crate) struct WindowIndex<const W: usize> {
    /// Bit `hash(window)` is set when some literal is known by `window`.
    hashes: Vec<u64>,
    /// 64 minus the table's bits: how far a window's product is shifted to give its bit.
    shift: u32,
    /// Window -> the literals known by it.
    literals_by_window: HashMap<u64, Vec<Known>>,
}

/// A literal known by a window.
#[derive(Debug)]
struct Known {
    id: u32,
    /// Where the window begins in the literal.
    at: usize,
    /// The literal, ASCII-lowercased.
    text: Box<[u8]>,
}

impl<const W: usize> WindowIndex<W> {
    /// The index of `literals` (id, ASCII-lowercased text, at least `W` bytes long).
    /// Each is known by the one of its last [`CANDIDATES`] windows that the fewest literals
    /// share (the last of those), so that a window in a value points to as few literals to
    /// check as it can.
    pub fn new(literals: &[(u32, &str)]) -> WindowIndex<W> {
        let mut shared: HashMap<u64, u32> = HashMap::new();
        for (_, text) in literals {
            for (_, window) in candidates::<W>(text) {
                *shared.entry(window).or_default() += 1;
            }
        }
        let bits = (literals.len() * BITS_PER_WINDOW).next_power_of_two().ilog2().clamp(MIN_HASH_BITS, MAX_HASH_BITS);
        let (hashes, shift) = (vec![0; 1 << (bits - 6)], 64 - bits);
        let mut index = WindowIndex { hashes, shift, literals_by_window: HashMap::new() };
        for &(id, text) in literals {
            let Some((at, window)) =
                candidates::<W>(text).min_by_key(|&(at, w)| (shared.get(&w).copied().unwrap_or(0), std::cmp::Reverse(at)))
            else {
                continue;
            };
            let bit = hash(window, index.shift);
            index.hashes[bit >> 6] |= 1 << (bit & 63);
            index.literals_by_window.entry(window).or_default().push(Known { id, at, text: text.as_bytes().into() });
        }
        index
    }

    /// Pushes onto `found` the id of every literal `lowered` (an ASCII-lowercased value) holds,
    /// each once.
    pub fn find(&self, lowered: &[u8], found: &mut Vec<u32>) {
        for (start, window) in lowered.windows(W).enumerate() {
            let window = window_value(window);
            let bit = hash(window, self.shift);
            if self.hashes[bit >> 6] & (1 << (bit & 63)) == 0 {
                continue;
            }
            let Some(literals) = self.literals_by_window.get(&window) else { continue };
            for known in literals {
                let held = start.checked_sub(known.at).and_then(|begin| lowered.get(begin..begin + known.text.len()));
                if held == Some(&known.text[..]) && !found.contains(&known.id) {
                    found.push(known.id);
                }
            }
        }
    }
}

/// Windows a literal may be known by: at most its last 16 (a literal's other windows seldom
/// tell it apart better, and counting every window of SigmaHQ's hashes cost ~30 M
/// instructions).
const CANDIDATES: usize = 16;

/// The last [`CANDIDATES`] windows of `text`: where each begins, and its value.
fn candidates<const W: usize>(text: &str) -> impl Iterator<Item = (usize, u64)> + '_ {
    let windows = text.len().saturating_sub(W - 1);
    text.as_bytes().windows(W).map(window_value).enumerate().skip(windows.saturating_sub(CANDIDATES))
}

/// A window's bytes (at most 8) as one number.
fn window_value(window: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..window.len()].copy_from_slice(window);
    u64::from_le_bytes(bytes)
}

/// Where a window's bit is in [`WindowIndex::hashes`] (Fibonacci hashing: the top `64 -
/// shift` bits of a product with an odd constant near 2^64 / φ).
fn hash(window: u64, shift: u32) -> usize {
    (window.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(literals: &[&str]) -> WindowIndex<8> {
        let owned: Vec<(u32, &str)> = literals.iter().enumerate().map(|(i, l)| (i as u32 * 2, *l)).collect();
        WindowIndex::new(&owned)
    }

    fn find<const W: usize>(index: &WindowIndex<W>, text: &str) -> Vec<u32> {
        let mut found = Vec::new();
        index.find(text.as_bytes(), &mut found);
        found.sort_unstable();
        found
    }

    #[test]
    fn finds_each_literal_once_wherever_it_is() {
        let idx = index(&["sha256=0123456789abcdef", "imphash=fedcba98", "\\windows\\system32\\cmd.exe"]);
        assert_eq!(find(&idx, "sha1=x,sha256=0123456789abcdef,imphash=fedcba98"), [0, 2]);
        assert_eq!(find(&idx, "imphash=fedcba98 imphash=fedcba98"), [2]);
        assert_eq!(find(&idx, "c:\\windows\\system32\\cmd.exe"), [4]);
        // Windows held, literals not whole: at the value's start, its end, or cut short.
        assert_eq!(find(&idx, "56789abcdef"), Vec::<u32>::new());
        assert_eq!(find(&idx, "sha256=0123456789abcde"), Vec::<u32>::new());
        assert_eq!(find(&idx, "mphash=fedcba98"), Vec::<u32>::new());
        assert_eq!(find(&idx, "short"), Vec::<u32>::new());
    }

    #[test]
    fn literals_sharing_windows_are_told_apart() {
        // Every window of the first is also one of the second's or third's.
        let idx = index(&["abcdefghij", "xxabcdefghyy", "cdefghijzz", "abcdefgh"]);
        assert_eq!(find(&idx, "..abcdefghij.."), [0, 6]);
        assert_eq!(find(&idx, "xxabcdefghyy"), [2, 6]);
        assert_eq!(find(&idx, "abcdefghijzz"), [0, 4, 6]);
        assert_eq!(find(&idx, "abcdefgh"), [6]);
    }
}
