//! Matching raw events held until the scan ends, encoded compactly: each field as the id of
//! its name in a table shared by the rows, a tag and its value with varint lengths. About
//! two thirds of the fields' text, where a `Record` of the same event takes several times
//! that in headers and separate allocations, and field names repeat in every row.

use super::spill::{get_f64, get_str, get_u64, put_f64, put_str, put_u64};
use hashbrown::HashMap;
use vigil_model::{Micros, Record, Value};

#[derive(Debug, Default)]
pub(crate) struct EventRows {
    /// Field names by id, and ids by name.
    names: Vec<String>,
    ids: HashMap<String, u32>,
    /// Every row's encoding, one after another.
    data: Vec<u8>,
    /// Per row: its event time and where its encoding starts in `data`.
    rows: Vec<(Micros, usize)>,
}

fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn get_varint(cur: &mut &[u8]) -> Option<u64> {
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

fn put_text(buf: &mut Vec<u8>, s: &str) {
    put_varint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn get_text(cur: &mut &[u8]) -> Option<String> {
    let n = usize::try_from(get_varint(cur)?).ok()?;
    if cur.len() < n {
        return None;
    }
    let (s, rest) = cur.split_at(n);
    *cur = rest;
    String::from_utf8(s.to_vec()).ok()
}

impl EventRows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    fn name_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub fn push(&mut self, time: Micros, row: &Record) {
        let mut data = std::mem::take(&mut self.data);
        self.rows.push((time, data.len()));
        put_varint(&mut data, row.len() as u64);
        for (name, v) in row.iter() {
            put_varint(&mut data, u64::from(self.name_id(name)));
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
        self.data = data;
    }

    /// The row encoded at the front of `cur`.
    fn decode_row(&self, cur: &mut &[u8]) -> Option<Record> {
        let n = usize::try_from(get_varint(cur)?).ok()?;
        let mut row = Record::with_capacity(n.min(256));
        for _ in 0..n {
            let name = self.names.get(usize::try_from(get_varint(cur)?).ok()?)?;
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
            if row.get(name).is_some() {
                return None;
            }
            row.push_new(name.clone(), value);
        }
        Some(row)
    }

    /// Each row's time and record, in insertion order.
    fn records(&self) -> impl Iterator<Item = (Micros, Option<Record>)> + '_ {
        self.rows.iter().enumerate().map(|(i, &(t, at))| {
            let end = self.rows.get(i + 1).map_or(self.data.len(), |&(_, next)| next);
            (t, self.data.get(at..end).and_then(|mut bytes| self.decode_row(&mut bytes)))
        })
    }

    /// Appends `other`'s rows after this one's (re-encoded with this table's name ids).
    pub fn extend(&mut self, other: EventRows) {
        if self.rows.is_empty() {
            *self = other;
            return;
        }
        for (t, row) in other.records() {
            if let Some(row) = row {
                self.push(t, &row);
            }
        }
    }

    /// Writes the rows for [`EventRows::decode`].
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_u64(buf, self.names.len() as u64);
        self.names.iter().for_each(|n| put_str(buf, n));
        put_u64(buf, self.rows.len() as u64);
        for &(t, at) in &self.rows {
            put_u64(buf, t as u64);
            put_u64(buf, at as u64);
        }
        put_u64(buf, self.data.len() as u64);
        buf.extend_from_slice(&self.data);
    }

    /// Reads what [`EventRows::encode`] wrote; `None` when it is damaged (every row is
    /// decoded once to check it).
    pub fn decode(cur: &mut &[u8]) -> Option<EventRows> {
        let mut rows = EventRows::default();
        let names = get_u64(cur)?;
        for _ in 0..names {
            let name = get_str(cur)?;
            rows.name_id(&name);
        }
        let n = get_u64(cur)?;
        for _ in 0..n {
            let t = get_u64(cur)? as i64;
            let at = usize::try_from(get_u64(cur)?).ok()?;
            rows.rows.push((t, at));
        }
        let len = usize::try_from(get_u64(cur)?).ok()?;
        if cur.len() < len {
            return None;
        }
        let (data, rest) = cur.split_at(len);
        *cur = rest;
        rows.data = data.to_vec();
        let in_order = rows.rows.windows(2).all(|w| w[0].1 <= w[1].1) && rows.rows.first().is_none_or(|r| r.1 == 0);
        (in_order && rows.records().all(|(_, r)| r.is_some())).then_some(rows)
    }

    /// The rows newest first, as Splunk returns events (ties keep insertion order).
    pub fn into_records_newest_first(self) -> Vec<Record> {
        let mut order: Vec<(Micros, Record)> = self.records().filter_map(|(t, r)| Some((t, r?))).collect();
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
    fn varints() {
        for n in [0u64, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, n);
            assert_eq!(get_varint(&mut buf.as_slice()), Some(n));
        }
    }
}
