//! Work done once per event shape instead of once per event. Events of one source, sourcetype,
//! list of field names and values of the fields conditions name (EventCode, ...) get the same
//! add-on blocks, eventtypes and mappings, and find each field at the same positions: a thread
//! works that out the first time it meets such an event ([`Shape`]), so that later ones only
//! evaluate the expressions, reading their fields by position instead of by scanning every
//! field's name.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};

use vigil_model::{DatasetRow, Event, NamesShape};

use crate::classes::Seen;
use crate::expr::{only_one, FieldValues, NameId, UNNAMED};
use crate::hashers::{NameMap, WordHasher};
use crate::knowledge::{take_back, DeriveBuffers, Knowledge, KnowledgeShape, LastKind};
use crate::layout::{Guesses, Layout};
use crate::rows::Rows;
use crate::spec::Mapping;
use crate::Normalizer;
use crate::RowNeeds;

/// The most shapes a thread remembers (memory stays bounded whatever the input holds); past
/// it, events of new shapes take the plain path.
const MAX_SHAPES: usize = 4096;

/// The field names expressions read, numbered, and what a shape's key is made of.
#[derive(Debug, Default)]
pub(crate) struct Names {
    ids: NameMap<String, NameId>,
    /// Per id: whether the knowledge may derive a field of that name (then rows look for it
    /// among the derived fields too).
    derivable: Vec<bool>,
    /// Names the knowledge may derive.
    derived_names: Vec<String>,
    /// Fields some condition names: their values are part of a shape.
    conditions: Vec<String>,
    /// Bit `n` set when some condition names a field of `n` bytes (n < 64; bit 63 for
    /// longer ones): most names are told apart from `conditions` by their length alone.
    condition_lens: u64,
    /// Tells this normalizer's shapes (and its restrictions') from others' in a thread's memo.
    generation: u64,
    /// False when there were too many names to number: every event takes the plain path.
    enabled: bool,
}

/// The bit of `name`'s length in [`Names::condition_lens`].
fn length_bit(name: &str) -> u64 {
    1 << name.len().min(63)
}

/// A new [`Names::generation`].
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Names {
    /// Numbers every field name the expressions of `knowledge` and `mappings` read, giving
    /// each expression its ids.
    pub fn number(knowledge: &mut Knowledge, mappings: &mut [Mapping]) -> Names {
        let mut names = Names { generation: next_generation(), enabled: true, ..Names::default() };
        names.derived_names = knowledge.set_names().map(str::to_string).collect();
        names.derived_names.sort_unstable();
        names.derived_names.dedup();
        knowledge.exprs_mut().for_each(|e| e.for_each_field_mut(&mut |name, id| *id = names.id_of(name)));
        for (_, e) in mappings.iter_mut().flat_map(|m| m.fields.iter_mut()) {
            e.for_each_field_mut(&mut |name, id| *id = names.id_of(name));
        }
        let conds = mappings.iter().flat_map(|m| m.conds.iter().map(|(f, _)| f.as_str()));
        names.conditions = knowledge.condition_fields().chain(conds).map(str::to_string).collect();
        names.conditions.sort_unstable();
        names.conditions.dedup();
        names.condition_lens = names.conditions.iter().fold(0, |bits, c| bits | length_bit(c));
        names
    }

    /// The id of `name`, numbered now if it has none ([`UNNAMED`], and every event the plain
    /// way, when there are too many).
    fn id_of(&mut self, name: &str) -> NameId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let Some(id) = NameId::try_from(self.ids.len()).ok().filter(|&id| id != UNNAMED) else {
            self.enabled = false;
            return UNNAMED;
        };
        self.ids.insert(name.to_string(), id);
        self.derivable.push(self.is_derivable(name));
        id
    }

    /// Names whose only conditions are on `fields`, for tests of keys.
    #[cfg(test)]
    pub(crate) fn with_conditions(fields: &[&str]) -> Names {
        let conditions: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let condition_lens = conditions.iter().fold(0, |bits, c| bits | length_bit(c));
        Names { conditions, condition_lens, enabled: true, ..Names::default() }
    }

    /// Whether some condition names the field `name`.
    #[inline]
    pub(crate) fn is_condition(&self, name: &str) -> bool {
        self.condition_lens & length_bit(name) != 0 && self.conditions.iter().any(|c| c == name)
    }

    fn is_derivable(&self, name: &str) -> bool {
        self.derived_names.binary_search_by(|n| n.as_str().cmp(name)).is_ok()
    }

    /// After the knowledge was restricted: shapes worked out before no longer hold, and the
    /// fields that tell its kinds of event apart are given ids.
    pub fn renew(&mut self, knowledge: &mut Knowledge) {
        self.generation = next_generation();
        knowledge.key_fields_mut().for_each(|(name, id)| *id = self.id_of(name));
    }
}

