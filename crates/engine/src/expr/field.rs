//! Rows as predicates and expressions read them: a field reference resolved for the row type
//! ([`FieldRef`]), and read access to a row's field items ([`FieldAccess`]) for dataset rows,
//! result records and raw events.

use vigil_model::value::format_num;
use vigil_model::{micros_to_secs, DatasetRow, Event, NamesShape, Record, Value};

/// A field reference resolved for the row type it will be evaluated on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldRef {
    /// A dataset column.
    Column(usize),
    /// `_time`.
    Time,
    /// A field looked up by name (raw events, result rows).
    Name(String),
    /// A field the row type can never have: always null.
    Missing,
}

/// Read access to a row's fields, as predicates need it.
pub trait FieldAccess {
    /// Calls `f` on each item of the field's value until it returns true; returns whether it
    /// did. A null/absent field has no items.
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool;

    /// `_raw`, for bare search terms.
    fn raw(&self) -> Option<&str> {
        None
    }

    /// The row's properties and named fields, when it is keyed by name (raw events).
    fn named_fields(&self) -> Option<NamedFields<'_>> {
        None
    }

    /// Calls `f(name, item)` for every named field item except `_raw` and `_time`, in one
    /// pass, when the row is keyed by name (raw events); returns false when it is not.
    fn for_each_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        self.named_fields().is_some_and(|named| named.for_each(f))
    }

    /// Like [`FieldAccess::for_each_named`] over the row's own fields only: for raw events,
    /// without the add-on fields derived for the loaded searches (see `Event::derived_from`).
    fn for_each_own_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        self.for_each_named(f)
    }

    /// Like [`FieldAccess::any_item`] with items already lowercased, for rows that keep a
    /// lowercased copy (so case-insensitive matching does not fold the same text once per
    /// predicate). `None` when the row has no such copy.
    fn any_item_folded(&self, _field: &FieldRef, _f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        None
    }

    /// A hint of the row's kind, for memos by field place (see `prefilter_names`): rows of
    /// one kind (one event ID) mostly share it. Any value is correct; 0 when the row has none.
    fn shape(&self) -> usize {
        0
    }

    /// What is known of the row's field names (see [`Event::names_shape`]): rows with the same
    /// id have the same first names in the same order. `None` when nothing is.
    fn names_shape(&self) -> Option<NamesShape> {
        None
    }

    /// [`FieldAccess::any_item`] by name, for matchers that hold names rather than resolved
    /// references (Sigma); rows keyed by name answer without building a reference.
    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.any_item(&FieldRef::Name(name.to_string()), f)
    }
}

/// The names of [`NamedFields::properties`], in order.
pub(crate) const PROPERTY_NAMES: [&str; 4] = ["source", "sourcetype", "host", "index"];

/// A raw event's items by name: its properties, then its fields in event order (multivalue
/// fields repeat their name), where fields named like a property, `_raw` or `_time` stand for
/// nothing (the event's own properties answer those names).
pub struct NamedFields<'a> {
    /// The values of [`PROPERTY_NAMES`].
    pub properties: [&'a str; 4],
    pub fields: &'a [(String, String)],
}

impl NamedFields<'_> {
    /// Whether a field of this name stands for nothing (see [`NamedFields`]).
    pub fn is_shadowed(name: &str) -> bool {
        matches!(name, "source" | "sourcetype" | "host" | "index" | "_raw" | "_time")
    }

    /// Calls `f(name, item)` for every property and field but the shadowed ones; true.
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        for (name, value) in PROPERTY_NAMES.iter().zip(self.properties) {
            f(name, value);
        }
        for (k, v) in self.fields {
            if !Self::is_shadowed(k) {
                f(k, v);
            }
        }
        true
    }
}

fn any_item_of(value: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Value::Null => false,
        Value::Str(s) => f(s),
        Value::Num(n) => f(&format_num(*n)),
        Value::Multi(items) => items.iter().any(|s| f(s)),
    }
}

impl FieldAccess for DatasetRow {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            FieldRef::Column(i) => self.values.get(*i).is_some_and(|v| any_item_of(v, f)),
            FieldRef::Time => f(&format_num(micros_to_secs(self.time))),
            _ => false,
        }
    }
}

impl FieldAccess for Record {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            FieldRef::Name(n) => self.get(n).is_some_and(|v| any_item_of(v, f)),
            FieldRef::Time => self.get("_time").is_some_and(|v| any_item_of(v, f)),
            _ => false,
        }
    }

    fn raw(&self) -> Option<&str> {
        match self.get("_raw") {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// As `any_item` of `FieldRef::Name(name)`, without building the reference.
    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.get(name).is_some_and(|v| any_item_of(v, f))
    }
}

