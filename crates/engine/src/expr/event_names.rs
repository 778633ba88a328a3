//! A raw event with an index of its field names, for predicates that look fields up by name.
//!
//! `Event::fields` is a list in event order (a name may repeat: multivalue), so a lookup by
//! name scans every field; the ~25 candidate predicates an event meets look up a few names
//! each, which scanned the event's 20-40 fields every time. The index is built once per
//! event, on its first lookup, in a buffer reused across events (no allocation per event once
//! it is large enough).

use super::field::{fold_into, FieldAccess, FieldRef};
use std::cell::{Cell, RefCell};
use vigil_model::{Event, NamesShape};

/// Where each field name of the current event sits in `Event::fields`: an open-addressing
/// table with linear probing, so one name's positions lie along its probe sequence in the
/// order they were inserted (event order), and clearing it is one fill.
///
/// An event whose first field names the normalizer has proven shared with other events (its
/// [`NamesShape`]) is indexed in two parts: those fields through a table made once per shape
/// and kept, the rest (the add-ons' derived fields) through a table made for the event. Every
/// kept position comes before every per-event one, so event order holds across the two.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    /// (hash of the name, position + 1); position 0 marks an empty slot. The current event's
    /// fields from `from` on.
    slots: RefCell<Vec<(u32, u32)>>,
    /// The first position `slots` covers; the shape's table (`shape`) covers those before.
    from: Cell<usize>,
    /// The current event's shape table in `shapes`, if it has one.
    shape: Cell<Option<usize>>,
    /// Tables of the first names of events of each shape seen (see [`ShapeTables`]).
    shapes: RefCell<ShapeTables>,
    /// Whether `slots` (and `from`, `shape`) describe the current event.
    built: Cell<bool>,
    /// Counts events: which event a folded value was made for.
    event: Cell<u64>,
    /// Lowercased copies of the current event's values by position, made on first use: the
    /// case-insensitive patterns of many predicates read the same few fields.
    folded: RefCell<Folded>,
    /// The same for the event's properties (see [`property_slot`]).
    properties: RefCell<FoldedProperties>,
}

/// Lowercased copies of the current event's source, sourcetype, host and index, each made on
/// its first use: most raw-event searches begin with the same test of the source or
/// sourcetype, which lowercased the value again for every candidate search of the event.
#[derive(Debug, Default)]
struct FoldedProperties {
    /// The event each was made for (see [`NameIndex::event`]); `None` before the first.
    made_for: [Option<u64>; 4],
    /// The values as they were when last lowercased: the same few sources and sourcetypes
    /// come again event after event, and comparing is cheaper than lowercasing again.
    plain: [String; 4],
    values: [String; 4],
}

#[derive(Debug, Default)]
struct Folded {
    values: Vec<String>,
    /// The event `values[i]` was made for (its field `i`, lowercased); see [`NameIndex::event`].
    made_for: Vec<u64>,
}

impl NameIndex {
    /// Forgets the previous event (keeps the buffer).
    pub fn reset(&self) {
        self.built.set(false);
        self.event.set(self.event.get().wrapping_add(1));
    }

    fn build(&self, ev: &Event) {
        // A shape's table covers its first `len` fields; a shape claiming more fields than
        // the event has proves nothing of it.
        let shaped = ev.names_shape.filter(|s| s.len <= ev.fields.len());
        let from = match shaped {
            Some(shape) => {
                let at = self.shapes.borrow_mut().table_of(shape, &ev.fields);
                self.shape.set(at);
                if at.is_some() {
                    shape.len
                } else {
                    0
                }
            }
            None => {
                self.shape.set(None);
                0
            }
        };
        self.from.set(from);
        fill_table(&mut self.slots.borrow_mut(), ev.fields.get(from..).unwrap_or_default());
        self.built.set(true);
    }
    /// Calls `f` on the position of each field named `name` in `ev` (the event the index was
    /// built for, or is built for now) in event order, until it returns true.
    fn any_position(&self, ev: &Event, name: &str, f: &mut dyn FnMut(usize) -> bool) -> bool {
        if !self.built.get() {
            self.build(ev);
        }
        let hash = name_hash(name);
        // Shared borrows: `f` may look up another field of the same event (Sigma fieldref).
        if let Some(at) = self.shape.get() {
            let shapes = self.shapes.borrow();
            if let Some((_, table)) = shapes.tables.get(at) {
                if probe(table, hash, 0, ev, name, f) {
                    return true;
                }
            }
        }
        probe(&self.slots.borrow(), hash, self.from.get(), ev, name, f)
    }