/// What events of one shape get (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Shape {
    knowledge: KnowledgeShape,
    /// The mappings whose conditions such events meet, and whether a condition must still be
    /// tested per event (one naming a field the knowledge may derive).
    mappings: Vec<(usize, bool)>,
    /// Per name id: where its positions start in `positions`, and how many there are.
    slots: Vec<(u16, u16)>,
    /// Positions of the event's own fields, grouped by name id, in event order.
    positions: Vec<u16>,
}

/// An event's fields read through its shape: its own fields by position, derived ones (from
/// `own` on) by name when the knowledge may derive that name.
struct Shaped<'a> {
    fields: &'a [(String, String)],
    own: usize,
    shape: &'a Shape,
    derivable: &'a [bool],
}

impl FieldValues for Shaped<'_> {
    #[inline]
    fn values<'a>(&'a self, name: &'a str, id: NameId) -> impl Iterator<Item = &'a str> + 'a {
        let own = self.own(id).map(|(_, v)| v.as_str());
        let derived = match self.derivable.get(usize::from(id)) {
            Some(true) => self.fields.get(self.own..).unwrap_or_default(),
            _ => &[],
        };
        own.chain(derived.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str()))
    }

    /// By position alone when the knowledge derives no field of that name (the common case:
    /// no chain of iterators).
    #[inline]
    fn single<'a>(&'a self, name: &'a str, id: NameId, keep: impl Fn(&str) -> bool) -> Option<&'a str> {
        if self.derivable.get(usize::from(id)).copied().unwrap_or(false) {
            return only_one(self.values(name, id), keep);
        }
        only_one(self.own(id).map(|(_, v)| v.as_str()), keep)
    }
}

impl Shaped<'_> {
    /// The event's own fields of name id `id`, by position.
    #[inline]
    fn own(&self, id: NameId) -> impl Iterator<Item = &(String, String)> {
        let (start, count) = self.shape.slots.get(usize::from(id)).map_or((0, 0), |&(s, c)| (usize::from(s), usize::from(c)));
        let positions = self.shape.positions.get(start..start + count).unwrap_or_default();
        positions.iter().filter_map(|&p| self.fields.get(usize::from(p)))
    }
}

/// Buffers [`Normalizer::with_enriched_rows`] (and [`Normalizer::with_enriched`]) reuse from
/// event to event, and what the thread has worked out per event shape.
#[derive(Debug, Default)]
pub struct EnrichBuffers {
    pub(crate) derive: DeriveBuffers,
    pub(crate) shapes: ShapeMemo,
}

/// A thread's shapes, kept in its [`EnrichBuffers`].
#[derive(Debug, Default)]
pub(crate) struct ShapeMemo {
    /// The [`Names::generation`] the shapes were worked out for.
    generation: u64,
    /// Tells these shapes from those of other memos and generations in [`NamesShape::id`]s.
    epoch: u64,
    index: HashMap<Vec<u8>, usize, BuildHasherDefault<WordHasher>>,
    shapes: Vec<Shape>,
    /// Per shape: the searches' wishes for its last event (a kind of event is its shape and
    /// the values of a few fields, which mostly repeat too).
    kinds: Vec<LastKind>,
    /// Where an event's kind is written to be compared with its shape's last one.
    kind_texts: Vec<u8>,
    /// The key of the event at hand, in a buffer kept from event to event.
    key: Vec<u8>,
    /// Per shape: what its events have, to check a guess against.
    layouts: Vec<Layout>,
    guesses: Guesses,
}

