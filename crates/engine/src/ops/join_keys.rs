//! Join keys: a row's texts on the join fields, and sets of them with counts.

use vigil_model::Record;

/// Join keys (texts, as the join compares them), with how many rows had each.
#[derive(Default)]
pub(crate) struct KeySet {
    counts: hashbrown::HashMap<Vec<String>, usize>,
    /// Rows that lacked a join field.
    keyless: usize,
}

/// A borrowed key, hashed like the owned `Vec<String>` it is compared with.
#[derive(Hash)]
struct Parts<'a>(&'a [&'a str]);

impl hashbrown::Equivalent<Vec<String>> for Parts<'_> {
    fn equivalent(&self, key: &Vec<String>) -> bool {
        self.0.len() == key.len() && self.0.iter().zip(key).all(|(a, b)| *a == b)
    }
}

impl KeySet {
    /// The keys of `rows` on `fields`, as `join` compares them (rows missing one have none).
    pub fn new(fields: &[String], rows: &[Record]) -> KeySet {
        let mut keys = KeySet::default();
        rows.iter().for_each(|r| keys.insert(fields, r));
        keys
    }

    /// Adds the key of `row` on `fields`, if it has one.
    pub fn insert(&mut self, fields: &[String], row: &Record) {
        match row_key(fields, row) {
            Some(k) => *self.counts.entry(k).or_insert(0) += 1,
            None => self.keyless += 1,
        }
    }

    /// Whether `row` has a key on `fields` and it is in the set.
    pub fn has_row(&self, fields: &[String], row: &Record) -> bool {
        row_key(fields, row).is_some_and(|k| self.counts.contains_key(&k))
    }

    /// Rows that lacked a join field.
    pub fn keyless(&self) -> usize {
        self.keyless
    }

    /// Each key with the number of rows that had it.
    pub fn counts(&self) -> impl Iterator<Item = (&Vec<String>, usize)> {
        self.counts.iter().map(|(k, &n)| (k, n))
    }

    /// Whether a group whose by-field texts are `key` can match (`columns` pick the join fields).
    pub fn admits(&self, columns: &[usize], key: &[&str]) -> bool {
        let mut parts = [""; 8];
        if columns.len() > parts.len() {
            let owned: Vec<&str> = columns.iter().filter_map(|&c| key.get(c).copied()).collect();
            return self.counts.contains_key(&Parts(&owned));
        }
        for (slot, &c) in parts.iter_mut().zip(columns) {
            *slot = key.get(c).copied().unwrap_or("");
        }
        self.counts.contains_key(&Parts(&parts[..columns.len()]))
    }
}

/// A row's texts on the join fields, as `join` compares them (none if one is missing).
pub(crate) fn row_key(fields: &[String], row: &Record) -> Option<Vec<String>> {
    fields.iter().map(|f| row.get(f).map(|v| v.to_string())).collect()
}
