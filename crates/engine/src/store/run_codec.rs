//! The compact byte form of groups in spilled runs (`store::spill`).
//!
//! A run holds its groups in key order. Groups are written in batches of about
//! [`BATCH_BYTES`], each batch column by column: every group's first key part, then every
//! group's second, ..., then the states. A column holds texts of one kind (hosts, users,
//! command lines, paths, GUIDs) in neighbouring groups, so each text is front-coded against
//! the one above it (the length of the prefix they share, then the rest) and zstd finds the
//! rest's repeats among texts of its kind. Lengths and counts are varints, and whole-number
//! floats (times, counts) too. Written group by group with four-byte lengths and eight-byte
//! counts and times, a run interleaved unlike texts with zeros. A reader decodes one group
//! of the batch at a time. The scan state format of `scan::codec` keeps its own encoding.

use crate::store::agg::AggState;
use crate::store::key_bytes::KeyBytes;

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

pub(crate) fn get_varint(cur: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = cur.split_first()?;
        *cur = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

fn get_bytes<'a>(cur: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if cur.len() < n {
        return None;
    }
    let (head, rest) = cur.split_at(n);
    *cur = rest;
    Some(head)
}

pub(crate) fn put_text(buf: &mut Vec<u8>, s: &str) {
    put_varint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

pub(crate) fn get_text(cur: &mut &[u8]) -> Option<String> {
    let n = usize::try_from(get_varint(cur)?).ok()?;
    String::from_utf8(get_bytes(cur, n)?.to_vec()).ok()
}

/// Appends `key` front-coded against `prev`: shared prefix length, rest length, rest.
pub(crate) fn put_front_coded(buf: &mut Vec<u8>, prev: &[u8], key: &[u8]) {
    let shared = prev.iter().zip(key).take_while(|(a, b)| a == b).count();
    put_varint(buf, shared as u64);
    put_varint(buf, (key.len() - shared) as u64);
    buf.extend_from_slice(&key[shared..]);
}

/// Reads a key written by [`put_front_coded`] into `key`, which holds the previous one.
pub(crate) fn get_front_coded(cur: &mut &[u8], key: &mut Vec<u8>) -> Option<()> {
    let shared = usize::try_from(get_varint(cur)?).ok()?;
    let rest = usize::try_from(get_varint(cur)?).ok()?;
    if shared > key.len() {
        return None;
    }
    key.truncate(shared);
    key.extend_from_slice(get_bytes(cur, rest)?);
    Some(())
}

/// Floats that are whole numbers (times, counts, most sums) as zigzag varints; the rest, and
/// -0.0, as their eight bytes, so every value comes back bit for bit.
fn put_num(buf: &mut Vec<u8>, x: f64) {
    const EXACT: f64 = (1u64 << 53) as f64;
    if x.fract() == 0.0 && x.abs() < EXACT && !(x == 0.0 && x.is_sign_negative()) {
        let n = x as i64;
        buf.push(0);
        put_varint(buf, ((n << 1) ^ (n >> 63)) as u64);
    } else {
        buf.push(1);
        buf.extend_from_slice(&x.to_bits().to_le_bytes());
    }
}

fn get_num(cur: &mut &[u8]) -> Option<f64> {
    match get_bytes(cur, 1)?[0] {
        0 => {
            let z = get_varint(cur)?;
            Some(((z >> 1) as i64 ^ -((z & 1) as i64)) as f64)
        }
        1 => get_bytes(cur, 8)?.try_into().ok().map(u64::from_le_bytes).map(f64::from_bits),
        _ => None,
    }
}

fn put_texts<'a>(buf: &mut Vec<u8>, n: usize, items: impl Iterator<Item = &'a String>) {
    put_varint(buf, n as u64);
    items.for_each(|s| put_text(buf, s));
}

