//! The prefilter's pass over a row read by name (a raw event): its properties and fields.
//!
//! Exact-value conditions are met as the fields are visited, literal ones after every exact
//! value is in: a gated literal field is searched only when a predicate of its gate met its
//! exact value, and most gates are `EventCode`s that the add-ons derive last in the event.
//! When the event says which names it has ([`NamesShape`](vigil_model::NamesShape)), only the
//! places with conditions are visited (see [`ShapePlan`]), and the fields past them, which the
//! shape does not cover.

use super::{Met, PassBuffers, ScanIndex};
use crate::expr::field::{FieldAccess, NamedFields};
use crate::expr::prefilter_names::{ExactMemo, Memo, NameMemos, NameTargets, ShapePlan, Targets, ABSENT};

/// Where a value with literal conditions is in the row, for after the exact values.
#[derive(Debug, Clone, Copy)]
pub(super) enum ValueAt {
    /// One of [`NamedFields::properties`].
    Property(usize),
    /// The value of field number `n`.
    Field(usize),
}

impl ScanIndex {
    /// Meets the conditions on the event's properties and named fields (see the module's
    /// documentation).
    pub(super) fn meet_named(
        &self,
        by_name: &NameTargets,
        named: &NamedFields,
        row: &dyn FieldAccess,
        memos: &mut NameMemos,
        pass: &mut PassBuffers,
        met: &mut Met,
    ) {
        let mut literal = std::mem::take(&mut pass.literal_values);
        match row.names_shape().filter(|shape| shape.len <= named.fields.len()) {
            Some(shape) => {
                let ShapePlan { places, len, rest } = by_name.plan(memos, shape, named.fields);
                self.meet_properties(by_name, named, rest, &mut literal, pass, met);
                for p in places.iter_mut() {
                    if let Some((_, item)) = named.fields.get(p.place) {
                        let targets = by_name.targets_at(p.at);
                        self.meet_exact_targets(targets, item, Some(&mut p.exact), &mut pass.key, met);
                        if !targets.literal.is_empty() {
                            literal.push((p.at, ValueAt::Field(p.place)));
                        }
                    }
                }
                self.meet_visited(by_name, named.fields, *len, rest, &mut literal, pass, met);
            }
            None => {
                let memo = by_name.memo(memos, row.shape());
                self.meet_properties(by_name, named, memo, &mut literal, pass, met);
                self.meet_visited(by_name, named.fields, 0, memo, &mut literal, pass, met);
            }
        }
        for (at, value) in literal.drain(..) {
            let item = match value {
                ValueAt::Property(k) => named.properties.get(k).copied(),
                ValueAt::Field(n) => named.fields.get(n).map(|(_, v)| v.as_str()),
            };
            let Some(item) = item else { continue };
            for &l in &by_name.targets_at(at).literal {
                if self.gate_open(l, met) {
                    self.meet_literal(l, item, &mut pass.key, &mut pass.searches, met);
                }
            }
        }
        pass.literal_values = literal;
    }

    /// Meets the exact-value conditions on the event's properties through `memo`'s, and lists
    /// those with literal conditions in `literal`.
    fn meet_properties(
        &self,
        by_name: &NameTargets,
        named: &NamedFields,
        memo: &mut Memo,
        literal: &mut Vec<(u32, ValueAt)>,
        pass: &mut PassBuffers,
        met: &mut Met,
    ) {
        let places = by_name.property_places();
        for (k, ((at, item), exact)) in places.into_iter().zip(named.properties).zip(&mut memo.properties).enumerate() {
            let targets = by_name.targets_at(at);
            self.meet_exact_targets(targets, item, Some(exact), &mut pass.key, met);
            if !targets.literal.is_empty() {
                literal.push((at, ValueAt::Property(k)));
            }
        }
    }

    /// Visits `fields[from..]`, their names resolved through `memo` by place counted from
    /// `from`: meets their exact-value conditions, and lists those with literal conditions in
    /// `literal`. A plain loop (not a closure per field): most fields have no condition at all.
    #[allow(clippy::too_many_arguments)]
    fn meet_visited(
        &self,
        by_name: &NameTargets,
        fields: &[(String, String)],
        from: usize,
        memo: &mut Memo,
        literal: &mut Vec<(u32, ValueAt)>,
        pass: &mut PassBuffers,
        met: &mut Met,
    ) {
        for (place, (name, item)) in fields.iter().enumerate().skip(from) {
            let (at, exact) = by_name.lookup(memo, place - from, name);
            if at == ABSENT {
                continue;
            }
            let targets = by_name.targets_at(at);
            self.meet_exact_targets(targets, item, exact, &mut pass.key, met);
            if !targets.literal.is_empty() {
                literal.push((at, ValueAt::Field(place)));
            }
        }
    }

    /// Meets the exact-value conditions `targets` (of one field name) on one value of that
    /// field, looked up through the memo of its place, if it has one.
    fn meet_exact_targets(&self, targets: &Targets, item: &str, exact: Option<&mut ExactMemo>, key: &mut String, met: &mut Met) {
        if targets.exact.is_empty() {
            return;
        }
        match exact {
            Some(memo) => {
                let found = memo.find(item, |found| {
                    for &f in &targets.exact {
                        found.extend_from_slice(self.exact_predicates(f, item, key));
                    }
                });
                met.exact.add(found);
            }
            None => {
                for &f in &targets.exact {
                    self.meet_exact(f, item, key, met);
                }
            }
        }
    }
}
