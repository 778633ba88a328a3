//! What the knowledge does to events of one shape, worked out once per shape (see
//! `crate::shape`), and the searches' wishes per kind of event, remembered per shape.

use vigil_model::Event;

use super::{Knowledge, When};
use crate::classes::{Classes, Seen, Wanted};
use crate::expr::{Expr, FieldValues, NameId};
use crate::items::Items;

/// See [`Knowledge::shape_of`].
#[derive(Debug, Default)]
pub(crate) struct KnowledgeShape {
    pub source: Option<usize>,
    /// (block, field, the field's name id).
    pub steps: Vec<(usize, usize, usize)>,
    /// Per step: its values when every event of the shape gets the same ones (its
    /// expression reads only constants, fields the shape lacks and fields whose values are
    /// part of the shape), worked out once.
    pub constants: Vec<Option<Box<[String]>>>,
    pub eventtypes: Vec<usize>,
}

/// The longest [`LastKind::texts`] kept.
const MAX_KIND_TEXTS: usize = 1024;

/// The last answer of [`Knowledge::wanted`] for events of one shape, and what it was for.
#[derive(Debug, Default)]
pub(crate) struct LastKind {
    /// The [`Classes::key_texts`] of the event, when `kept`.
    texts: Vec<u8>,
    kept: bool,
    /// `None` until asked.
    wanted: Option<Option<Wanted>>,
    /// The shape's steps (indexes into [`KnowledgeShape::steps`]) whose field is wanted:
    /// most are not, and testing each per event cost more than deriving the others.
    steps: Option<Vec<u32>>,
}

impl LastKind {
    /// The bytes of kind texts this holds, for tests of its bound.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.texts.capacity()
    }

    /// The steps of `shape` whose field the last answer, `wanted`, asks for.
    pub(crate) fn wanted_steps(&mut self, shape: &KnowledgeShape, wanted: Option<Wanted>) -> &[u32] {
        self.steps.get_or_insert_with(|| {
            let is_wanted = |id: usize| wanted.is_none_or(|w| w.names.has(id));
            (0..shape.steps.len()).filter(|&s| is_wanted(shape.steps[s].2)).filter_map(|s| u32::try_from(s).ok()).collect()
        })
    }
}

impl Knowledge {
    /// What [`Knowledge::with_enriched`] would do to events of `ev`'s shape (its source,
    /// sourcetype, field names and the values of the fields conditions name), before the
    /// searches' wishes: the source's number when some block or eventtype applies, the
    /// (block, field) pairs to derive, in order, without the names the event has already, and
    /// the eventtypes that apply.
    /// `fixed`: whether a field's values are part of the shape.
    pub(crate) fn shape_of(&self, ev: &Event, fixed: &dyn Fn(&str) -> bool) -> KnowledgeShape {
        let mut shape = KnowledgeShape::default();
        let Some(source) = self.by_source.iter().position(|(s, _, _)| s.eq_ignore_ascii_case(&ev.source)) else {
            return shape;
        };
        let (_, blocks, ets) = &self.by_source[source];
        let code = ev.get("EventCode");
        let applies = |w: &When| w.matches(&ev.sourcetype, &ev.fields, code);
        let mut seen = Seen::default();
        for (k, _) in &ev.fields {
            if let Some(&id) = self.name_ids.get(k.as_str()) {
                seen.add(id);
            }
        }
        let mut any = false;
        for &b in blocks.iter().filter(|&&b| applies(&self.blocks[b].when)) {
            any = true;
            let unseen = self.set_ids[b].iter().enumerate().filter(|(_, &id)| !seen.has(id));
            shape.steps.extend(unseen.map(|(j, &id)| (b, j, id)));
        }
        let constant = |name: &str| fixed(name) || ev.get(name).is_none();
        let mut values = Items::default();
        for &(b, j, _) in &shape.steps {
            let expr = self.expr(b, j);
            shape.constants.push(expr.reads_only(&constant).then(|| {
                values.clear();
                expr.eval(ev.fields.as_slice(), &mut values);
                values.as_slice().into()
            }));
        }
        shape.eventtypes = ets.iter().copied().filter(|&e| applies(&self.eventtypes[e].when)).collect();
        if any || !shape.eventtypes.is_empty() {
            shape.source = Some(source);
        }
        shape
    }

    /// Every field name some condition of a block or an eventtype names.
    pub(crate) fn condition_fields(&self) -> impl Iterator<Item = &str> {
        let whens = self.blocks.iter().map(|b| &b.when).chain(self.eventtypes.iter().map(|e| &e.when));
        whens.flat_map(|w| w.conds.iter().map(|(f, _)| f.as_str()))
    }

    /// Every expression of the blocks, for their field names to be numbered.
    pub(crate) fn exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        self.blocks.iter_mut().flat_map(|b| b.set.iter_mut().map(|(_, e)| e))
    }

    /// Every field name the blocks may set, `eventtype` and `tag` included.
    pub(crate) fn set_names(&self) -> impl Iterator<Item = &str> {
        self.blocks.iter().flat_map(|b| b.set.iter().map(|(n, _)| n.as_str())).chain(["eventtype", "tag"])
    }

    /// What an event from source number `source` gets, when the searches' conditions tell
    /// (see [`Knowledge::restrict_by_reader`]).
    pub(crate) fn wanted<F: FieldValues + ?Sized>(&self, sourcetype: &str, fields: &F, source: usize) -> Option<Wanted> {
        let classes = self.classes.as_ref()?;
        classes.wanted(source, sourcetype, fields)
    }

    /// [`Knowledge::wanted`] through `last`, the answer for the last event of the same source
    /// and sourcetype (one shape): asked again only when the fields it depends on changed.
    pub(crate) fn wanted_as_last<F: FieldValues + ?Sized>(
        &self,
        sourcetype: &str,
        fields: &F,
        source: usize,
        last: &mut LastKind,
        scratch: &mut Vec<u8>,
    ) -> Option<Wanted> {
        let classes = self.classes.as_ref()?;
        scratch.clear();
        classes.key_texts(fields, scratch);
        match &last.wanted {
            Some(w) if last.kept && last.texts == *scratch => *w,
            _ => {
                let w = classes.wanted(source, sourcetype, fields);
                if last.wanted != Some(w) {
                    last.steps = None;
                }
                last.wanted = Some(w);
                // A key field may hold whole scripts (ScriptBlockText): such kinds are not
                // kept, so that a shape holds a few short texts at most.
                last.kept = scratch.len() <= MAX_KIND_TEXTS;
                last.texts.clear();
                if last.kept {
                    last.texts.extend_from_slice(scratch);
                }
                w
            }
        }
    }

    /// The fields that tell kinds of event apart for the searches' wishes, to be given ids.
    pub(crate) fn key_fields_mut(&mut self) -> impl Iterator<Item = (&str, &mut NameId)> {
        self.classes.iter_mut().flat_map(Classes::key_fields_mut)
    }
}
