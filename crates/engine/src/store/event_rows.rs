//! Matching raw events held until the scan ends, encoded compactly: each field as the id of
//! its name in a table shared by the rows, a tag and its value with varint lengths, and the
//! rows gathered into blocks of `store::blocks` compressed with zstd as each fills (a Sigma
//! match is a whole event: neighbouring matches of a rule repeat most of their text). A
//! `Record` of the same event would take several times the text in headers and allocations.

use super::blocks::{write_block, write_stored_block, BlockReader, BLOCK_BYTES};
use super::run_codec::{get_text, get_varint, put_text, put_varint};
use super::spill::{get_f64, get_str, get_u64, put_f64, put_str, put_u64};
use hashbrown::HashMap;
use std::io::Read;
use vigil_model::{Micros, Record, Value};

/// At most this many passes over a scan's blocks to hand its rows on in chunks (see
/// [`EventRows::for_each_chunk_newest_first`]): bounds the decompression a huge result costs.
const MAX_PASSES: usize = 16;

/// Most bytes a buffer keeps when the rows are emptied for reuse.
const KEEP_BYTES: usize = 1 << 20;

#[derive(Debug, Default)]
pub(crate) struct EventRows {
    /// Field names by id, and ids by name.
    names: Vec<String>,
    ids: HashMap<String, u32>,
    /// The name ids of the last row pushed, by place: a scan's matches are mostly events of
    /// one kind, with the same names in the same order, found here without hashing.
    last_ids: Vec<u32>,
    /// Every row's event time, in insertion order.
    times: Vec<Micros>,
    /// The full blocks of rows, compressed, in order.
    packed: Vec<u8>,
    /// The rows after them, not compressed yet (one block being gathered).
    open: Vec<u8>,
}

impl EventRows {
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Empties the rows for reuse by a new scan state, keeping buffers of a usual size
    /// (below [`KEEP_BYTES`]; a window of many matches does not pin them).
    pub fn clear_for_reuse(&mut self) {
        self.names.clear();
        self.ids.clear();
        self.last_ids.clear();
        for buf in [&mut self.packed, &mut self.open] {
            if buf.capacity() > KEEP_BYTES {
                *buf = Vec::new();
            }
            buf.clear();
        }
        if self.times.capacity() * std::mem::size_of::<Micros>() > KEEP_BYTES {
            self.times = Vec::new();
        }
        self.times.clear();
    }

    /// The id of `name`, the name of the field at `place` in a row.
    fn name_id(&mut self, place: usize, name: &str) -> u32 {
        match self.last_ids.get(place) {
            Some(&id) if self.names.get(id as usize).is_some_and(|n| n == name) => id,
            _ => {
                let id = self.lookup_name(name);
                // Places come in order from 0: a new one is the next.
                match self.last_ids.get_mut(place) {
                    Some(slot) => *slot = id,
                    None => self.last_ids.push(id),
                }
                id
            }
        }
    }