impl FieldAccess for Event {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        let name = match field {
            FieldRef::Name(n) => n.as_str(),
            FieldRef::Time => "_time",
            _ => return false,
        };
        self.any_named(name, f)
    }

    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match name {
            "source" => f(&self.source),
            "sourcetype" => f(&self.sourcetype),
            "host" => f(&self.host),
            "_raw" => f(&self.raw),
            // The index the input was given (`--index`), `main` by default.
            "index" => f(self.index_name()),
            "_time" => self.time.is_some_and(|t| f(&format_num(micros_to_secs(t)))),
            _ => self.get_all(name).any(f),
        }
    }

    fn raw(&self) -> Option<&str> {
        Some(&self.raw)
    }

    fn named_fields(&self) -> Option<NamedFields<'_>> {
        Some(named_fields(self, &self.fields))
    }

    fn for_each_own_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        named_fields(self, self.own_fields()).for_each(f)
    }

    /// Events of one ID carry the same number of fields, and events of different IDs mostly not.
    fn shape(&self) -> usize {
        self.fields.len()
    }

    fn names_shape(&self) -> Option<NamesShape> {
        self.names_shape
    }
}

/// `ev`'s properties with `fields` (all of its fields or its own).
fn named_fields<'a>(ev: &'a Event, fields: &'a [(String, String)]) -> NamedFields<'a> {
    NamedFields { properties: [&ev.source, &ev.sourcetype, &ev.host, ev.index_name()], fields }
}

/// A dataset row with a lazily built lowercased copy of the columns predicates read.
pub(crate) struct FoldedRow<'a> {
    pub row: &'a DatasetRow,
    pub cache: &'a std::cell::RefCell<FoldCache>,
}

/// Lowercased column items, reused across rows to avoid allocation.
#[derive(Debug, Default)]
pub(crate) struct FoldCache {
    items: Vec<Vec<String>>,
    /// Per column: how many of `items[c]` are valid for the current row, or `usize::MAX` when
    /// not yet computed.
    len: Vec<usize>,
}

impl FoldCache {
    /// Forgets the previous row's values (keeps the buffers).
    pub fn reset(&mut self, columns: usize) {
        self.len.clear();
        self.len.resize(columns, usize::MAX);
        if self.items.len() < columns {
            self.items.resize_with(columns, Vec::new);
        }
    }

    fn fill(&mut self, c: usize, v: &Value) {
        let slot = &mut self.items[c];
        let mut n = 0;
        let mut push = |s: &str| {
            if slot.len() <= n {
                slot.push(String::new());
            }
            fold_into(&mut slot[n], s);
            n += 1;
        };
        match v {
            Value::Null => {}
            Value::Str(s) => push(s),
            Value::Num(x) => push(&format_num(*x)),
            Value::Multi(items) => items.iter().for_each(|s| push(s)),
        }
        self.len[c] = n;
    }
}

/// Replaces `buf` with `s` lowercased, as every case-insensitive match lowercases values.
pub(crate) fn fold_into(buf: &mut String, s: &str) {
    buf.clear();
    if s.is_ascii() {
        // A copy lowercased in place: far faster than pushing char by char.
        buf.push_str(s);
        buf.make_ascii_lowercase();
    } else {
        // ASCII runs in bulk, as above: mostly-ASCII text ("Microsoft® Windows®") is common.
        let mut rest = s;
        while let Some(at) = rest.bytes().position(|b| !b.is_ascii()) {
            push_ascii_lowercase(buf, &rest[..at]);
            let mut chars = rest[at..].chars();
            buf.extend(chars.next().into_iter().flat_map(char::to_lowercase));
            rest = chars.as_str();
        }
        push_ascii_lowercase(buf, rest);
    }
}

fn push_ascii_lowercase(buf: &mut String, ascii: &str) {
    let start = buf.len();
    buf.push_str(ascii);
    buf[start..].make_ascii_lowercase();
}

impl FieldAccess for FoldedRow<'_> {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.row.any_item(field, f)
    }

    fn any_item_folded(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let FieldRef::Column(c) = field else { return None };
        let v = self.row.values.get(*c)?;
        let mut cache = self.cache.borrow_mut();
        if cache.len.get(*c).copied()? == usize::MAX {
            cache.fill(*c, v);
        }
        let n = cache.len[*c];
        Some(cache.items[*c][..n].iter().any(|s| f(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::fold_into;

    #[test]
    fn folding_equals_lowercasing_every_character() {
        let mut buf = String::from("left over");
        for s in ["", "Cmd.EXE", "Microsoft® Windows® OS", "ÄBC", "xİY", "ΣΑΣ", "日本語 TEXT", "\u{212A}elvin", "A\u{301}Z€"] {
            fold_into(&mut buf, s);
            assert_eq!(buf, s.chars().flat_map(char::to_lowercase).collect::<String>(), "{s}");
        }
    }
}