impl ShapeMemo {
    /// The number of `ev`'s shape, worked out now if it is new; `None` when the event must
    /// take the plain path.
    fn find(&mut self, n: &Normalizer, ev: &Event) -> Option<usize> {
        let names = &n.names;
        if !names.enabled || ev.fields.len() > usize::from(u16::MAX) {
            return None;
        }
        if self.generation != names.generation {
            self.index.clear();
            self.shapes.clear();
            self.kinds.clear();
            self.layouts.clear();
            self.guesses.clear();
            self.generation = names.generation;
            self.epoch = next_epoch();
        }
        let count = ev.fields.len();
        let guessed = self.guesses.of(count).find(|&i| self.layouts.get(i).is_some_and(|l| l.fits(ev)));
        if let Some(i) = guessed {
            self.guesses.met(count, i);
            return Some(i);
        }
        let key = &mut self.key;
        key.clear();
        push_text(key, &ev.source);
        push_text(key, &ev.sourcetype);
        for (k, v) in &ev.fields {
            push_text(key, k);
            if names.is_condition(k) {
                key.push(1);
                push_text(key, v);
            } else {
                key.push(0);
            }
        }
        if let Some(&i) = self.index.get(key.as_slice()) {
            self.guesses.met(count, i);
            return Some(i);
        }
        if self.shapes.len() >= MAX_SHAPES {
            return None;
        }
        let i = self.shapes.len();
        self.shapes.push(n.shape_of(ev));
        self.kinds.push(LastKind::default());
        self.layouts.push(Layout::of(ev, |name| names.is_condition(name)));
        self.index.insert(key.clone(), i);
        self.guesses.met(count, i);
        Some(i)
    }
}

/// A new [`ShapeMemo::epoch`].
fn next_epoch() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl ShapeMemo {
    /// What shape `i` proves of its events' names: its key holds every one of their own
    /// fields' names, in order.
    fn names_shape(&self, i: usize, own: usize) -> NamesShape {
        NamesShape { id: self.epoch * MAX_SHAPES as u64 + i as u64, len: own }
    }
}

/// Appends `text` to a key, its length first (no two lists of texts give one key).
fn push_text(key: &mut Vec<u8>, text: &str) {
    key.extend_from_slice(&text.len().to_le_bytes());
    key.extend_from_slice(text.as_bytes());
}

impl Normalizer {
    /// What events of `ev`'s shape get.
    fn shape_of(&self, ev: &Event) -> Shape {
        let mut pairs: Vec<(NameId, u16)> = Vec::new();
        for (p, (k, _)) in ev.fields.iter().enumerate() {
            if let (Some(&id), Ok(p)) = (self.names.ids.get(k.as_str()), u16::try_from(p)) {
                pairs.push((id, p));
            }
        }
        pairs.sort_unstable();
        let mut slots = vec![(0u16, 0u16); self.names.ids.len()];
        for (at, &(id, _)) in pairs.iter().enumerate() {
            if let (Some(slot), Ok(at)) = (slots.get_mut(usize::from(id)), u16::try_from(at)) {
                if slot.1 == 0 {
                    slot.0 = at;
                }
                slot.1 += 1;
            }
        }
        let mut mappings = Vec::new();
        if let Some((_, idxs)) = self.by_sourcetype.iter().find(|(st, _)| st.eq_ignore_ascii_case(&ev.sourcetype)) {
            for &i in idxs {
                let m = &self.mappings[i];
                let per_event = m.conds.iter().any(|(f, _)| self.names.is_derivable(f));
                if per_event || self.mapping_applies(m, ev) {
                    mappings.push((i, per_event));
                }
            }
        }
        let knowledge = self.knowledge.shape_of(ev, &|name| self.names.is_condition(name));
        Shape { knowledge, mappings, slots, positions: pairs.iter().map(|&(_, p)| p).collect() }
    }