    /// Calls `f` on the position of each field named `name` in `ev`, in event order (see
    /// [`NameIndex::any_position`]).
    pub fn for_each_position(&self, ev: &Event, name: &str, f: &mut dyn FnMut(usize)) {
        self.any_position(ev, name, &mut |pos| {
            f(pos);
            false
        });
    }

    fn any_value(&self, ev: &Event, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.any_position(ev, name, &mut |pos| ev.fields.get(pos).is_some_and(|(_, v)| f(v)))
    }

    /// [`NameIndex::any_value`] over lowercased values; `None` when called from inside `f` of
    /// another such call (its buffers are in use), for the caller to read the values as they are.
    fn any_value_folded(&self, ev: &Event, name: &str, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let mut busy = false;
        let hit = self.any_position(ev, name, &mut |pos| {
            let Some((_, value)) = ev.fields.get(pos) else { return false };
            let Ok(mut folded) = self.folded.try_borrow_mut() else {
                busy = true;
                return true;
            };
            let folded = &mut *folded;
            if folded.values.len() <= pos {
                folded.values.resize_with(pos + 1, String::new);
                // No event's number (events are counted from 0, one per reset).
                folded.made_for.resize(pos + 1, u64::MAX);
            }
            let event = self.event.get();
            if folded.made_for[pos] != event {
                fold_into(&mut folded.values[pos], value);
                folded.made_for[pos] = event;
            }
            f(&folded.values[pos])
        });
        (!busy).then_some(hit)
    }

    /// Calls `f` on the lowercased event property in `slot` (see [`property_slot`]); `None`
    /// when called from inside `f` of another such call (its buffers are in use).
    fn property_folded(&self, ev: &Event, slot: usize, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let mut props = self.properties.try_borrow_mut().ok()?;
        let props = &mut *props;
        let event = self.event.get();
        let made_for = props.made_for.get_mut(slot)?;
        if *made_for != Some(event) {
            let value = [ev.source.as_str(), &ev.sourcetype, &ev.host, ev.index_name()][slot];
            let (plain, buf) = (props.plain.get_mut(slot)?, props.values.get_mut(slot)?);
            if *plain != value {
                fold_into(buf, value);
                plain.clear();
                plain.push_str(value);
            }
            *made_for = Some(event);
        }
        Some(f(props.values.get(slot)?))
    }
}

/// Tables of the first field names of events by [`NamesShape`], made on a shape's first
/// event and kept; bounded (forgotten all at once when full).
#[derive(Debug, Default)]
struct ShapeTables {
    /// Shape id -> its place in `tables`.
    by_id: hashbrown::HashMap<u64, usize>,
    /// (how many fields the table covers, the table).
    tables: Vec<(usize, Vec<(u32, u32)>)>,
}

/// Most shape tables kept (~0.5 KiB each for events of ~40 fields).
const MAX_SHAPE_TABLES: usize = 1024;

impl ShapeTables {
    /// The place of the table of `shape`'s names, made from `fields` (an event of that shape)
    /// if there is none.
    fn table_of(&mut self, shape: NamesShape, fields: &[(String, String)]) -> Option<usize> {
        let own = fields.get(..shape.len)?;
        if let Some(&at) = self.by_id.get(&shape.id) {
            // Every event of one shape covers the same names; a different count would be no
            // proof of them.
            return (self.tables.get(at)?.0 == shape.len).then_some(at);
        }
        if self.tables.len() >= MAX_SHAPE_TABLES {
            self.by_id.clear();
            self.tables.clear();
        }
        let mut table = Vec::new();
        fill_table(&mut table, own);
        self.tables.push((shape.len, table));
        self.by_id.insert(shape.id, self.tables.len() - 1);
        Some(self.tables.len() - 1)
    }
}

/// Fills `slots` with the names of `fields` (positions counted from 0 within them): at most
/// half full, so probe sequences stay short.
fn fill_table(slots: &mut Vec<(u32, u32)>, fields: &[(String, String)]) {
    let size = (fields.len() * 2).next_power_of_two().max(16);
    slots.clear();
    slots.resize(size, (0, 0));
    let mask = size - 1;
    for (pos, (name, _)) in fields.iter().enumerate() {
        let hash = name_hash(name);
        let mut at = hash as usize & mask;
        while slots[at].1 != 0 {
            at = (at + 1) & mask;
        }
        slots[at] = (hash, pos as u32 + 1);
    }
}