fn get_texts(cur: &mut &[u8]) -> Option<Vec<String>> {
    let n = get_varint(cur)?;
    // Each text takes at least a byte: a damaged count cannot reserve more than the record.
    let mut out = Vec::with_capacity((n as usize).min(cur.len()));
    for _ in 0..n {
        out.push(get_text(cur)?);
    }
    Some(out)
}

pub(crate) fn put_state(buf: &mut Vec<u8>, st: &AggState) {
    match st {
        AggState::Count(c) => {
            buf.push(0);
            put_varint(buf, *c);
        }
        AggState::Distinct(s) => {
            buf.push(1);
            let s = s.as_deref();
            put_texts(buf, s.map_or(0, crate::store::agg::TextSet::len), s.into_iter().flatten());
        }
        AggState::Values(v) => {
            buf.push(2);
            put_texts(buf, v.len(), v.iter());
        }
        AggState::ValuesBig(s) => {
            buf.push(2);
            put_texts(buf, s.len(), crate::store::agg::sorted_refs(s).into_iter());
        }
        AggState::List(v) => {
            buf.push(3);
            put_texts(buf, v.len(), v.iter());
        }
        AggState::Extreme { num, has_num, any_text, text } => {
            buf.push(4);
            buf.push(u8::from(*has_num) | u8::from(text.is_some()) << 1 | u8::from(*any_text) << 2);
            if *has_num {
                put_num(buf, *num);
            }
            if let Some(t) = text {
                put_text(buf, t);
            }
        }
        AggState::Sum { sum, n } => {
            buf.push(5);
            put_num(buf, *sum);
            put_varint(buf, *n);
        }
        AggState::Range { min, max, n } => {
            buf.push(6);
            put_num(buf, *min);
            put_num(buf, *max);
            put_varint(buf, *n);
        }
        AggState::Timed(v) => {
            buf.push(7);
            buf.push(u8::from(v.is_some()));
            if let Some((t, s)) = v {
                put_varint(buf, ((t << 1) ^ (t >> 63)) as u64);
                put_text(buf, s);
            }
        }
        AggState::Stdev { n, mean, m2 } => {
            buf.push(8);
            put_varint(buf, *n);
            buf.extend_from_slice(&mean.to_bits().to_le_bytes());
            buf.extend_from_slice(&m2.to_bits().to_le_bytes());
        }
    }
}

pub(crate) fn get_state(cur: &mut &[u8]) -> Option<AggState> {
    let raw = |cur: &mut &[u8]| get_bytes(cur, 8)?.try_into().ok().map(u64::from_le_bytes).map(f64::from_bits);
    Some(match get_bytes(cur, 1)?[0] {
        0 => AggState::Count(get_varint(cur)?),
        1 => AggState::distinct_of(get_texts(cur)?),
        2 => AggState::values_of(get_texts(cur)?),
        3 => AggState::List(get_texts(cur)?),
        4 => {
            let flags = get_bytes(cur, 1)?[0];
            let has_num = flags & 1 != 0;
            let num = if has_num { get_num(cur)? } else { 0.0 };
            let text = if flags & 2 != 0 { Some(get_text(cur)?.into_boxed_str()) } else { None };
            AggState::Extreme { num, has_num, any_text: flags & 4 != 0, text }
        }
        5 => AggState::Sum { sum: get_num(cur)?, n: get_varint(cur)? },
        6 => AggState::Range { min: get_num(cur)?, max: get_num(cur)?, n: get_varint(cur)? },
        7 => match get_bytes(cur, 1)?[0] {
            0 => AggState::Timed(None),
            _ => {
                let z = get_varint(cur)?;
                let t = (z >> 1) as i64 ^ -((z & 1) as i64);
                AggState::Timed(Some((t, get_text(cur)?.into_boxed_str())))
            }
        },
        8 => AggState::Stdev { n: get_varint(cur)?, mean: raw(cur)?, m2: raw(cur)? },
        _ => return None,
    })
}

