//! Interned texts for group keys.
//!
//! One table per scan state (one per thread), shared by every query's groups: a command line
//! that 25 detections group by is stored once, and a group key is a short array of `u32` ids,
//! hashed and compared without touching the texts.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// Texts live in large shared buffers, not one allocation each.
const CHUNK_BYTES: usize = 1 << 20;

/// Most entries a table (of texts, of groups) keeps room for when emptied for reuse.
pub(crate) const KEEP_TABLE_CAPACITY: usize = 4096;

/// Empties `table`, keeping its allocation unless it holds room for over
/// [`KEEP_TABLE_CAPACITY`] entries.
pub(crate) fn clear_bounded<T>(table: &mut HashTable<T>) {
    if table.capacity() > KEEP_TABLE_CAPACITY {
        *table = HashTable::new();
    } else {
        table.clear();
    }
}

/// A text's place in the chunks: (chunk, start, length).
type Span = (u32, u32, u32);

/// An entry of the symbol table: a text's id, the upper half of its hash, and where it lies.
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    half: u32,
    span: Span,
}

#[derive(Default)]
pub(crate) struct Symbols {
    /// ids, hashed by their text, each with the upper half of its text's hash (growing the
    /// table rehashes from it, without reading and hashing every text again; a probe reads a
    /// text only when its half matches) and its span: a probe goes from the table straight to
    /// the text, without the dependent read of `spans` in between (in a large table each of
    /// those reads is a cache miss, and interning runs per row and by-field).
    table: HashTable<Slot>,
    /// id -> span, for [`Symbols::text`].
    spans: Vec<Span>,
    chunks: Vec<String>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for Symbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Symbols({} texts)", self.spans.len())
    }
}

impl Symbols {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Forgets every text for reuse by a new scan state, keeping one chunk and the tables'
    /// allocations when they are of a usual size (a chunk is 1 MiB: a fresh one costs page
    /// faults as the scan writes into it).
    pub fn clear_for_reuse(&mut self) {
        self.chunks.truncate(1);
        if let Some(first) = self.chunks.first_mut() {
            if first.capacity() > CHUNK_BYTES {
                self.chunks.clear();
            } else {
                first.clear();
            }
        }
        clear_bounded(&mut self.table);
        if self.spans.capacity() > KEEP_TABLE_CAPACITY {
            self.spans = Vec::new();
        } else {
            self.spans.clear();
        }
    }

    pub fn text(&self, id: u32) -> &str {
        let (c, start, len) = self.spans[id as usize];
        &self.chunks[c as usize][start as usize..start as usize + len as usize]
    }

    /// The id of `text`, added when new.
    pub fn intern(&mut self, text: &str) -> u32 {
        let half = (self.hasher.hash_one(text) >> 32) as u32;
        let h = table_hash(half);
        let chunks = &self.chunks;
        let same =
            |slot: &Slot| slot.half == half && slot.span.2 as usize == text.len() && span_bytes(chunks, slot.span) == text.as_bytes();
        if let Some(slot) = self.table.find(h, same) {
            return slot.id;
        }
        let id = self.spans.len() as u32;
        let span = self.store(text);
        self.spans.push(span);
        self.table.insert_unique(h, Slot { id, half, span }, |slot| table_hash(slot.half));
        id
    }

    /// Heap bytes held (texts and tables), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(String::capacity).sum::<usize>()
            + self.spans.capacity() * std::mem::size_of::<Span>()
            + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }

    fn store(&mut self, text: &str) -> Span {
        let fits = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= text.len());
        if !fits {
            self.chunks.push(String::with_capacity(CHUNK_BYTES.max(text.len())));
        }
        let c = self.chunks.len() - 1;
        let chunk = &mut self.chunks[c];
        let start = chunk.len();
        chunk.push_str(text);
        (c as u32, start as u32, text.len() as u32)
    }
}

/// The bytes of a span (empty if it lies outside the chunks, which no span made by `store` does).
fn span_bytes(chunks: &[String], (c, start, len): Span) -> &[u8] {
    let start = start as usize;
    chunks.get(c as usize).and_then(|chunk| chunk.as_bytes().get(start..start + len as usize)).unwrap_or_default()
}