/// Calls `f` on the event position (`from` + the table's) of each field named `name` (of hash
/// `hash`) in a table, in the order they were put in it, until it returns true.
fn probe(slots: &[(u32, u32)], hash: u32, from: usize, ev: &Event, name: &str, f: &mut dyn FnMut(usize) -> bool) -> bool {
    let mask = slots.len().wrapping_sub(1);
    let mut at = hash as usize & mask;
    // The table is never full, so the walk ends at an empty slot.
    while let Some(&(h, pos)) = slots.get(at).filter(|&&(_, pos)| pos != 0) {
        let pos = from + pos as usize - 1;
        if h == hash && ev.fields.get(pos).is_some_and(|(k, _)| k == name) && f(pos) {
            return true;
        }
        at = (at + 1) & mask;
    }
    false
}

/// A short hash of a field name from its length and its first and last 8 bytes, read as whole
/// words: the index hashes every field of every event, and a word-by-word hash of the whole name
/// (copying each partial word) cost more than the rest of building it. Names alike in those
/// bytes only share a probe sequence; lookups compare the names themselves.
fn name_hash(name: &str) -> u32 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let b = name.as_bytes();
    let n = b.len();
    let word8 = |at: usize| b.get(at..at + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes);
    let word4 = |at: usize| b.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_le_bytes);
    // Overlapping reads cover every byte of names up to 16 bytes long.
    let (head, tail) = match n {
        8.. => (word8(0), word8(n - 8)),
        4..=7 => (u64::from(word4(0)) | u64::from(word4(n - 4)) << 32, 0),
        1..=3 => (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0),
        0 => (0, 0),
    };
    let h = ((n as u64) ^ head).wrapping_mul(K).rotate_left(29) ^ tail;
    (h.wrapping_mul(K) >> 32) as u32
}

/// An event whose lookups by name go through `names`, which must have been reset since the
/// event's fields last changed.
pub(crate) struct IndexedEvent<'a> {
    pub ev: &'a Event,
    pub names: &'a NameIndex,
}

impl FieldAccess for IndexedEvent<'_> {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            FieldRef::Name(n) => self.any_named(n, f),
            _ => self.ev.any_item(field, f),
        }
    }

    fn raw(&self) -> Option<&str> {
        self.ev.raw()
    }

    fn named_fields(&self) -> Option<super::field::NamedFields<'_>> {
        self.ev.named_fields()
    }

    fn for_each_own_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        self.ev.for_each_own_named(f)
    }

    fn shape(&self) -> usize {
        self.ev.shape()
    }

    fn names_shape(&self) -> Option<vigil_model::NamesShape> {
        self.ev.names_shape
    }

    fn any_item_folded(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let FieldRef::Name(n) = field else { return None };
        match property_slot(n) {
            Some(slot) => self.names.property_folded(self.ev, slot, f),
            None if is_event_property(n) => None,
            None => self.names.any_value_folded(self.ev, n, f),
        }
    }

    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        if is_event_property(name) {
            // The event's own properties, not its fields (see `Event::any_named`).
            return self.ev.any_named(name, f);
        }
        self.names.any_value(self.ev, name, f)
    }
}

/// Where [`FoldedProperties`] keeps the lowercased property of this name (`_raw` and `_time`
/// are not kept: the one is long, the other a number).
fn property_slot(name: &str) -> Option<usize> {
    match name {
        "source" => Some(0),
        "sourcetype" => Some(1),
        "host" => Some(2),
        "index" => Some(3),
        _ => None,
    }
}

