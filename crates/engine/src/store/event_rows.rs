//! Matching raw events held until the scan ends, each encoded as the row store encodes rows
//! (names and values as bytes): about the size of the event's fields' text, where a `Record`
//! of the same event takes several times that in headers and separate allocations.

use super::row_store::{decode_row, encode_row};
use vigil_model::{Micros, Record};

#[derive(Debug, Default)]
pub(crate) struct EventRows {
    /// Every row's encoding, one after another.
    data: Vec<u8>,
    /// Per row: its event time and where its encoding starts in `data`.
    rows: Vec<(Micros, usize)>,
}

impl EventRows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn push(&mut self, time: Micros, row: &Record) {
        self.rows.push((time, self.data.len()));
        encode_row(row, &mut self.data);
    }

    /// Appends `other`'s rows after this one's.
    pub fn extend(&mut self, other: EventRows) {
        let base = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.rows.extend(other.rows.into_iter().map(|(t, at)| (t, at + base)));
    }

    /// Each row's time and encoding, in insertion order.
    pub fn encoded(&self) -> impl Iterator<Item = (Micros, &[u8])> {
        self.rows.iter().enumerate().map(|(i, &(t, at))| {
            let end = self.rows.get(i + 1).map_or(self.data.len(), |&(_, next)| next);
            (t, &self.data[at..end])
        })
    }

    /// Appends a row from an encoding at the front of `cur` (checked by decoding it);
    /// `None` when it is damaged.
    pub fn push_encoded(&mut self, time: Micros, cur: &mut &[u8]) -> Option<()> {
        let before = *cur;
        decode_row(cur)?;
        let used = before.len() - cur.len();
        self.rows.push((time, self.data.len()));
        self.data.extend_from_slice(&before[..used]);
        Some(())
    }

    /// The rows newest first, as Splunk returns events (ties keep insertion order).
    pub fn into_records_newest_first(self) -> Vec<Record> {
        let mut order: Vec<(Micros, &[u8])> = self.encoded().collect();
        order.sort_by_key(|e| std::cmp::Reverse(e.0));
        // Encoded by `push` or checked by `push_encoded`: every row decodes.
        order.into_iter().filter_map(|(_, mut bytes)| decode_row(&mut bytes)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::Value;

    fn row(n: &str) -> Record {
        let mut r = Record::new();
        r.set("name", Value::str(n));
        r.set("tags", Value::Multi(vec!["a".into(), "b".into()]));
        r
    }

    #[test]
    fn rows_round_trip_newest_first_through_merge_and_codec() {
        let mut a = EventRows::default();
        a.push(10, &row("ten"));
        a.push(30, &row("thirty"));
        let mut b = EventRows::default();
        b.push(20, &row("twenty"));
        b.push(30, &row("thirty again"));
        a.extend(b);
        let mut copy = EventRows::default();
        for (t, bytes) in a.encoded() {
            let mut cur = bytes;
            copy.push_encoded(t, &mut cur).unwrap();
            assert!(cur.is_empty());
        }
        assert!(copy.push_encoded(1, &mut &b"\x05\x00"[..]).is_none(), "damaged");
        let names: Vec<String> = copy.into_records_newest_first().iter().map(|r| r.value("name").to_string()).collect();
        assert_eq!(names, ["thirty", "thirty again", "twenty", "ten"]);
    }
}