/// The symbol table's hash of a text from the upper half of its full hash (the half kept in
/// the table): spread back over 64 bits by an odd multiplier, so both the bucket index (low
/// bits) and hashbrown's tag (top bits) vary with it.
pub(crate) fn table_hash(half: u32) -> u64 {
    u64::from(half).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Fewer keys than this are sorted by comparing their texts directly.
const RANKED_FROM: usize = 32;

/// Sorts `items` by the texts of their keys (part by part, as `str` orders them).
///
/// Comparing keys text by text costs a string comparison per part per comparison, most of
/// them on equal leading parts. Instead keys are ordered a part at a time: the distinct ids
/// of a part are sorted by text once and the items ordered by those ranks (the same order,
/// since interned texts are distinct), and only items still tied go on to the next part.
pub(crate) fn sort_by_key_text<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &[u32], symbols: &Symbols) {
    let width = items.first().map_or(0, |item| key(item).len());
    if items.len() < RANKED_FROM || width == 0 || items.iter().any(|item| key(item).len() != width) {
        // Few keys (ranking costs more than it saves), nothing to order, or keys of mixed
        // lengths (not made by one scan): compare texts.
        items.sort_by(|a, b| key(a).iter().map(|&id| symbols.text(id)).cmp(key(b).iter().map(|&id| symbols.text(id))));
        return;
    }
    let order = order_by_parts(items.len(), width, |i, part| key(&items[i])[part], symbols);
    let mut slots: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(order.iter().filter_map(|&i| slots.get_mut(i).and_then(Option::take)));
}

/// The indices of `n` keys of `width` parts (`part(i, p)`: key i's id at part p) in key text
/// order, ranking each part among the keys still tied on the parts before it.
fn order_by_parts(n: usize, width: usize, part: impl Fn(usize, usize) -> u32, symbols: &Symbols) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rank = vec![0u32; n];
    // Ranges of `order` whose keys are equal on the parts ordered so far.
    let mut tied = vec![(0, n)];
    for p in 0..width {
        if tied.is_empty() {
            break;
        }
        let members: Vec<usize> = tied.iter().flat_map(|&(s, e)| order[s..e].iter().copied()).collect();
        let ranks = ranks_of(members.iter().map(|&i| part(i, p)), symbols);
        members.iter().zip(ranks).for_each(|(&i, r)| rank[i] = r);
        let mut next = Vec::new();
        for (s, e) in tied {
            order[s..e].sort_unstable_by_key(|&i| rank[i]);
            let mut start = s;
            for k in s + 1..=e {
                if k == e || rank[order[k]] != rank[order[start]] {
                    if k - start > 1 {
                        next.push((start, k));
                    }
                    start = k;
                }
            }
        }
        tied = next;
    }
    order
}

/// The rank in text order of each of `ids` among their distinct values, in the same order.
fn ranks_of(ids: impl Iterator<Item = u32>, symbols: &Symbols) -> Vec<u32> {
    let ids: Vec<u32> = ids.collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut by_text: Vec<u32> = (0..distinct.len() as u32).collect();
    by_text.sort_unstable_by(|&a, &b| symbols.text(distinct[a as usize]).cmp(symbols.text(distinct[b as usize])));
    // rank_at[i]: the rank of distinct[i].
    let mut rank_at = vec![0u32; distinct.len()];
    for (rank, &i) in by_text.iter().enumerate() {
        rank_at[i as usize] = rank as u32;
    }
    ids.iter().map(|id| distinct.binary_search(id).map_or(u32::MAX, |i| rank_at[i])).collect()
}

/// Every text's rank in text order, by id: one sort of the texts that every table sharing
/// them orders its keys by (see [`sort_by_ranks`]), instead of each table sorting the texts
/// of its own keys again (a scan state spills hundreds of tables over one symbol table).
pub(crate) fn text_ranks(symbols: &Symbols) -> Vec<u32> {
    // The first eight bytes (big-endian, zero-padded) order most pairs without reading the
    // texts: a shorter text pads with zeros, below any byte but a zero, and equal prefixes
    // (zeros included) fall back to comparing the texts.
    let prefix = |id: u32| {
        let text = symbols.text(id).as_bytes();
        let mut head = [0u8; 8];
        let n = text.len().min(8);
        head[..n].copy_from_slice(&text[..n]);
        u64::from_be_bytes(head)
    };
    let mut keyed: Vec<(u64, u32)> = (0..symbols.len() as u32).map(|id| (prefix(id), id)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| symbols.text(a.1).cmp(symbols.text(b.1))));
    let mut ranks = vec![0u32; keyed.len()];
    for (rank, &(_, id)) in keyed.iter().enumerate() {
        ranks[id as usize] = rank as u32;
    }
    ranks
}