/// Names `Event::any_named` answers from the event's properties rather than its fields.
fn is_event_property(name: &str) -> bool {
    matches!(name, "source" | "sourcetype" | "host" | "_raw" | "index" | "_time")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(row: &dyn FieldAccess, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        row.any_named(name, &mut |v| {
            out.push(v.to_string());
            false
        });
        out
    }

    fn event(fields: &[(&str, &str)]) -> Event {
        let mut ev = Event {
            source: "src".into(),
            sourcetype: "st".into(),
            host: "h".into(),
            raw: "text".into(),
            time: Some(3_000_000),
            ..Event::default()
        };
        for (k, v) in fields {
            ev.push(*k, *v);
        }
        ev
    }

    #[test]
    fn lookups_agree_with_the_plain_event_across_reused_events() {
        let names = NameIndex::default();
        let events = [
            event(&[("Image", "a.exe"), ("CommandLine", "a -x"), ("Image", "b.exe"), ("User", "u")]),
            event(&[("User", "v"), ("image", "lower"), ("host", "field host"), ("_raw", "field raw")]),
            event(&[]),
        ];
        let asked = ["Image", "image", "CommandLine", "User", "Missing", "", "source", "sourcetype", "host", "_raw", "index", "_time"];
        for ev in &events {
            names.reset();
            let row = IndexedEvent { ev, names: &names };
            for name in asked {
                assert_eq!(values(&row, name), values(ev, name), "{name} in {ev:?}");
                let field = FieldRef::Name(name.to_string());
                let mut seen = Vec::new();
                row.any_item(&field, &mut |v| {
                    seen.push(v.to_string());
                    false
                });
                assert_eq!(seen, values(ev, name));
            }
        }
    }

    #[test]
    fn many_fields_and_repeated_names_keep_event_order() {
        let names = NameIndex::default();
        let owned: Vec<(String, String)> = (0..300).map(|i| (format!("F{}", i % 37), format!("v{i}"))).collect();
        let fields: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let ev = event(&fields);
        names.reset();
        let row = IndexedEvent { ev: &ev, names: &names };
        for i in 0..40 {
            let name = format!("F{i}");
            assert_eq!(values(&row, &name), values(&ev, &name), "{name}");
        }
        assert_eq!(values(&row, "F3").len(), 9);
    }

    /// Names of one length alike in their first and last 8 bytes share a hash (only those
    /// bytes are read) and are still told apart, as are names of every short length.
    #[test]
    fn names_sharing_a_hash_are_told_apart() {
        let (a, b) = ("ParentPrXXocessGuid", "ParentPrYYocessGuid");
        assert_eq!(name_hash(a), name_hash(b));
        let short: Vec<String> = (0..20).map(|n| "abcdefghijklmnopqrst"[..n].to_string()).collect();
        let mut fields: Vec<(&str, &str)> = vec![(a, "1"), (b, "2"), (a, "3")];
        fields.extend(short.iter().map(|s| (s.as_str(), s.as_str())));
        let ev = event(&fields);
        let names = NameIndex::default();
        names.reset();
        let row = IndexedEvent { ev: &ev, names: &names };
        assert_eq!(values(&row, a), ["1", "3"]);
        assert_eq!(values(&row, b), ["2"]);
        assert_eq!(values(&row, "ParentPrZZocessGuid"), Vec::<String>::new());
        for s in &short {
            assert_eq!(values(&row, s), [s.as_str()], "{s:?}");
        }
    }

    /// Events of one names shape (the same first names, different derived fields after
    /// them, a name repeated across the two parts) are looked up through the shape's kept
    /// table and the event's own: the same values, in event order, as the plain event.
    #[test]
    fn shaped_events_agree_with_the_plain_events() {
        let names = NameIndex::default();
        let shape = |len| Some(NamesShape { id: 7, len });
        let mut events = [
            event(&[("Image", "a.exe"), ("User", "u"), ("Image", "b.exe"), ("dest", "d1"), ("Image", "derived")]),
            event(&[("Image", "c.exe"), ("User", "v"), ("Image", "e.exe"), ("user", "w")]),
            event(&[("Image", "f.exe"), ("User", "x"), ("Image", "g.exe")]),
            // Another shape with the same id but another length proves nothing: looked up whole.
            event(&[("Other", "1"), ("Image", "h.exe")]),
            // Claims more fields than it has.
            event(&[("Image", "i.exe")]),
        ];
        events[0].names_shape = shape(3);
        events[1].names_shape = shape(3);
        events[2].names_shape = shape(3);
        events[3].names_shape = shape(1);
        events[4].names_shape = shape(3);
        for ev in &events {
            names.reset();
            let row = IndexedEvent { ev, names: &names };
            for name in ["Image", "User", "user", "dest", "Other", "Missing"] {
                assert_eq!(values(&row, name), values(ev, name), "{name} in {ev:?}");
            }
        }
    }

    /// Past the bound, the kept tables are forgotten and made again.
    #[test]
    fn many_shapes_are_bounded() {
        let names = NameIndex::default();
        for id in 0..(MAX_SHAPE_TABLES as u64 + 10) {
            let mut ev = event(&[("A", "1"), ("B", "2")]);
            ev.names_shape = Some(NamesShape { id, len: 1 });
            names.reset();
            let row = IndexedEvent { ev: &ev, names: &names };
            assert_eq!(values(&row, "A"), ["1"]);
            assert_eq!(values(&row, "B"), ["2"]);
        }
        assert!(names.shapes.borrow().tables.len() <= MAX_SHAPE_TABLES);
    }

    fn folded(row: &dyn FieldAccess, name: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        row.any_item_folded(&FieldRef::Name(name.to_string()), &mut |v| {
            out.push(v.to_string());
            false
        })?;
        Some(out)
    }

    #[test]
    fn folded_values_are_the_plain_values_lowercased_for_each_reused_event() {
        let names = NameIndex::default();
        let events = [
            event(&[("Image", "C:\\Windows\\CMD.EXE"), ("User", "ÉVE"), ("Image", "b.EXE")]),
            event(&[("Image", "other.exe"), ("CommandLine", "ΣΑΣ /X")]),
            event(&[("User", "bob")]),
        ];
        for ev in &events {
            names.reset();
            let row = IndexedEvent { ev, names: &names };
            for name in ["Image", "User", "CommandLine", "Missing"] {
                let mut want = values(ev, name);
                want.iter_mut().for_each(|v| *v = v.chars().flat_map(char::to_lowercase).collect());
                assert_eq!(folded(&row, name), Some(want.clone()), "{name}");
                // Again, from the copies made the first time.
                assert_eq!(folded(&row, name), Some(want), "{name}");
            }
        }
    }

    #[test]
    fn folded_properties_are_the_plain_properties_lowercased_for_each_reused_event() {
        let names = NameIndex::default();
        let mut events = [event(&[("host", "a field, not the host")]), event(&[]), event(&[])];
        events[0].source = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into();
        events[0].host = "WS-ÉVE".into();
        events[1].sourcetype = "XmlWinEventLog".into();
        events[1].index = "Windows".into();
        for ev in &events {
            names.reset();
            let row = IndexedEvent { ev, names: &names };
            for name in ["source", "sourcetype", "host", "index"] {
                let want: Vec<String> = values(ev, name).iter().map(|v| v.chars().flat_map(char::to_lowercase).collect()).collect();
                assert_eq!(folded(&row, name), Some(want.clone()), "{name}");
                assert_eq!(folded(&row, name), Some(want), "{name}, again");
            }
            // Long or numeric: read as they are.
            assert_eq!(folded(&row, "_raw"), None);
            assert_eq!(folded(&row, "_time"), None);
        }
    }

    /// Fields, and properties (kept apart): the inner lookup of the same kind finds its
    /// buffers in use.
    #[test]
    fn a_folded_lookup_inside_another_leaves_the_inner_one_to_the_plain_path() {
        let names = NameIndex::default();
        let ev = event(&[("A", "X"), ("B", "Y")]);
        for (outer_name, inner_name, want) in [("A", "B", "x"), ("source", "host", "src")] {
            names.reset();
            let row = IndexedEvent { ev: &ev, names: &names };
            let mut inner = Some(Some(Vec::new()));
            let outer = row.any_item_folded(&FieldRef::Name(outer_name.into()), &mut |v| {
                inner = Some(folded(&row, inner_name));
                v == want
            });
            assert_eq!(outer, Some(true), "{outer_name}");
            assert_eq!(inner, Some(None), "{inner_name}");
        }
    }

    #[test]
    fn stops_at_the_first_accepted_value_and_allows_nested_lookups() {
        let names = NameIndex::default();
        let ev = event(&[("A", "1"), ("A", "2"), ("B", "2")]);
        let row = IndexedEvent { ev: &ev, names: &names };
        let mut calls = 0;
        assert!(row.any_named("A", &mut |_| {
            calls += 1;
            true
        }));
        assert_eq!(calls, 1);
        // A value compared with another field's, as Sigma's fieldref does.
        assert!(row.any_named("A", &mut |a| row.any_named("B", &mut |b| a == b)));
        assert!(!row.any_named("B", &mut |b| row.any_named("C", &mut |c| b == c)));
    }
}