/// A group read back from a run: its key (texts checked only when used) and states.
pub(crate) type SpilledGroup = (KeyBytes, Vec<AggState>);

/// Raw bytes of one batch before it is handed on: small enough that a merge reading many
/// runs side by side holds little per run (a reader keeps its current batch), large enough
/// that each column has many texts to share prefixes and repeats with.
pub(crate) const BATCH_BYTES: usize = 64 << 10;

/// Gathers groups (in key order) into one batch, column by column.
#[derive(Default)]
pub(crate) struct BatchWriter {
    groups: usize,
    /// One buffer per key part, with the part written last in it.
    columns: Vec<(Vec<u8>, Vec<u8>)>,
    states: Vec<u8>,
}

impl BatchWriter {
    /// Whether a group with `parts` key parts fits the batch (all groups of a batch have as
    /// many parts; a run's always do).
    pub fn fits(&self, parts: usize) -> bool {
        self.groups == 0 || self.columns.len() == parts
    }

    pub fn push<K: AsRef<[u8]>>(&mut self, key: &[K], states: &[AggState]) {
        if self.groups == 0 {
            self.columns.resize_with(key.len(), Default::default);
        }
        self.groups += 1;
        for ((column, prev), part) in self.columns.iter_mut().zip(key) {
            put_front_coded(column, prev, part.as_ref());
            prev.clear();
            prev.extend_from_slice(part.as_ref());
        }
        put_varint(&mut self.states, states.len() as u64);
        states.iter().for_each(|st| put_state(&mut self.states, st));
    }

    /// Bytes gathered so far.
    pub fn bytes(&self) -> usize {
        self.states.len() + self.columns.iter().map(|(c, _)| c.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.groups == 0
    }

    /// Writes the batch to `out` (group count, part count, each column's length, the columns,
    /// the states) and empties it.
    pub fn take(&mut self, out: &mut Vec<u8>) {
        put_varint(out, self.groups as u64);
        put_varint(out, self.columns.len() as u64);
        self.columns.iter().for_each(|(c, _)| put_varint(out, c.len() as u64));
        self.columns.iter().for_each(|(c, _)| out.extend_from_slice(c));
        out.extend_from_slice(&self.states);
        self.groups = 0;
        self.columns.clear();
        self.states.clear();
    }
}

/// Reads the groups of one batch back, one at a time.
#[derive(Default)]
pub(crate) struct BatchReader {
    bytes: Vec<u8>,
    left: usize,
    /// Per key part: where its next text starts, where its column ends, and the text last read.
    columns: Vec<(usize, usize, Vec<u8>)>,
    states: usize,
}

impl BatchReader {
    /// Starts reading a batch written by [`BatchWriter::take`]; `None` if it is damaged.
    pub fn start(&mut self, batch: &[u8]) -> Option<()> {
        self.bytes.clear();
        self.bytes.extend_from_slice(batch);
        let mut cur = self.bytes.as_slice();
        self.left = usize::try_from(get_varint(&mut cur)?).ok()?;
        let parts = usize::try_from(get_varint(&mut cur)?).ok()?;
        if parts > cur.len() {
            return None;
        }
        let lens = (0..parts).map(|_| usize::try_from(get_varint(&mut cur).ok_or(())?).map_err(|_| ())).collect::<Result<Vec<_>, ()>>();
        let mut at = self.bytes.len() - cur.len();
        self.columns.clear();
        for len in lens.ok()? {
            let end = at.checked_add(len).filter(|&e| e <= self.bytes.len())?;
            self.columns.push((at, end, Vec::new()));
            at = end;
        }
        self.states = at;
        Some(())
    }