    /// The id of `name`, added when new.
    fn lookup_name(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub fn push(&mut self, time: Micros, row: &Record) {
        let mut data = std::mem::take(&mut self.open);
        // The record's length goes in front (`push_record`'s framing), known once it is written.
        let at = data.len();
        data.extend_from_slice(&[0; 4]);
        put_varint(&mut data, row.len() as u64);
        for (place, (name, v)) in row.iter().enumerate() {
            put_varint(&mut data, u64::from(self.name_id(place, name)));
            match v {
                Value::Null => data.push(0),
                Value::Str(s) => {
                    data.push(1);
                    put_text(&mut data, s);
                }
                Value::Num(n) => {
                    data.push(2);
                    put_f64(&mut data, *n);
                }
                Value::Multi(items) => {
                    data.push(3);
                    put_varint(&mut data, items.len() as u64);
                    items.iter().for_each(|s| put_text(&mut data, s));
                }
            }
        }
        let len = (data.len() - at - 4) as u32;
        data[at..at + 4].copy_from_slice(&len.to_le_bytes());
        self.times.push(time);
        if data.len() >= BLOCK_BYTES {
            // Writing to a Vec cannot fail; were compression to, the block is kept as is.
            if write_block(&mut self.packed, &data).is_err() {
                let _ = write_stored_block(&mut self.packed, &data);
            }
            data.clear();
        }
        self.open = data;
    }

    /// The row encoded in `bytes`, with room for `spare` more fields.
    fn decode_row(&self, mut bytes: &[u8], spare: usize) -> Option<Record> {
        let cur = &mut bytes;
        let n = usize::try_from(get_varint(cur)?).ok()?;
        let mut row = Record::with_capacity(n.min(256) + spare);
        // Names seen, by id (one id per name): asking the record for each name cost O(n^2)
        // (a Sigma match has ~80 fields: 50k instructions a row).
        let mut seen = vec![0u64; self.names.len().div_ceil(64)];
        for _ in 0..n {
            let id = usize::try_from(get_varint(cur)?).ok()?;
            let name = self.names.get(id)?;
            let word = seen.get_mut(id / 64)?;
            if *word & (1 << (id % 64)) != 0 {
                return None;
            }
            *word |= 1 << (id % 64);
            let (&tag, rest) = cur.split_first()?;
            *cur = rest;
            let value = match tag {
                0 => Value::Null,
                1 => Value::Str(get_text(cur)?),
                2 => Value::Num(get_f64(cur)?),
                3 => {
                    let count = usize::try_from(get_varint(cur)?).ok()?;
                    let mut items = Vec::with_capacity(count.min(cur.len()));
                    for _ in 0..count {
                        items.push(get_text(cur)?);
                    }
                    Value::Multi(items)
                }
                _ => return None,
            };
            row.push_new_str(name, value);
        }
        cur.is_empty().then_some(row)
    }

    /// Calls `each` with every row's time and record, in insertion order; false when a
    /// block or row is damaged or the rows do not match the times (then it stops there).
    fn for_each_record(&self, mut each: impl FnMut(Micros, Record)) -> bool {
        self.for_each_encoded(|_, t, bytes| self.decode_row(bytes, 0).map(|row| each(t, row)).is_some())
    }

    /// Calls `each` with every row's position, time and encoded bytes, in insertion order
    /// (`each` says whether the row was sound); false when a block or row is damaged or the
    /// rows do not match the times (then it stops there).
    fn for_each_encoded(&self, mut each: impl FnMut(usize, Micros, &[u8]) -> bool) -> bool {
        let mut tail = Vec::with_capacity(self.open.len() + 9);
        if !self.open.is_empty() && write_stored_block(&mut tail, &self.open).is_err() {
            return false;
        }
        let mut blocks = BlockReader::new(self.packed.as_slice().chain(tail.as_slice()));
        let mut times = self.times.iter().enumerate();
        loop {
            match blocks.next_record() {
                Ok(Some(bytes)) => match times.next() {
                    Some((i, &t)) if each(i, t, bytes) => {}
                    _ => return false,
                },
                Ok(None) => return times.next().is_none(),
                Err(_) => return false,
            }
        }
    }

    /// The rows newest first, as [`EventRows::into_records_newest_first`] orders them, handed
    /// on `chunk` at a time, so only a chunk of them is ever decoded (a whole rule's matches
    /// as records took several times their text, per finishing worker). Each chunk is one
    /// pass over the blocks decoding only its rows; a chunk grows to a [`MAX_PASSES`]-th of
    /// the rows, so the blocks are read at most that many times. False when a block or row is
    /// damaged (the rows of the chunk decoded before it are still handed on). Each record
    /// has room for `spare` more fields (what the operators will add: a full record's field
    /// vector would double for the first).
    pub fn for_each_chunk_newest_first(&self, chunk: usize, spare: usize, mut each: impl FnMut(Vec<Record>)) -> bool {
        let mut order: Vec<usize> = (0..self.times.len()).collect();
        // Stable: ties keep insertion order.
        order.sort_by_key(|&i| std::cmp::Reverse(self.times[i]));
        let size = chunk.max(order.len().div_ceil(MAX_PASSES)).max(1);
        // Per row, its place in the current chunk (`usize::MAX`: not in it).
        let mut place = vec![usize::MAX; order.len()];
        for part in order.chunks(size) {
            part.iter().enumerate().for_each(|(k, &i)| place[i] = k);
            let mut rows: Vec<Option<Record>> = part.iter().map(|_| None).collect();
            let sound = self.for_each_encoded(|i, _, bytes| match place[i] {
                usize::MAX => true,
                k => self.decode_row(bytes, spare).map(|row| rows[k] = Some(row)).is_some(),
            });
            part.iter().for_each(|&i| place[i] = usize::MAX);
            each(rows.into_iter().flatten().collect());
            if !sound {
                return false;
            }
        }
        true
    }

    /// Appends `other`'s rows after this one's (re-encoded with this table's name ids).
    pub fn extend(&mut self, other: EventRows) {
        if self.times.is_empty() {
            *self = other;
            return;
        }
        // `other` was built here and checked when decoded: nothing is damaged.
        other.for_each_record(|t, row| self.push(t, &row));
    }

    /// Writes the rows for [`EventRows::decode`].
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_u64(buf, self.names.len() as u64);
        self.names.iter().for_each(|n| put_str(buf, n));
        put_u64(buf, self.times.len() as u64);
        self.times.iter().for_each(|&t| put_u64(buf, t as u64));
        for bytes in [&self.packed, &self.open] {
            put_u64(buf, bytes.len() as u64);
            buf.extend_from_slice(bytes);
        }
    }

