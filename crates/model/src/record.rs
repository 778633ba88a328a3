use crate::Value;
use compact_str::CompactString;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A result row: named fields in display order.
///
/// Result rows are small (tens of fields), so a vector with linear lookup beats a hash map
/// and keeps the column order Splunk would show. Names are stored inline when short (almost
/// all field names are), so a row does not carry a heap copy of every name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    fields: Vec<(CompactString, Value)>,
}

impl Record {
    pub fn new() -> Record {
        Record::default()
    }

    pub fn with_capacity(n: usize) -> Record {
        Record { fields: Vec::with_capacity(n) }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The value of a field, or `Null` when absent.
    pub fn value(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }

    /// Sets a field, keeping its position when it exists. Setting `Null` removes it, because
    /// Splunk does not distinguish a null field from an absent one.
    pub fn set(&mut self, name: impl AsRef<str> + Into<String>, value: Value) {
        if value.is_null() {
            self.remove(name.as_ref());
            return;
        }
        match self.fields.iter_mut().find(|(k, _)| k == name.as_ref()) {
            Some((_, v)) => *v = value,
            None => self.fields.push((CompactString::from(name.as_ref()), value)),
        }
    }

    /// Appends a field without looking for an existing one of the same name: for building a
    /// row whose names are known to be distinct (group-by results). A null value is skipped.
    pub fn push_new(&mut self, name: String, value: Value) {
        debug_assert!(self.get(&name).is_none(), "duplicate field {name}");
        if !value.is_null() {
            self.fields.push((CompactString::from(name), value));
        }
    }

    /// [`Record::push_new`] from a borrowed name (a short one is kept inline, uncopied to the heap).
    pub fn push_new_str(&mut self, name: &str, value: Value) {
        debug_assert!(self.get(name).is_none(), "duplicate field {name}");
        if !value.is_null() {
            self.fields.push((CompactString::from(name), value));
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(k, _)| k == name)?;
        Some(self.fields.remove(i).1)
    }

    pub fn rename_field(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        // Rename in place (keeps the column order); an existing `to` is replaced.
        let Some(i) = self.fields.iter().position(|(k, _)| k == from) else { return };
        if let Some(j) = self.fields.iter().position(|(k, _)| k == to) {
            self.fields.remove(j);
        }
        let i = if self.fields.get(i).is_some_and(|(k, _)| k == from) { i } else { i - 1 };
        self.fields[i].0 = CompactString::from(to);
    }

    /// Gives the fields `names` in order, keeping their values and positions (names beyond the
    /// fields are ignored): replays renames worked out on a row with the same names.
    pub fn set_names<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for ((k, _), name) in self.fields.iter_mut().zip(names) {
            if k != name {
                *k = CompactString::from(name);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The field names of `rows` in first-seen order (a table's columns).
    pub fn columns(rows: &[Record]) -> Vec<String> {
        let mut cols: Vec<String> = Vec::new();
        for r in rows {
            for n in r.names() {
                if !cols.iter().any(|c| c == n) {
                    cols.push(n.to_string());
                }
            }
        }
        cols
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value) -> bool) {
        self.fields.retain(|(k, v)| keep(k, v));
    }

    /// Reorders and filters fields to exactly `order` (absent ones skipped).
    pub fn project(&self, order: &[String]) -> Record {
        let mut out = Record::with_capacity(order.len());
        for name in order {
            if let Some(v) = self.get(name) {
                out.fields.push((CompactString::from(name.as_str()), v.clone()));
            }
        }
        out
    }
}

impl FromIterator<(String, Value)> for Record {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        let mut r = Record::new();
        for (k, v) in iter {
            r.set(k, v);
        }
        r
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_order_and_null_removes() {
        let mut r = Record::new();
        r.set("a", Value::str("1"));
        r.set("b", Value::str("2"));
        r.set("a", Value::str("3"));
        assert_eq!(r.names().collect::<Vec<_>>(), ["a", "b"]);
        r.set("a", Value::Null);
        assert_eq!(r.names().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn rename_moves_value() {
        let mut r = Record::new();
        r.set("Processes.dest", Value::str("h"));
        r.rename_field("Processes.dest", "dest");
        assert_eq!(r.value("dest"), &Value::str("h"));
        assert!(r.get("Processes.dest").is_none());
    }

    #[test]
    fn set_names_renames_in_place() {
        let mut r = Record::new();
        r.set("a", Value::str("1"));
        r.set("b", Value::str("2"));
        r.set_names(["x", "b", "ignored"]);
        assert_eq!(r.names().collect::<Vec<_>>(), ["x", "b"]);
        assert_eq!(r.value("x"), &Value::str("1"));
    }
}