    /// The next group, `Ok(None)` at the batch's end, `Err` if it is damaged.
    pub fn next(&mut self) -> Result<Option<SpilledGroup>, ()> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        for (at, end, prev) in &mut self.columns {
            let mut cur = self.bytes.get(*at..*end).ok_or(())?;
            get_front_coded(&mut cur, prev).ok_or(())?;
            *at = *end - cur.len();
        }
        // Texts are checked when a row is built from them (`KeyBytes::texts`), not here.
        let key = KeyBytes::of_parts(self.columns.iter().map(|(_, _, part)| part.as_slice()));
        let mut cur = self.bytes.get(self.states..).ok_or(())?;
        let n = get_varint(&mut cur).ok_or(())?;
        let states = (0..n).map(|_| get_state(&mut cur)).collect::<Option<Vec<AggState>>>().ok_or(())?;
        self.states = self.bytes.len() - cur.len();
        Ok(Some((key, states)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_coding_shares_prefixes_and_checks_them() {
        let mut buf = Vec::new();
        put_front_coded(&mut buf, b"", b"host1\0\x01cmd a");
        put_front_coded(&mut buf, b"host1\0\x01cmd a", b"host1\0\x01cmd b");
        assert_eq!(&buf[buf.len() - 3..], [11, 1, b'b']);
        let mut cur = buf.as_slice();
        let mut key = Vec::new();
        get_front_coded(&mut cur, &mut key).expect("first");
        assert_eq!(key, b"host1\0\x01cmd a");
        get_front_coded(&mut cur, &mut key).expect("second");
        assert_eq!(key, b"host1\0\x01cmd b");
        assert!(cur.is_empty());
        let mut short = Vec::new();
        assert!(get_front_coded(&mut [5u8, 0].as_slice(), &mut short).is_none(), "shares more than there is");
    }

    #[test]
    fn numbers_come_back_bit_for_bit() {
        for x in [0.0, -0.0, 1.0, -1.0, 1.5, 1.7e9, -3e15, 9.1e15, 1e300, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE] {
            let mut buf = Vec::new();
            put_num(&mut buf, x);
            let back = get_num(&mut buf.as_slice()).expect("decodes");
            assert_eq!(back.to_bits(), x.to_bits(), "{x}");
        }
        let mut buf = Vec::new();
        put_num(&mut buf, 1_733_000_000.0);
        assert!(buf.len() <= 6, "a time in seconds is a short varint");
        for n in [0u64, 127, 128, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, n);
            assert_eq!(get_varint(&mut buf.as_slice()), Some(n));
        }
        assert_eq!(get_varint(&mut [0x80u8; 11].as_slice()), None);
    }

    #[test]
    fn batches_come_back_group_by_group_and_damage_is_found() {
        let groups: Vec<(Vec<String>, Vec<AggState>)> = (0..50)
            .map(|i| {
                let key = vec![format!("host{}", i / 10), format!("C:\\tools\\x{i}.exe"), String::new()];
                (key, vec![AggState::Count(i), AggState::Timed(Some((i as i64 * 1000, "v".into())))])
            })
            .collect();
        let mut w = BatchWriter::default();
        for (k, st) in &groups {
            assert!(w.fits(k.len()));
            w.push(k, st);
        }
        assert!(!w.fits(2));
        let mut bytes = Vec::new();
        w.take(&mut bytes);
        assert!(w.is_empty() && w.fits(2));
        let mut r = BatchReader::default();
        r.start(&bytes).expect("starts");
        let mut back = Vec::new();
        while let Some((key, states)) = r.next().expect("reads") {
            let texts: Vec<String> = key.texts().expect("texts").into_iter().map(str::to_string).collect();
            back.push((texts, states));
        }
        assert_eq!(format!("{back:?}"), format!("{groups:?}"));
        // Any cut batch fails to start or fails on some group: never a wrong group.
        for cut in 0..bytes.len() {
            let mut r = BatchReader::default();
            if r.start(&bytes[..cut]).is_none() {
                continue;
            }
            let mut n = 0;
            let failed = loop {
                match r.next() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break false,
                    Err(()) => break true,
                }
            };
            assert!(failed || n < groups.len(), "cut at {cut}");
        }
    }
}