    /// Reads what [`EventRows::encode`] wrote; `None` when it is damaged (every row is
    /// decoded once to check it).
    pub fn decode(cur: &mut &[u8]) -> Option<EventRows> {
        let mut rows = EventRows::default();
        let names = get_u64(cur)?;
        for _ in 0..names {
            let name = get_str(cur)?;
            rows.lookup_name(&name);
        }
        let n = get_u64(cur)?;
        for _ in 0..n {
            rows.times.push(get_u64(cur)? as i64);
        }
        let mut bytes = || -> Option<Vec<u8>> {
            let len = usize::try_from(get_u64(cur)?).ok()?;
            let (data, rest) = cur.split_at_checked(len)?;
            *cur = rest;
            Some(data.to_vec())
        };
        rows.packed = bytes()?;
        rows.open = bytes()?;
        rows.for_each_record(|_, _| {}).then_some(rows)
    }

    /// The rows newest first, as Splunk returns events (ties keep insertion order).
    pub fn into_records_newest_first(self) -> Vec<Record> {
        let mut order: Vec<(Micros, Record)> = Vec::with_capacity(self.times.len());
        // Damage cannot happen here (see `extend`); the rows before it are kept.
        self.for_each_record(|t, r| order.push((t, r)));
        order.sort_by_key(|e| std::cmp::Reverse(e.0));
        order.into_iter().map(|(_, r)| r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: &str) -> Record {
        let mut r = Record::new();
        r.set("name", Value::str(n));
        r.set("tags", Value::Multi(vec!["a".into(), "b".into()]));
        r.set("n", Value::Num(1.5));
        r.set("none", Value::Null);
        r
    }

    /// Names found by their place in the last row, or looked up when another stands there.
    #[test]
    fn rows_of_other_names_and_orders_round_trip() {
        let mut rows = EventRows::default();
        let mut swapped = Record::new();
        swapped.set("n", Value::Num(2.0));
        swapped.set("name", Value::str("swapped"));
        let mut longer = row("longer");
        longer.set("extra", Value::str("x"));
        let pushed = [row("first"), swapped, longer, row("again"), Record::new(), row("last")];
        for (t, r) in pushed.iter().enumerate() {
            rows.push(t as Micros, r);
        }
        assert_eq!(rows.names, ["name", "tags", "n", "extra"], "each name once (a null is no field)");
        let mut back = rows.into_records_newest_first();
        back.reverse();
        assert_eq!(back, pushed);
    }

    #[test]
    fn rows_cleared_for_reuse_encode_as_fresh_ones() {
        let (mut reused, mut fresh) = (EventRows::default(), EventRows::default());
        let mut big = Record::new();
        big.set("blob", Value::str("z".repeat(2 * KEEP_BYTES)));
        reused.push(5, &big);
        reused.push(6, &row("before"));
        reused.clear_for_reuse();
        assert_eq!(reused.open.capacity(), 0, "a buffer past the bound is dropped");
        for rows in [&mut reused, &mut fresh] {
            rows.push(20, &row("after"));
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        reused.encode(&mut a);
        fresh.encode(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn rows_round_trip_newest_first_through_merge_and_codec() {
        let mut a = EventRows::default();
        a.push(10, &row("ten"));
        a.push(30, &row("thirty"));
        let mut b = EventRows::default();
        let mut other = Record::new();
        other.set("only_in_b", Value::str("x".repeat(300)));
        b.push(20, &other);
        b.push(30, &row("thirty again"));
        a.extend(b);
        let mut buf = Vec::new();
        a.encode(&mut buf);
        let mut cur = buf.as_slice();
        let copy = EventRows::decode(&mut cur).unwrap();
        assert!(cur.is_empty());
        buf.truncate(buf.len() - 1);
        assert!(EventRows::decode(&mut buf.as_slice()).is_none(), "damaged");
        let rows = copy.into_records_newest_first();
        let names: Vec<String> = rows.iter().map(|r| r.value("name").to_string()).collect();
        assert_eq!(names, ["thirty", "thirty again", "", "ten"]);
        assert_eq!(rows[2].value("only_in_b").to_string().len(), 300);
        assert_eq!(rows[0], row("thirty"));
    }

    #[test]
    fn many_rows_are_compressed_and_come_back_in_order() {
        let mut rows = EventRows::default();
        let command = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -nop -w hidden -enc ";
        for i in 0..2000 {
            rows.push(i, &row(&format!("{command}{i}")));
        }
        assert!(!rows.packed.is_empty() && rows.packed.len() < 2000 * command.len() / 4, "{} bytes packed", rows.packed.len());
        let mut buf = Vec::new();
        rows.encode(&mut buf);
        let back = EventRows::decode(&mut buf.as_slice()).unwrap().into_records_newest_first();
        assert_eq!(back.len(), 2000);
        assert_eq!(back[0].value("name").to_string(), format!("{command}1999"));
        assert_eq!(back[1999], row(&format!("{command}0")));
        // Fewer times than rows, or more: damaged.
        let mut cut = EventRows::decode(&mut buf.as_slice()).unwrap();
        cut.times.pop();
        assert!(!cut.for_each_record(|_, _| {}));
        cut.times.extend([1, 2]);
        assert!(!cut.for_each_record(|_, _| {}));
    }

    #[test]
    fn chunks_newest_first_are_the_whole_order_in_pieces() {
        let mut rows = EventRows::default();
        // Times out of order with ties, across several blocks.
        for i in 0..3000i64 {
            rows.push((i * 7919) % 500, &row(&format!("row {i} {}", "x".repeat(40))));
        }
        let whole: Vec<Record> = {
            let mut buf = Vec::new();
            rows.encode(&mut buf);
            EventRows::decode(&mut buf.as_slice()).unwrap().into_records_newest_first()
        };
        for chunk in [1, 100, 1000, 5000] {
            let mut sizes = Vec::new();
            let mut back = Vec::new();
            assert!(rows.for_each_chunk_newest_first(chunk, 2, |c| {
                sizes.push(c.len());
                back.extend(c);
            }));
            assert_eq!(back, whole, "chunk {chunk}");
            // Small chunks grow so that the blocks are read at most MAX_PASSES times.
            assert!(sizes.len() <= MAX_PASSES, "{sizes:?}");
            assert!(sizes.iter().all(|&n| n <= chunk.max(3000usize.div_ceil(MAX_PASSES))));
        }
        let mut none = 0;
        assert!(EventRows::default().for_each_chunk_newest_first(10, 0, |_| none += 1));
        assert_eq!(none, 0);
    }

    /// A row naming a field twice, or a name the table lacks, is damaged.
    #[test]
    fn rows_with_a_name_twice_are_damaged() {
        let mut rows = EventRows::default();
        rows.push(1, &row("one"));
        let encoded = |ids: &[u64]| {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, ids.len() as u64);
            for &id in ids {
                put_varint(&mut bytes, id);
                bytes.push(1);
                put_text(&mut bytes, "x");
            }
            bytes
        };
        let fields = rows.names.len() as u64;
        assert!(fields >= 2, "the test row has two fields at least");
        assert_eq!(rows.decode_row(&encoded(&[0, 1]), 0).map(|r| r.len()), Some(2));
        assert!(rows.decode_row(&encoded(&[1, 0, 1]), 0).is_none());
        assert!(rows.decode_row(&encoded(&[0, fields]), 0).is_none());
    }

    #[test]
    fn varints() {
        for n in [0u64, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, n);
            assert_eq!(get_varint(&mut buf.as_slice()), Some(n));
        }
    }
}
