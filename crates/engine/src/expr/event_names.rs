//! A raw event with an index of its field names, for predicates that look fields up by name.
//!
//! `Event::fields` is a list in event order (a name may repeat: multivalue), so a lookup by
//! name scans every field; the ~25 candidate predicates an event meets look up a few names
//! each, which scanned the event's 20-40 fields every time. The index is built once per
//! event, on its first lookup, in a buffer reused across events (no allocation per event once
//! it is large enough).

use super::field::{FieldAccess, FieldRef};
use std::cell::{Cell, RefCell};
use vigil_model::Event;

/// Where each field name of the current event sits in `Event::fields`: an open-addressing
/// table with linear probing, so one name's positions lie along its probe sequence in the
/// order they were inserted (event order), and clearing it is one fill.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    /// (hash of the name, position + 1); position 0 marks an empty slot.
    slots: RefCell<Vec<(u32, u32)>>,
    /// Whether `slots` describes the current event.
    built: Cell<bool>,
}

impl NameIndex {
    /// Forgets the previous event (keeps the buffer).
    pub fn reset(&self) {
        self.built.set(false);
    }

    fn build(&self, ev: &Event) {
        let mut slots = self.slots.borrow_mut();
        // At most half full, so probe sequences stay short.
        let size = (ev.fields.len() * 2).next_power_of_two().max(16);
        slots.clear();
        slots.resize(size, (0, 0));
        let mask = size - 1;
        for (pos, (name, _)) in ev.fields.iter().enumerate() {
            let hash = name_hash(name);
            let mut at = hash as usize & mask;
            while slots[at].1 != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = (hash, pos as u32 + 1);
        }
        self.built.set(true);
    }

    /// Calls `f` on each value of field `name` of `ev` (the event the index was built for, or
    /// is built for now) in event order, until it returns true.
    fn any_value(&self, ev: &Event, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        if !self.built.get() {
            self.build(ev);
        }
        let hash = name_hash(name);
        // A shared borrow: `f` may look up another field of the same event (Sigma fieldref).
        let slots = self.slots.borrow();
        let mask = slots.len().wrapping_sub(1);
        let mut at = hash as usize & mask;
        // The table is never full, so the walk ends at an empty slot.
        while let Some(&(h, pos)) = slots.get(at).filter(|&&(_, pos)| pos != 0) {
            if h == hash {
                if let Some((k, v)) = ev.fields.get(pos as usize - 1) {
                    if k == name && f(v) {
                        return true;
                    }
                }
            }
            at = (at + 1) & mask;
        }
        false
    }
}

/// A short hash of a field name (FxHash's step over 8-byte words): names are a few to a few
/// dozen bytes, for which a general-purpose hasher's setup costs more than the hashing.
fn name_hash(name: &str) -> u32 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = name.len() as u64;
    for chunk in name.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    (h >> 32) as u32
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

    fn for_each_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        self.ev.for_each_named(f)
    }

    fn for_each_own_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        self.ev.for_each_own_named(f)
    }

    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        if is_event_property(name) {
            // The event's own properties, not its fields (see `Event::any_named`).
            return self.ev.any_named(name, f);
        }
        self.names.any_value(self.ev, name, f)
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
