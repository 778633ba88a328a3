//! Telling an event's shape without writing its key. Every event's shape is looked up, and
//! writing and hashing a key of all its field names cost more than the rest of what a shape
//! saves; events of one kind come back, so a thread guesses an event's shape from the last
//! ones with as many fields and checks the guess by comparing the names themselves.

use vigil_model::Event;

/// What an event has that its shape's key is made of: its source, sourcetype, field names,
/// and the values of the fields conditions name.
#[derive(Debug)]
pub(crate) struct Layout {
    source: String,
    sourcetype: String,
    names: Vec<String>,
    /// (position, value) of each field some condition names.
    conditions: Vec<(usize, String)>,
}

impl Layout {
    /// The layout of `ev`, whose fields `is_condition` accepts some condition names.
    pub fn of(ev: &Event, is_condition: impl Fn(&str) -> bool) -> Layout {
        let conditions = ev.fields.iter().enumerate().filter(|(_, (k, _))| is_condition(k)).map(|(p, (_, v))| (p, v.clone()));
        Layout {
            source: ev.source.clone(),
            sourcetype: ev.sourcetype.clone(),
            names: ev.fields.iter().map(|(k, _)| k.clone()).collect(),
            conditions: conditions.collect(),
        }
    }

    /// Whether `ev` would write the key this layout's event wrote: the same names in the
    /// same order (so the same fields are conditions, at the same places), the same values of
    /// those, the same source and sourcetype. The values are compared first: they tell most
    /// kinds of one size apart.
    pub fn fits(&self, ev: &Event) -> bool {
        self.names.len() == ev.fields.len()
            && self.conditions.iter().all(|(p, v)| ev.fields.get(*p).is_some_and(|(_, x)| x == v))
            && self.names.iter().zip(&ev.fields).all(|(n, (k, _))| n == k)
            && self.source == ev.source
            && self.sourcetype == ev.sourcetype
    }
}

/// How many lists of guesses there are (events go to one by their number of fields).
const SLOTS: usize = 64;

/// Per number of fields (modulo [`SLOTS`]): the shapes last met with it, the latest first.
#[derive(Debug, Default)]
pub(crate) struct Guesses {
    slots: Vec<[Option<u32>; 2]>,
}

impl Guesses {
    /// The shapes to try for an event of `fields` fields.
    pub fn of(&self, fields: usize) -> impl Iterator<Item = usize> + '_ {
        self.slots.get(fields % SLOTS).into_iter().flatten().flatten().map(|&i| i as usize)
    }

    /// Remembers that the last event of `fields` fields was of shape `shape`.
    pub fn met(&mut self, fields: usize, shape: usize) {
        let Ok(shape) = u32::try_from(shape) else { return };
        if self.slots.is_empty() {
            self.slots = vec![[None; 2]; SLOTS];
        }
        if let Some(slot) = self.slots.get_mut(fields % SLOTS) {
            if slot[0] != Some(shape) {
                *slot = [Some(shape), slot[0]];
            }
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: &str, fields: &[(&str, &str)]) -> Event {
        let mut e = Event { source: source.into(), sourcetype: "st".into(), ..Event::default() };
        fields.iter().for_each(|(k, v)| e.push(*k, *v));
        e
    }

    #[test]
    fn events_fit_the_layout_of_their_shape_only() {
        let base = event("s", &[("EventCode", "1"), ("Image", "x")]);
        let layout = Layout::of(&base, |name| name == "EventCode");
        assert!(layout.fits(&event("s", &[("EventCode", "1"), ("Image", "other")])));
        for other in [
            event("s", &[("EventCode", "2"), ("Image", "x")]),
            event("t", &[("EventCode", "1"), ("Image", "x")]),
            event("s", &[("EventCode", "1"), ("Imagf", "x")]),
            event("s", &[("Image", "x"), ("EventCode", "1")]),
            event("s", &[("EventCode", "1")]),
            event("s", &[("EventCode", "1"), ("Image", "x"), ("More", "")]),
        ] {
            assert!(!layout.fits(&other), "{other:?}");
        }
        let mut typed = base.clone();
        typed.sourcetype = "other".into();
        assert!(!layout.fits(&typed));
    }

    #[test]
    fn the_last_two_shapes_of_a_size_are_guessed_latest_first() {
        let mut g = Guesses::default();
        assert_eq!(g.of(3).count(), 0);
        g.met(3, 7);
        g.met(3, 7);
        assert_eq!(g.of(3).collect::<Vec<_>>(), [7]);
        g.met(3, 8);
        g.met(3 + SLOTS, 9);
        assert_eq!(g.of(3).collect::<Vec<_>>(), [9, 8]);
        assert_eq!(g.of(4).count(), 0);
        g.clear();
        assert_eq!(g.of(3).count(), 0);
    }
}
