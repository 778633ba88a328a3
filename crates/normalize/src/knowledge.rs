//! Search-time knowledge: the fields, lookups and eventtypes that Splunk's add-ons (Splunk Add-on
//! for Sysmon, Splunk Add-on for Microsoft Windows) give raw events when a search runs, read
//! from data files (`mappings/addons/*.toml`, see `mappings/README.md`).
//!
//! Raw-event searches are written against these fields (`by dest`, `process_name=...`,
//! `eventtype=wineventlog_system`), so an event gets them before any raw search sees it.
//! Only the fields some loaded search names are computed ([`Knowledge::restrict`]), and an
//! event from a source no file describes costs one short scan of the known sources.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value as T};
use vigil_model::Event;

use crate::classes::{Classes, EventReader, Seen, Wanted, MAX_NAMES};
use crate::expr::Expr;
use crate::hashers::NameMap;
use crate::items::Items;
use crate::spec::{compile_expr, err, line_of, strings};
use crate::Error;

/// The knowledge files built into the binary: (file name, content).
pub const BUILTIN_KNOWLEDGE: &[(&str, &str)] = &[
    ("addons/sysmon.toml", include_str!("../../../mappings/addons/sysmon.toml")),
    ("addons/windows.toml", include_str!("../../../mappings/addons/windows.toml")),
    ("addons/eventtypes.toml", include_str!("../../../mappings/addons/eventtypes.toml")),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    fields: Vec<Spanned<FieldsDef>>,
    #[serde(default)]
    eventtype: Vec<Spanned<EventtypeDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsDef {
    name: String,
    when: BTreeMap<Spanned<String>, Spanned<T>>,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Option<String>,
    set: BTreeMap<Spanned<String>, Spanned<T>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventtypeDef {
    name: String,
    /// The add-on's definition as written, for reference; `when` is what runs.
    #[allow(dead_code)]
    search: String,
    when: BTreeMap<Spanned<String>, Spanned<T>>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Which events a block or an eventtype applies to.
#[derive(Debug, Clone)]
struct When {
    /// Sources (case-insensitive); at least one.
    sources: Vec<String>,
    /// Lowercased sourcetypes; empty means any.
    sourcetypes: Vec<String>,
    /// The event has a value of the field equal (case-insensitive) to one of these.
    conds: Vec<(String, Vec<String>)>,
}

impl When {
    /// `raw`: the event's own fields; `code`: its EventCode, looked up once by the caller.
    fn matches(&self, sourcetype: &str, raw: &[(String, String)], code: Option<&str>) -> bool {
        (self.sourcetypes.is_empty() || self.sourcetypes.iter().any(|s| s.eq_ignore_ascii_case(sourcetype)))
            && self.conds.iter().all(|(f, vals)| {
                let ok = |v: &str| vals.iter().any(|w| w.eq_ignore_ascii_case(v));
                match f.as_str() {
                    "EventCode" => code.is_some_and(ok),
                    _ => raw.iter().any(|(k, v)| k == f && ok(v)),
                }
            })
    }
}

/// Buffers [`Knowledge::with_enriched`] reuses from event to event.
#[derive(Debug, Default)]
pub struct DeriveBuffers {
    /// The strings of fields derived for earlier events, for the next ones.
    pub(crate) spare: Vec<(String, String)>,
    pub(crate) values: Items,
    /// The event's EventCode, copied: the event grows while its conditions are tested.
    code: String,
}

/// An event's fields, or strings of fields kept for reuse.
type Pairs = Vec<(String, String)>;

/// At most this many derived fields' strings are kept for reuse, each of at most
/// [`SPARE_MAX_CAP`] bytes: a few hundred KiB per thread at most.
const SPARE_FIELDS: usize = 256;
pub(crate) const SPARE_MAX_CAP: usize = 4096;

#[derive(Debug)]
struct Block {
    #[allow(dead_code)]
    name: String,
    when: When,
    /// Field name and expression, in file order. Expressions read the raw event's fields.
    set: Vec<(String, Expr)>,
}

#[derive(Debug)]
struct Eventtype {
    name: String,
    when: When,
    tags: Vec<String>,
}

/// Field and eventtype knowledge per source. Build once, share freely.
#[derive(Debug, Default)]
pub struct Knowledge {
    blocks: Vec<Block>,
    eventtypes: Vec<Eventtype>,
    emit_eventtype: bool,
    emit_tag: bool,
    /// Source -> (block indexes, eventtype indexes), file order.
    by_source: Vec<(String, Vec<usize>, Vec<usize>)>,
    /// Every field name the blocks set -> a small id, for [`Seen`].
    name_ids: NameMap<String, usize>,
    /// Per block, the id of each field it sets.
    set_ids: Vec<Vec<usize>>,
    /// Per kind of event (source, sourcetype, EventCode, ...), the fields some search that can read such events names
    /// ([`Knowledge::restrict_by_reader`]); `None`: every field.
    classes: Option<Classes>,
}

impl Knowledge {
    /// The built-in knowledge files.
    pub fn builtin() -> Result<Knowledge, Error> {
        Knowledge::from_sources(BUILTIN_KNOWLEDGE.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect())
    }

    /// Builds from (file name, content) pairs.
    pub fn from_sources(files: Vec<(String, String)>) -> Result<Knowledge, Error> {
        let mut k = Knowledge { emit_eventtype: true, emit_tag: true, ..Knowledge::default() };
        for (file, text) in &files {
            let def: FileDef = toml::from_str(text).map_err(|e| err(file, text, e.span().map_or(0, |s| s.start), e.message()))?;
            for b in def.fields {
                let at = b.span().start;
                let b = b.into_inner();
                let when = compile_when(file, text, at, &b.when)?;
                let mut set = Vec::new();
                for (name, v) in &b.set {
                    let expr = compile_expr(v.get_ref(), &[])
                        .map_err(|m| err(file, text, v.span().start, format!("field {}: {m}", name.get_ref())))?;
                    set.push((name.get_ref().clone(), expr));
                }
                // TOML tables have no order; set fields in line order, as written (the output's
                // field order).
                let lines: Vec<usize> = b.set.keys().map(|k| k.span().start).collect();
                let mut order: Vec<usize> = (0..set.len()).collect();
                order.sort_by_key(|&i| lines[i]);
                let mut slots: Vec<Option<(String, Expr)>> = set.into_iter().map(Some).collect();
                let set = order.into_iter().filter_map(|i| slots[i].take()).collect();
                k.blocks.push(Block { name: b.name, when, set });
            }
            for e in def.eventtype {
                let at = e.span().start;
                let e = e.into_inner();
                if k.eventtypes.iter().any(|x| x.name == e.name) {
                    return Err(err(file, text, at, format!("eventtype {:?} defined twice", e.name)));
                }
                let when = compile_when(file, text, at, &e.when)?;
                k.eventtypes.push(Eventtype { name: e.name, when, tags: e.tags });
            }
        }
        k.index();
        if k.name_ids.len() > MAX_NAMES {
            let (file, _) = files.last().map(|(f, t)| (f.as_str(), t)).unwrap_or(("", &String::new()));
            return Err(Error::Mapping { file: file.to_string(), line: 1, message: format!("more than {MAX_NAMES} field names") });
        }
        Ok(k)
    }

    fn index(&mut self) {
        self.name_ids.clear();
        self.set_ids = self
            .blocks
            .iter()
            .map(|b| {
                b.set
                    .iter()
                    .map(|(n, _)| {
                        let next = self.name_ids.len();
                        *self.name_ids.entry(n.clone()).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        self.by_source.clear();
        let mut add = |src: &str, block: Option<usize>, et: Option<usize>| {
            let i = match self.by_source.iter().position(|(s, _, _)| s.eq_ignore_ascii_case(src)) {
                Some(i) => i,
                None => {
                    self.by_source.push((src.to_string(), Vec::new(), Vec::new()));
                    self.by_source.len() - 1
                }
            };
            self.by_source[i].1.extend(block);
            self.by_source[i].2.extend(et);
        };
        for (i, b) in self.blocks.iter().enumerate() {
            b.when.sources.iter().for_each(|s| add(s, Some(i), None));
        }
        if self.emit_eventtype || self.emit_tag {
            for (i, e) in self.eventtypes.iter().enumerate() {
                e.when.sources.iter().for_each(|s| add(s, None, Some(i)));
            }
        }
    }

    /// Every field name this knowledge can give an event (`eventtype` and `tag` included when
    /// eventtypes are defined).
    pub fn field_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.blocks.iter().flat_map(|b| b.set.iter().map(|(n, _)| n.as_str())).collect();
        if !self.eventtypes.is_empty() {
            names.extend(["eventtype", "tag"]);
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Keeps only the fields `wanted` accepts (the names loaded searches use), so that events
    /// pay for nothing else. Eventtypes are kept when `eventtype` or `tag` is wanted.
    pub fn restrict(&mut self, wanted: &dyn Fn(&str) -> bool) {
        for b in &mut self.blocks {
            b.set.retain(|(n, _)| wanted(n));
        }
        self.emit_eventtype = wanted("eventtype");
        self.emit_tag = wanted("tag");
        self.index();
        self.by_source.retain(|(_, b, e)| b.iter().any(|&i| !self.blocks[i].set.is_empty()) || !e.is_empty());
        self.classes = None;
    }

    /// Narrows what each kind of event gets (after [`Knowledge::restrict`]) to the fields
    /// the `readers` that can read it name: an event gets a field only when some reader whose
    /// conditions its source, sourcetype and raw fields may meet reads that name.
    pub fn restrict_by_reader(&mut self, readers: &[EventReader]) {
        let sources: Vec<&str> = self.by_source.iter().map(|(s, _, _)| s.as_str()).collect();
        self.classes = Some(Classes::build(&sources, &self.name_ids, readers));
    }

    /// Whether any event can get a field (false after a restriction that left nothing).
    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }

    /// Writes `ev` with its search-time fields into `out` and returns true, or returns false
    /// (leaving `out` alone) when no knowledge applies to `ev`, so the caller can use `ev`
    /// as is. A field the event already has is never replaced. `out`'s buffers are reused.
    pub fn enrich(&self, ev: &Event, out: &mut Event) -> bool {
        let Some(plan) = self.plan(ev) else {
            return false;
        };
        out.clone_from(ev);
        self.append_derived(out, plan, &mut DeriveBuffers::default());
        true
    }

    /// Calls `f` with `ev` given its search-time fields (as [`Knowledge::enrich`] writes
    /// them, appended after its own), then gives `ev` back as it was: no copy of the event,
    /// and the derived fields' strings are kept in `bufs` for the next event.
    pub fn with_enriched<R>(&self, ev: &mut Event, bufs: &mut DeriveBuffers, f: impl FnOnce(&Event) -> R) -> R {
        let Some(plan) = self.plan(ev) else {
            return f(ev);
        };
        let (own, derived_from) = (ev.fields.len(), ev.derived_from);
        self.append_derived(ev, plan, bufs);
        let result = f(ev);
        take_back(ev, own, derived_from, &mut bufs.spare);
        result
    }

    /// What `ev` gets, or `None` when no knowledge applies to it.
    fn plan(&self, ev: &Event) -> Option<Plan> {
        let source = self.by_source.iter().position(|(s, _, _)| s.eq_ignore_ascii_case(&ev.source))?;
        let (_, blocks, ets) = &self.by_source[source];
        let wanted = self.wanted(&ev.sourcetype, ev.fields.as_slice(), source);
        if wanted.is_some_and(|w| w.is_empty()) {
            return None;
        }
        // Most conditions are on EventCode: look it up once.
        let code = ev.get("EventCode");
        let applies = |w: &When| w.matches(&ev.sourcetype, &ev.fields, code);
        if !blocks.iter().any(|&b| applies(&self.blocks[b].when)) && !ets.iter().any(|&e| applies(&self.eventtypes[e].when)) {
            return None;
        }
        Some(Plan { source, wanted })
    }

    /// Appends the derived fields to `ev` (whose fields are all its own), marking where they
    /// start. Their values are read from the event's own fields only.
    fn append_derived(&self, ev: &mut Event, plan: Plan, bufs: &mut DeriveBuffers) {
        let (_, blocks, ets) = &self.by_source[plan.source];
        let own = ev.fields.len();
        ev.derived_from = Some(own);
        let DeriveBuffers { spare, values, code } = bufs;
        let has_code = ev.get("EventCode").inspect(|c| {
            code.clear();
            code.push_str(c);
        });
        let code = has_code.is_some().then_some(code.as_str());
        // The names the raw event has already, then those set below: never set twice.
        let mut seen = Seen::default();
        for (k, _) in &ev.fields {
            if let Some(&id) = self.name_ids.get(k.as_str()) {
                seen.add(id);
            }
        }
        let wanted = plan.wanted;
        let applies = |ev: &Event, w: &When| w.matches(&ev.sourcetype, &ev.fields[..own], code);
        for &b in blocks {
            let block = &self.blocks[b];
            if !applies(ev, &block.when) {
                continue;
            }
            for j in 0..block.set.len() {
                if let Some(expr) = self.to_derive(b, j, &seen, wanted) {
                    values.clear();
                    expr.eval(&ev.fields[..own], values);
                    self.push_derived(b, j, &mut seen, &mut ev.fields, spare, values);
                }
            }
        }
        let ets = ets.iter().copied().filter(|&e| applies(ev, &self.eventtypes[e].when)).collect::<Vec<_>>();
        self.push_eventtypes(&ets, wanted, &mut ev.fields, spare);
    }

    /// The expression of field `j` of block `b`, unless that name is `seen` or not `wanted`.
    pub(crate) fn to_derive(&self, b: usize, j: usize, seen: &Seen, wanted: Option<Wanted>) -> Option<&Expr> {
        (!skips(self.set_ids[b][j], seen, wanted)).then(|| self.expr(b, j))
    }

    /// The expression of field `j` of block `b`.
    pub(crate) fn expr(&self, b: usize, j: usize) -> &Expr {
        &self.blocks[b].set[j].1
    }

    /// Appends field `j` of block `b` to `fields` with the value in `pair` (a spare one) when
    /// there is one (`kept`), marking it `seen`; else keeps `pair` for later.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_one(
        &self,
        b: usize,
        j: usize,
        (mut name, value): (String, String),
        kept: bool,
        seen: &mut Seen,
        fields: &mut Vec<(String, String)>,
        spare: &mut Vec<(String, String)>,
    ) {
        if !kept {
            spare.push((name, value));
            return;
        }
        seen.add(self.set_ids[b][j]);
        name.clear();
        name.push_str(&self.blocks[b].set[j].0);
        fields.push((name, value));
    }

    /// Appends the `values` of field `j` of block `b` to `fields`, marking it `seen` if any.
    pub(crate) fn push_derived(
        &self,
        b: usize,
        j: usize,
        seen: &mut Seen,
        fields: &mut Vec<(String, String)>,
        spare: &mut Vec<(String, String)>,
        values: &mut Items,
    ) {
        let count = values.len();
        self.push_each(b, j, (seen, fields, spare), count, |i, value| values.swap_out(i, value));
    }

    /// Appends `count` fields named as field `j` of block `b` (in spare strings), the value of
    /// the `i`th written by `write(i, value)`, marking the name `seen` if any.
    pub(crate) fn push_each(
        &self,
        b: usize,
        j: usize,
        (seen, fields, spare): (&mut Seen, &mut Pairs, &mut Pairs),
        count: usize,
        mut write: impl FnMut(usize, &mut String),
    ) {
        if count > 0 {
            seen.add(self.set_ids[b][j]);
        }
        let name = &self.blocks[b].set[j].0;
        for i in 0..count {
            write(i, &mut push_field(fields, spare, name).1);
        }
    }

    /// Gives `fields` the names and tags of the eventtypes `ets` (that apply to the event).
    pub(crate) fn push_eventtypes(
        &self,
        ets: &[usize],
        wanted: Option<Wanted>,
        fields: &mut Vec<(String, String)>,
        spare: &mut Vec<(String, String)>,
    ) {
        let mut tags: Vec<&str> = Vec::new();
        for &e in ets {
            let et = &self.eventtypes[e];
            if self.emit_eventtype && wanted.is_none_or(|w| w.eventtype) {
                push_field(fields, spare, "eventtype").1.push_str(&et.name);
            }
            if self.emit_tag && wanted.is_none_or(|w| w.tag) {
                for t in &et.tags {
                    if !tags.contains(&t.as_str()) {
                        tags.push(t);
                        push_field(fields, spare, "tag").1.push_str(t);
                    }
                }
            }
        }
    }
}

/// What an event gets: its source's number and, when the searches tell, the fields wanted.
struct Plan {
    source: usize,
    wanted: Option<Wanted>,
}

/// Whether a field of name id `id` is not to be derived: the event has it already (`seen`)
/// or no search that can read the event names it.
#[inline]
pub(crate) fn skips(id: usize, seen: &Seen, wanted: Option<Wanted>) -> bool {
    seen.has(id) || wanted.is_some_and(|w| !w.names.has(id))
}

/// Removes the fields from `own` on (the derived ones), keeping their strings in `spare`, and
/// gives `ev` back its `derived_from`.
pub(crate) fn take_back(ev: &mut Event, own: usize, derived_from: Option<usize>, spare: &mut Vec<(String, String)>) {
    for pair in ev.fields.drain(own..) {
        if spare.len() < SPARE_FIELDS && pair.0.capacity() <= SPARE_MAX_CAP && pair.1.capacity() <= SPARE_MAX_CAP {
            spare.push(pair);
        }
    }
    ev.derived_from = derived_from;
}

/// Appends a field named `name` with an empty value, in spare strings when there are some.
fn push_field<'a>(fields: &'a mut Vec<(String, String)>, spare: &mut Vec<(String, String)>, name: &str) -> &'a mut (String, String) {
    let (mut k, mut v) = spare.pop().unwrap_or_default();
    k.clear();
    k.push_str(name);
    v.clear();
    fields.push((k, v));
    let last = fields.len() - 1;
    &mut fields[last]
}

fn compile_when(file: &str, text: &str, at: usize, when: &BTreeMap<Spanned<String>, Spanned<T>>) -> Result<When, Error> {
    let mut w = When { sources: Vec::new(), sourcetypes: Vec::new(), conds: Vec::new() };
    for (k, v) in when {
        let vals = strings(v.get_ref())
            .ok_or_else(|| err(file, text, v.span().start, format!("when.{}: expected a string or a list of strings", k.get_ref())))?;
        match k.get_ref().as_str() {
            "source" => w.sources = vals,
            "sourcetype" => w.sourcetypes = vals.iter().map(|s| s.to_lowercase()).collect(),
            f => w.conds.push((f.to_string(), vals)),
        }
    }
    if w.sources.is_empty() {
        return Err(Error::Mapping { file: file.to_string(), line: line_of(text, at), message: "when.source is required".into() });
    }
    Ok(w)
}

#[path = "knowledge_shape.rs"]
mod shape;
pub(crate) use shape::{KnowledgeShape, LastKind};

#[cfg(test)]
#[path = "knowledge_tests.rs"]
mod tests;