/// Sorts `items` by the texts of their keys, given [`text_ranks`] of the keys' table (an id
/// outside it sorts last).
pub(crate) fn sort_by_ranks<T>(items: &mut [T], key: impl Fn(&T) -> &[u32], ranks: &[u32]) {
    let rank = |id: u32| ranks.get(id as usize).copied().unwrap_or(u32::MAX);
    items.sort_unstable_by(|a, b| {
        let (a, b) = (key(a), key(b));
        // Equal ids (most leading parts of neighbouring keys) need no rank looked up.
        match a.iter().zip(b).find(|(x, y)| x != y) {
            Some((&x, &y)) => rank(x).cmp(&rank(y)),
            None => a.len().cmp(&b.len()),
        }
    });
}

/// Translates ids of another table into this one's, each id once.
pub(crate) struct Translation<'a> {
    from: &'a Symbols,
    map: Vec<u32>,
}

impl<'a> Translation<'a> {
    pub fn new(from: &'a Symbols) -> Translation<'a> {
        Translation { from, map: vec![u32::MAX; from.len()] }
    }

    pub fn id(&mut self, into: &mut Symbols, id: u32) -> u32 {
        let slot = &mut self.map[id as usize];
        if *slot == u32::MAX {
            *slot = into.intern(self.from.text(id));
        }
        *slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_id() {
        let mut s = Symbols::default();
        let a = s.intern("cmd.exe /c whoami");
        let b = s.intern("powershell.exe");
        assert_ne!(a, b);
        assert_eq!(s.intern("cmd.exe /c whoami"), a);
        assert_eq!(s.text(a), "cmd.exe /c whoami");
        assert_eq!(s.text(b), "powershell.exe");
        assert_eq!(s.intern(""), s.intern(""));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_probe_finds_texts_without_reading_spans() {
        let mut s = Symbols::default();
        let texts: Vec<String> = (0..100).map(|i| format!("C:\\Windows\\System32\\cmd.exe /c {i}")).collect();
        let ids: Vec<u32> = texts.iter().map(|t| s.intern(t)).collect();
        // The table's slots say where each text lies: finding a text reads the table and the
        // text, not `spans` in between (one cache miss fewer per probe of a large table).
        let spans = std::mem::take(&mut s.spans);
        assert!(texts.iter().zip(&ids).all(|(t, &id)| s.intern(t) == id));
        s.spans = spans;
        assert_eq!(s.intern("new"), 100);
        assert_eq!(s.text(ids[7]), texts[7]);
    }

    #[test]
    fn texts_survive_many_chunks() {
        let mut s = Symbols::default();
        let big = "x".repeat(CHUNK_BYTES + 10);
        let ids: Vec<u32> = (0..3000).map(|i| s.intern(&format!("{i}-{}", "y".repeat(i % 700)))).collect();
        let b = s.intern(&big);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(s.text(*id), format!("{i}-{}", "y".repeat(i % 700)));
        }
        assert_eq!(s.text(b), big);
    }

    /// The order of comparing keys text by text, part by part.
    fn text_order(mut keys: Vec<Vec<u32>>, s: &Symbols) -> Vec<Vec<u32>> {
        keys.sort_by(|a, b| a.iter().map(|&id| s.text(id)).cmp(b.iter().map(|&id| s.text(id))));
        keys
    }

    #[test]
    fn keys_sort_by_text_not_by_id() {
        let mut s = Symbols::default();
        // Interned out of text order, with shared prefixes, an empty text and non-ASCII.
        let texts = ["b", "a", "", "ab", "B", "é", "a\u{0}", "aa", "zz", "b"];
        let ids: Vec<u32> = texts.iter().map(|t| s.intern(t)).collect();
        let mut keys = Vec::new();
        for (i, &x) in ids.iter().enumerate() {
            for &y in ids.iter().skip(i % 3).step_by(2) {
                keys.push(vec![x, y, ids[(i + y as usize) % ids.len()]]);
            }
        }
        keys.sort();
        keys.dedup();
        keys.reverse();
        assert!(keys.len() >= RANKED_FROM, "enough keys to rank");
        let want = text_order(keys.clone(), &s);
        sort_by_key_text(&mut keys, |k| k, &s);
        assert_eq!(keys, want);
        assert_eq!(s.text(keys[0][0]), "");
    }

    #[test]
    fn keys_sort_by_shared_ranks_as_by_text() {
        let mut s = Symbols::default();
        // Prefixes of eight bytes and more shared, zero bytes, a text that is another's prefix.
        let texts = ["b", "a", "", "ab", "B", "é", "a\u{0}", "a\u{0}\u{0}", "aa", "zz", "C:\\Windows\\x", "C:\\Windows\\", "C:\\Windowsy"];
        let ids: Vec<u32> = texts.iter().map(|t| s.intern(t)).collect();
        let mut keys = Vec::new();
        for &x in &ids {
            for &y in ids.iter().rev() {
                keys.push(vec![x, y]);
            }
        }
        let want = text_order(keys.clone(), &s);
        let ranks = text_ranks(&s);
        let mut by_text: Vec<u32> = ids.clone();
        by_text.sort_by(|&a, &b| s.text(a).cmp(s.text(b)));
        assert!(by_text.iter().enumerate().all(|(r, &id)| ranks[id as usize] == r as u32), "ranks follow the texts");
        sort_by_ranks(&mut keys, |k| k, &ranks);
        assert_eq!(keys, want);
    }

    #[test]
    fn single_empty_and_mixed_keys_sort_too() {
        let mut s = Symbols::default();
        let (b, a) = (s.intern("b"), s.intern("a"));
        let mut one = vec![vec![b], vec![a]];
        sort_by_key_text(&mut one, |k| k, &s);
        assert_eq!(one, [vec![a], vec![b]]);
        let mut none: Vec<Vec<u32>> = vec![vec![]];
        sort_by_key_text(&mut none, |k| k, &s);
        assert_eq!(none, [Vec::<u32>::new()]);
        let mut mixed = vec![vec![b], vec![a, b], vec![a]];
        sort_by_key_text(&mut mixed, |k| k, &s);
        assert_eq!(mixed, [vec![a], vec![a, b], vec![b]]);
    }

    #[test]
    fn cleared_for_reuse_keeps_one_usual_chunk_and_interns_from_scratch() {
        let mut s = Symbols::default();
        let a = s.intern("first");
        s.intern(&"x".repeat(CHUNK_BYTES + 10));
        s.clear_for_reuse();
        assert_eq!(s.len(), 0);
        assert_eq!(s.chunks.len(), 1, "the oversized second chunk is dropped");
        assert_eq!(s.intern("other"), a, "ids start again from 0");
        assert_eq!(s.text(a), "other");
        s.intern(&"y".repeat(CHUNK_BYTES + 10));
        s.chunks.swap(0, 1);
        s.clear_for_reuse();
        assert!(s.chunks.is_empty(), "an oversized first chunk is not kept");
        (0..5000).for_each(|i| {
            s.intern(&i.to_string());
        });
        s.clear_for_reuse();
        assert_eq!(s.spans.capacity(), 0, "spans past the bound are dropped");
        assert_eq!(s.table.capacity(), 0, "a table past the bound is dropped");
    }

    #[test]
    fn texts_keep_their_ids_as_the_table_grows() {
        let mut s = Symbols::default();
        let texts: Vec<String> = (0..20_000).map(|i| format!("C:\\Windows\\cmd.exe /c run {i}")).collect();
        let ids: Vec<u32> = texts.iter().map(|t| s.intern(t)).collect();
        assert_eq!(ids, (0..20_000).collect::<Vec<u32>>());
        // Found again after every growth, with their texts, and no text twice.
        assert!(texts.iter().zip(&ids).all(|(t, &id)| s.intern(t) == id && s.text(id) == t));
        assert_eq!(s.len(), texts.len());
        assert_eq!(s.intern(""), 20_000);
        assert_eq!(s.intern(""), 20_000);
    }

    #[test]
    fn translation_maps_between_tables() {
        let mut a = Symbols::default();
        let mut b = Symbols::default();
        b.intern("only in b");
        let x = a.intern("shared");
        let mut t = Translation::new(&a);
        let y = t.id(&mut b, x);
        assert_eq!(b.text(y), "shared");
        assert_eq!(t.id(&mut b, x), y);
    }
}