    /// [`Normalizer::with_enriched`] and [`Normalizer::normalize_into`] in one: calls `f`
    /// with `ev` given its search-time fields and with its rows (those `needs` asks for),
    /// then gives `ev` back as it was. What the event's shape decides is worked out
    /// once per shape and thread (in `bufs`); outputs are those of the two calls.
    pub fn with_enriched_rows<R>(
        &self,
        ev: &mut Event,
        bufs: &mut EnrichBuffers,
        needs: &RowNeeds,
        rows: &mut Rows,
        f: impl FnOnce(&Event, &[DatasetRow]) -> R,
    ) -> R {
        // Without knowledge (no search reads raw events' derived fields) the rows alone do not
        // pay for the shape's lookup: the plain path.
        let shaped = if self.knowledge.is_empty() { None } else { bufs.shapes.find(self, ev) };
        let Some(i) = shaped else {
            return self.with_enriched(ev, bufs, |ev| {
                self.normalize_needed(ev, needs, rows);
                f(ev, rows.as_slice())
            });
        };
        let EnrichBuffers { derive: DeriveBuffers { spare, values, .. }, shapes: memo } = bufs;
        let (own, derived_from) = (ev.fields.len(), ev.derived_from);
        ev.names_shape = Some(memo.names_shape(i, own));
        let ShapeMemo { shapes, kinds, kind_texts, .. } = memo;
        let shape = &shapes[i];
        let k = &self.knowledge;
        // As `Knowledge::plan`: nothing when no block or eventtype applies or the searches
        // want nothing of such events.
        let own_fields = Shaped { fields: &ev.fields, own, shape, derivable: &[] };
        // Shapes and their last kinds are pushed together.
        let last = &mut kinds[i];
        let wanted_of = |source| k.wanted_as_last(&ev.sourcetype, &own_fields, source, last, kind_texts);
        let enrich = shape.knowledge.source.map(wanted_of).filter(|w| !w.is_some_and(|w| w.is_empty()));
        if let Some(wanted) = enrich {
            ev.derived_from = Some(own);
            let mut seen = Seen::default();
            let steps = &shape.knowledge.steps;
            for s in last.wanted_steps(&shape.knowledge, wanted).iter().map(|&s| s as usize) {
                let (Some(&(b, j, id)), Some(constant)) = (steps.get(s), shape.knowledge.constants.get(s)) else { continue };
                // Set by an earlier step (the first block that sets a field wins).
                if seen.has(id) {
                    continue;
                }
                if let Some(values) = constant {
                    let copy = |i: usize, value: &mut String| value.push_str(&values[i]);
                    k.push_each(b, j, (&mut seen, &mut ev.fields, spare), values.len(), copy);
                    continue;
                }
                let (expr, view) = (k.expr(b, j), Shaped { fields: &ev.fields[..own], own, shape, derivable: &[] });
                // One value (the common case): written straight into the field's spare string.
                if let Some(v) = expr.is_direct().then(|| expr.single_value(&view)).flatten() {
                    let mut pair = spare.pop().unwrap_or_default();
                    let kept = expr.direct_into(v, &mut pair.1);
                    k.push_one(b, j, pair, kept, &mut seen, &mut ev.fields, spare);
                    continue;
                }
                values.clear();
                expr.eval(&view, values);
                k.push_derived(b, j, &mut seen, &mut ev.fields, spare, values);
            }
            k.push_eventtypes(&shape.knowledge.eventtypes, wanted, &mut ev.fields, spare);
        }
        rows.clear();
        let view = Shaped { fields: &ev.fields, own, shape, derivable: &self.names.derivable };
        for &(i, per_event) in &shape.mappings {
            let m = &self.mappings[i];
            if let Some(plan) = needs.plan(i, m.dataset).filter(|_| !per_event || self.mapping_applies(m, ev)) {
                self.push_row(m, plan, ev, &view, rows);
            }
        }
        let result = f(ev, rows.as_slice());
        ev.names_shape = None;
        if enrich.is_some() {
            take_back(ev, own, derived_from, spare);
        }
        result
    }
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;
