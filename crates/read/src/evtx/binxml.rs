//! A BinXML reader for the common shape of an EVTX record: one template instance (MS-EVEN6
//! 2.2.12), whose definition sits in the record's 64 KiB chunk (defined inline on first use,
//! names in the chunk's string table), with scalar substitution values, nested template
//! instances in BinXML values, and `<Data>` string arrays.
//!
//! It writes the record's XML exactly as the `evtx` crate (0.15.1, `indent(false)`) renders it,
//! without the declaration, and extracts the fields on the way ([`crate::evtx::extract`]), so
//! the record is not rendered by the crate and parsed again. The rendering rules are those of
//! the crate's compiled-template lane (`binxml/compiled.rs`: `compile_start`, `compile_attr`,
//! `exec`), ported here (MIT/Apache-2.0); with indentation off they come down to:
//! - an element is `<name attrs>children</name>`, or `<name attrs/>` when the BinXML closed it
//!   empty; an element whose DependencyId names a NULL value is left out, and one whose element
//!   children all depend on NULL values is written `<name attrs></name>`;
//! - an attribute whose value is only empty literals is left out; one holding a single value
//!   and no other non-empty literal is left out when that value is empty;
//! - a value in element position writes its text, or its nested template instance.
//!
//! Whatever it is not sure renders identically gives up (`None`): literal non-string values,
//! CDATA, entity and character references, processing instructions, generic BinXML fragments,
//! floats, non-ASCII ANSI strings, arrays outside `<Data>`, a value used twice in a template,
//! values sized unlike their type, names outside `[A-Za-z0-9_.-]` (and `:` in attribute
//! names), repeated attribute names, deep nesting, large output. Records go through compiled
//! programs ([`crate::evtx::program`]) first, then the general renderer below; the caller then
//! renders what is left with the crate and parses the XML (the reference path), so correctness
//! never depends on this reader: `tests/evtx_direct.rs` checks both agree on every real record
//! and on mutated copies of the real files.

use std::rc::Rc;

use vigil_model::Event;

use crate::evtx::extract::Extract;
use crate::evtx::values::{self as values, ty};
use crate::fields::Spare;

/// Nested template instances followed (the crate's compiled lane follows 8).
const MAX_NESTING: usize = 8;
/// Element depth within one template.
const MAX_DEPTH: usize = 64;
/// Output of one record, and of one chunk's records, past which the rest is left to the crate
/// (it limits a record to 16 MiB and a chunk's records to 64 MiB; real records are a few KiB).
const MAX_RECORD_OUT: usize = 1 << 20;
const MAX_CHUNK_OUT: usize = 2 << 20;
const MAX_SUBSTITUTIONS: usize = 4096;
/// Bytes of template keys kept per thread (real logs hold a few dozen templates of ~1 KiB).
const MAX_KNOWN_BYTES: usize = 4 << 20;

/// Templates already parsed on this thread, by [`canonical`] form (with their programs): the
/// same template in another chunk or file is not parsed or compiled again.
#[derive(Default)]
struct Known {
    map: std::collections::HashMap<Box<[u8]>, Option<Rc<Template>>>,
    bytes: usize,
}

thread_local! {
    static KNOWN: std::cell::RefCell<Known> = std::cell::RefCell::new(Known::default());
}

/// A parsed template definition.
pub(crate) struct Template {
    pub(crate) elems: Vec<Elem>,
    pub(crate) root: usize,
    /// Its compiled programs, by place ([`crate::evtx::program`]).
    pub(crate) programs: crate::evtx::program::TemplatePrograms,
}

pub(crate) struct Elem {
    pub(crate) name: Box<str>,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) children: Vec<Node>,
    /// The value whose NULL leaves this element out.
    pub(crate) dependency: Option<u16>,
    pub(crate) self_closing: bool,
    /// Every child is an element with a dependency: written empty when all are left out.
    pub(crate) all_depend: bool,
    /// An attribute-less `<Data>` holding one value: a string array repeats it per item.
    pub(crate) expand: bool,
}

pub(crate) struct Attr {
    pub(crate) name: Box<str>,
    pub(crate) value: AttrValue,
}

pub(crate) enum AttrValue {
    /// Literals only (escaped), at least one non-empty.
    Static(Box<str>),
    /// Literals and values; always written.
    Mixed(Vec<Part>),
    /// One value and empty literals: written when the value is not empty.
    Cond(u16),
}

pub(crate) enum Part {
    Lit(Box<str>),
    Slot(u16),
}

pub(crate) enum Node {
    Elem(usize),
    /// A literal, escaped for element text.
    Text(Box<str>),
    Slot(u16),
}

/// A substitution value: its window in the chunk and its type.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) off: usize,
    pub(crate) len: usize,
    pub(crate) ty: u8,
}

/// Reads records of one file, chunk after chunk. Reused between records.
#[derive(Default)]
pub(crate) struct BinXml {
    /// The current chunk's templates by definition offset (`None`: not handled here).
    templates: Vec<(u32, Option<Rc<Template>>)>,
    canon: Vec<u8>,
    chunk_out: usize,
    pub(crate) slots: Vec<Slot>,
    ext: Extract,
    /// Scratch for [`values::write_utf16`].
    pub(crate) scratch: Vec<u8>,
    /// Registers of the compiled programs.
    pub(crate) regs: crate::evtx::program::Registers,
    /// Skip the compiled programs (for the differential test of the general renderer).
    pub(crate) general_only: bool,
}

/// The text written to `out` since `from`, for the extractor.
fn text_since(out: &[u8], from: usize) -> &str {
    out.get(from..).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

pub(crate) fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// Where the template instance starts in a single-instance stream (the crate's
/// `single_instance_offset`): after a fragment header or at the start.
pub(crate) fn single_instance(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [0x0f, _, _, _, 0x0c, _, ..] => Some(5),
        [0x0c, ..] => Some(1),
        _ => None,
    }
}

/// Whether nothing but an end-of-stream token follows `consumed` bytes of `stream`.
pub(crate) fn ends_stream(stream: &[u8], consumed: usize) -> bool {
    matches!(stream.get(consumed..), Some([] | [0, ..]))
}

impl BinXml {
    /// Forgets the previous chunk's templates.
    pub(crate) fn new_chunk(&mut self) {
        self.templates.clear();
        self.chunk_out = 0;
    }

    /// Reads the record whose BinXML is `chunk[offset..offset + size]` into `ev` (fields, time,
    /// source, sourcetype, host and raw; `ev` must be reset, but may hold the previous event's
    /// fields, which are written over). `false`: not handled here; `ev` then holds no raw text,
    /// and possibly some fields, which the caller recycles.
    pub(crate) fn read_record(&mut self, chunk: &[u8], offset: usize, size: usize, ev: &mut Event, spare: &mut Spare) -> bool {
        if self.chunk_out > MAX_CHUNK_OUT {
            return false;
        }
        let mut out = std::mem::take(&mut ev.raw).into_bytes();
        out.clear();
        if !self.general_only && crate::evtx::program::run_record(self, chunk, offset, size, &mut out).is_some() {
            match String::from_utf8(out) {
                Ok(doc) => {
                    if crate::evtx::program::resolve(self, &doc, ev, spare).is_some() {
                        self.chunk_out += doc.len();
                        ev.raw = doc;
                        return true;
                    }
                    out = doc.into_bytes();
                }
                Err(e) => out = e.into_bytes(),
            }
        }
        // The general renderer, from scratch.
        out.clear();
        crate::fields::recycle(&mut ev.fields, spare);
        ev.time = None;
        let done = self.render_record(chunk, offset, size, &mut out, ev, spare).is_some();
        self.chunk_out += out.len();
        match String::from_utf8(out) {
            Ok(s) if done => {
                ev.raw = s;
                true
            }
            Ok(mut s) => {
                s.clear();
                ev.raw = s;
                false
            }
            Err(e) => {
                let mut bytes = e.into_bytes();
                bytes.clear();
                ev.raw = String::from_utf8(bytes).unwrap_or_default();
                false
            }
        }
    }

    fn render_record(
        &mut self,
        data: &[u8],
        offset: usize,
        size: usize,
        out: &mut Vec<u8>,
        ev: &mut Event,
        spare: &mut Spare,
    ) -> Option<()> {
        let bytes = data.get(offset..offset.checked_add(size)?)?;
        let at = single_instance(bytes)?;
        self.slots.clear();
        self.ext.reset();
        let (tpl, slots, end) = self.instance(data, offset + at)?;
        if !ends_stream(bytes, end - offset) {
            return None;
        }
        let mut ext = std::mem::take(&mut self.ext);
        let mut r = Render { data, out, ev, spare, ext: &mut ext, bx: self };
        let done = r.elem(&tpl, tpl.root, slots, 0).filter(|()| r.out.len() <= MAX_RECORD_OUT).and_then(|()| r.ext.finish(r.ev));
        self.ext = ext;
        done
    }

    /// Reads the template instance whose header starts at `pos` (after its 0x0c token): its
    /// template, its values (a range of `self.slots`) and where it ends.
    fn instance(&mut self, data: &[u8], pos: usize) -> Option<(Rc<Template>, (usize, usize), usize)> {
        let (def, slots, end) = self.instance_values(data, pos)?;
        Some((self.template(data, def)?, slots, end))
    }

    /// Reads the header and values of the template instance at `pos` (after its 0x0c token):
    /// its definition offset, its values (a range of `self.slots`) and where it ends.
    pub(crate) fn instance_values(&mut self, data: &[u8], pos: usize) -> Option<(u32, (usize, usize), usize)> {
        let def = u32_at(data, pos + 5)?;
        let mut p = pos + 9;
        if p == def as usize {
            p = p.checked_add(24 + u32_at(data, p + 20)? as usize)?;
        }
        let n = u32_at(data, p)? as usize;
        if n > MAX_SUBSTITUTIONS {
            return None;
        }
        let descriptors = data.get(p + 4..p + 4 + 4 * n)?;
        p += 4 + 4 * n;
        let start = self.slots.len();
        for d in descriptors.chunks_exact(4) {
            let len = usize::from(u16::from_le_bytes([d[0], d[1]]));
            if !values::valid_size(d[2], data.get(p..p + len)?) {
                return None;
            }
            self.slots.push(Slot { off: p, len, ty: d[2] });
            p += len;
        }
        Some((def, (start, self.slots.len()), p))
    }

    /// The template defined at `def` in the current chunk: parsed once per thread (the same
    /// template in another chunk or file is found by its [`canonical`] form).
    pub(crate) fn template(&mut self, data: &[u8], def: u32) -> Option<Rc<Template>> {
        if let Some((_, t)) = self.templates.iter().find(|(d, _)| *d == def) {
            return t.clone();
        }
        let mut key = std::mem::take(&mut self.canon);
        let t = match canonical(data, def as usize, &mut key) {
            None => None,
            Some(()) => KNOWN.with_borrow_mut(|known| match known.map.get(key.as_slice()) {
                Some(t) => t.clone(),
                None => {
                    let t = parse_template(data, def as usize).map(Rc::new);
                    if known.bytes + key.len() > MAX_KNOWN_BYTES {
                        known.map.clear();
                        known.bytes = 0;
                    }
                    known.bytes += key.len();
                    known.map.insert(key.as_slice().into(), t.clone());
                    t
                }
            }),
        };
        self.canon = key;
        self.templates.push((def, t.clone()));
        t
    }
}

/// One record's rendering: the chunk, the output and the event.
struct Render<'r> {
    data: &'r [u8],
    out: &'r mut Vec<u8>,
    ev: &'r mut Event,
    spare: &'r mut Spare,
    ext: &'r mut Extract,
    bx: &'r mut BinXml,
}

impl Render<'_> {
    fn slot(&self, slots: (usize, usize), id: u16) -> Option<Slot> {
        let i = slots.0 + usize::from(id);
        if i < slots.1 {
            self.bx.slots.get(i).copied()
        } else {
            None
        }
    }

    fn bytes(&self, s: Slot) -> &[u8] {
        self.data.get(s.off..s.off + s.len).unwrap_or_default()
    }

    fn null(&self, slots: (usize, usize), id: u16) -> bool {
        self.slot(slots, id).is_some_and(|s| values::is_null(s.ty, self.bytes(s)))
    }

    fn start_tag(&mut self, e: &Elem) -> Option<()> {
        self.ext.start(&e.name)?;
        self.out.push(b'<');
        self.out.extend_from_slice(e.name.as_bytes());
        Some(())
    }

    fn end_tag(&mut self, e: &Elem) {
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(e.name.as_bytes());
        self.out.push(b'>');
        self.ext.end(self.ev, self.spare);
    }

    fn elem(&mut self, tpl: &Template, id: usize, slots: (usize, usize), nesting: usize) -> Option<()> {
        let e = tpl.elems.get(id)?;
        if e.all_depend
            && e.children
                .iter()
                .all(|c| matches!(c, Node::Elem(i) if tpl.elems.get(*i).and_then(|c| c.dependency).is_some_and(|d| self.null(slots, d))))
        {
            // Every child left out: `<name attrs></name>` (the attributes are all literal).
            self.start_tag(e)?;
            self.attrs(e, slots)?;
            self.out.push(b'>');
            self.end_tag(e);
            return Some(());
        }
        if e.expand {
            if let [Node::Slot(s)] = e.children[..] {
                if let Some(slot) = self.slot(slots, s).filter(|s| s.ty == 0x81) {
                    return self.expand(e, slot);
                }
            }
        }
        self.start_tag(e)?;
        self.attrs(e, slots)?;
        if e.children.is_empty() && e.self_closing {
            self.out.extend_from_slice(b"/>");
            self.ext.end(self.ev, self.spare);
            return Some(());
        }
        self.out.push(b'>');
        for child in &e.children {
            match child {
                Node::Elem(c) => {
                    let dep = tpl.elems.get(*c)?.dependency;
                    if !dep.is_some_and(|d| self.null(slots, d)) {
                        self.elem(tpl, *c, slots, nesting)?;
                    }
                }
                Node::Text(t) => {
                    self.out.extend_from_slice(t.as_bytes());
                    if self.ext.capturing() {
                        self.ext.text(t);
                    }
                }
                Node::Slot(s) => self.content(slots, *s, nesting)?,
            }
        }
        self.end_tag(e);
        Some(())
    }

    /// A string array in `<Data>`: the element once per item.
    fn expand(&mut self, e: &Elem, slot: Slot) -> Option<()> {
        let bytes = self.data.get(slot.off..slot.off + slot.len)?;
        if !bytes.len().is_multiple_of(2) {
            return None;
        }
        let mut items = 0;
        let mut item = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == 0 && bytes[i + 1] == 0 {
                self.start_tag(e)?;
                self.ext.start_done(&e.name);
                self.out.push(b'>');
                let from = self.out.len();
                values::write_utf16(self.out, &mut self.bx.scratch, &bytes[item..i], false);
                if self.ext.capturing() {
                    self.ext.text(text_since(self.out, from));
                }
                self.end_tag(e);
                items += 1;
                item = i + 2;
            }
            i += 2;
        }
        (item == bytes.len() && items > 0).then_some(())
    }

    fn attrs(&mut self, e: &Elem, slots: (usize, usize)) -> Option<()> {
        for a in &e.attrs {
            let from = match &a.value {
                AttrValue::Static(v) => {
                    self.attr_open(&a.name);
                    let from = self.out.len();
                    self.out.extend_from_slice(v.as_bytes());
                    from
                }
                AttrValue::Mixed(parts) => {
                    self.attr_open(&a.name);
                    let from = self.out.len();
                    for p in parts {
                        match p {
                            Part::Lit(l) => self.out.extend_from_slice(l.as_bytes()),
                            Part::Slot(s) => {
                                if let Some(slot) = self.slot(slots, *s) {
                                    let bytes = self.data.get(slot.off..slot.off + slot.len)?;
                                    values::write_value(self.out, &mut self.bx.scratch, slot.ty, bytes, true)?;
                                }
                            }
                        }
                    }
                    from
                }
                AttrValue::Cond(s) => {
                    let Some(slot) = self.slot(slots, *s) else { continue };
                    let bytes = self.data.get(slot.off..slot.off + slot.len)?;
                    if values::is_empty(slot.ty, bytes) {
                        continue;
                    }
                    self.attr_open(&a.name);
                    let from = self.out.len();
                    values::write_value(self.out, &mut self.bx.scratch, slot.ty, bytes, true)?;
                    from
                }
            };
            if self.ext.wants_attrs() {
                if a.name.contains(':') {
                    return None;
                }
                self.ext.attr(self.ev, self.spare, &e.name, &a.name, text_since(self.out, from));
            }
            self.out.push(b'"');
        }
        self.ext.start_done(&e.name);
        Some(())
    }

    fn attr_open(&mut self, name: &str) {
        self.out.push(b' ');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"=\"");
    }

    /// A value in element position: its text, or its nested template instance.
    fn content(&mut self, slots: (usize, usize), id: u16, nesting: usize) -> Option<()> {
        let Some(slot) = self.slot(slots, id) else { return Some(()) };
        let data = self.data;
        let bytes = data.get(slot.off..slot.off + slot.len)?;
        if slot.ty == ty::BIN_XML && !bytes.is_empty() {
            if nesting >= MAX_NESTING || self.out.len() > MAX_RECORD_OUT {
                return None;
            }
            let at = single_instance(bytes)?;
            let (tpl, inner, end) = self.bx.instance(data, slot.off + at)?;
            if !ends_stream(bytes, end - slot.off) {
                return None;
            }
            return self.elem(&tpl, tpl.root, inner, nesting + 1);
        }
        let from = self.out.len();
        values::write_value(self.out, &mut self.bx.scratch, slot.ty, bytes, false)?;
        if self.out.len() > from && self.ext.capturing() {
            self.ext.text(text_since(self.out, from));
        }
        Some(())
    }
}

/// A name in the chunk's string table at `offset` (link, hash, count, UTF-16 units), if it is
/// made of `[A-Za-z0-9_.-]` only, and `:` for an attribute (so that it is written, and read
/// back, as it is).
fn read_name(data: &[u8], offset: usize, attribute: bool) -> Option<Box<str>> {
    let count = usize::from(u16_at(data, offset + 6)?);
    let units = data.get(offset + 8..offset + 8 + 2 * count)?;
    let mut name = String::with_capacity(count);
    for u in units.chunks_exact(2) {
        let c = u16::from_le_bytes([u[0], u[1]]);
        if c == 0 {
            break; // the crate cuts names at a NUL
        }
        let b = u8::try_from(c).ok()?;
        // Attribute names may have a prefix (`xmlns:auto-ns3`): read by their local name where
        // the extractor reads attributes, so the readers give up there.
        if !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || (attribute && b == b':')) {
            return None;
        }
        name.push(char::from(b));
    }
    (!name.is_empty()).then(|| name.into_boxed_str())
}

/// What a template definition's token stream builds, before classification.
#[derive(Default)]
struct Builder {
    elems: Vec<Elem>,
    stack: Vec<usize>,
    root: Option<usize>,
    /// The start tag being read: the element, and its attributes as (name, nodes).
    open: Option<(Elem, Vec<RawAttr>)>,
}

/// An attribute as read: its name and value nodes.
type RawAttr = (Box<str>, Vec<Node>);

impl Builder {
    fn attach(&mut self, id: usize) -> Option<()> {
        match self.stack.last() {
            Some(&parent) => self.elems.get_mut(parent)?.children.push(Node::Elem(id)),
            None if self.root.is_none() => self.root = Some(id),
            None => return None,
        }
        Some(())
    }

    fn push(&mut self, node: Node) -> Option<()> {
        match &mut self.open {
            // A value before any attribute is dropped by the crate: too odd to follow.
            Some((_, attrs)) => attrs.last_mut()?.1.push(node),
            None => self.elems.get_mut(*self.stack.last()?)?.children.push(node),
        }
        Some(())
    }

    /// Closes the start tag: attributes classified, the element stored.
    fn close_start(&mut self, self_closing: bool) -> Option<usize> {
        let (mut e, attrs) = self.open.take()?;
        for (name, nodes) in attrs {
            if e.attrs.iter().any(|a| a.name == name) {
                return None; // quick-xml drops a repeated attribute
            }
            let nonempty = nodes.iter().any(|n| matches!(n, Node::Text(t) if !t.is_empty()));
            let holes: Vec<u16> = nodes.iter().filter_map(|n| if let Node::Slot(s) = n { Some(*s) } else { None }).collect();
            let value = match (holes.as_slice(), nonempty) {
                ([], false) => continue,
                ([], true) => {
                    AttrValue::Static(nodes.iter().map(|n| if let Node::Text(t) = n { t.as_ref() } else { "" }).collect::<String>().into())
                }
                (_, true) => AttrValue::Mixed(
                    nodes
                        .into_iter()
                        .filter_map(|n| match n {
                            Node::Text(t) => Some(Part::Lit(t)),
                            Node::Slot(s) => Some(Part::Slot(s)),
                            Node::Elem(_) => None,
                        })
                        .collect(),
                ),
                ([s], false) => AttrValue::Cond(*s),
                (_, false) => return None,
            };
            e.attrs.push(Attr { name, value });
        }
        e.self_closing = self_closing;
        self.elems.push(e);
        Some(self.elems.len() - 1)
    }
}

/// A token of a template definition, as [`walk`] hands it on.
enum Tok<'d> {
    /// An element start: its DependencyId and its name's offset in the string table.
    Open(u16, usize),
    CloseStart,
    CloseEmpty,
    End,
    /// Literal text: UTF-16LE units, cut at their NUL.
    Text(&'d [u8]),
    /// An attribute, by its name's offset.
    Attr(usize),
    /// A substitution: its index, whether it is optional, and its value type.
    Sub(u16, bool, u8),
}

/// Walks the token stream of the template definition at `def` (24-byte header, then its
/// tokens, MS-EVEN6 2.2.12), handing each token to `f`. `None` for tokens not followed here
/// (literal values other than strings, CDATA, references, processing instructions, nested
/// instances) or out-of-bounds data.
fn walk<'d>(data: &'d [u8], def: usize, mut f: impl FnMut(Tok<'d>) -> Option<()>) -> Option<()> {
    let size = u32_at(data, def + 20)? as usize;
    let end = def.checked_add(24)?.checked_add(size)?;
    if end > data.len() {
        return None;
    }
    // A name reference at `p` (its offset), with the name itself inline when it follows.
    let name_ref = |p: &mut usize| -> Option<usize> {
        let off = u32_at(data, *p)? as usize;
        *p += 4;
        if off == *p {
            *p += 10 + 2 * usize::from(u16_at(data, *p + 6)?);
        }
        Some(off)
    };
    let mut p = def + 24;
    while p < end {
        let token = *data.get(p)?;
        p += 1;
        match token {
            0x00 => break,
            0x0f => p += 3,
            0x01 | 0x41 => {
                let dep = u16_at(data, p)?;
                p += 6;
                let name = name_ref(&mut p)?;
                if token == 0x41 {
                    p += 4;
                }
                f(Tok::Open(dep, name))?;
            }
            0x02 => f(Tok::CloseStart)?,
            0x03 => f(Tok::CloseEmpty)?,
            0x04 => f(Tok::End)?,
            0x05 | 0x45 => {
                if *data.get(p)? != ty::UTF16 {
                    return None;
                }
                let count = usize::from(u16_at(data, p + 1)?);
                let units = data.get(p + 3..p + 3 + 2 * count)?;
                p += 3 + 2 * count;
                f(Tok::Text(values::until_nul(units)))?;
            }
            0x06 | 0x46 => f(Tok::Attr(name_ref(&mut p)?))?,
            0x0d | 0x0e => {
                let id = u16_at(data, p)?;
                let t = *data.get(p + 2)?;
                p += 3;
                f(Tok::Sub(id, token == 0x0e, t))?;
            }
            _ => return None,
        }
    }
    Some(())
}

/// The template definition at `def` in a form that does not depend on where the chunk keeps
/// it or its names: its tokens with names spelled out. Two definitions with the same form are
/// the same template, so this keys the templates of a file across its chunks.
fn canonical(data: &[u8], def: usize, out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let name = |out: &mut Vec<u8>, off: usize| -> Option<()> {
        let count = usize::from(u16_at(data, off + 6)?);
        out.extend_from_slice(data.get(off + 6..off + 8 + 2 * count)?);
        Some(())
    };
    walk(data, def, |tok| {
        match tok {
            Tok::Open(dep, off) => {
                out.push(1);
                out.extend_from_slice(&dep.to_le_bytes());
                name(out, off)?;
            }
            Tok::CloseStart => out.push(2),
            Tok::CloseEmpty => out.push(3),
            Tok::End => out.push(4),
            Tok::Text(units) => {
                out.push(5);
                out.extend_from_slice(&(units.len() as u32).to_le_bytes());
                out.extend_from_slice(units);
            }
            Tok::Attr(off) => {
                out.push(6);
                name(out, off)?;
            }
            Tok::Sub(id, optional, t) => {
                out.push(if optional { 0x0e } else { 0x0d });
                out.extend_from_slice(&id.to_le_bytes());
                out.push(t);
            }
        }
        Some(())
    })
}

/// Parses the template definition at `def` and checks it is one the renderer follows exactly.
/// `None` otherwise.
fn parse_template(data: &[u8], def: usize) -> Option<Template> {
    let mut b = Builder::default();
    walk(data, def, |tok| {
        match tok {
            Tok::Open(dep, name_off) => {
                if b.open.is_some() || b.stack.len() >= MAX_DEPTH {
                    return None;
                }
                let e = Elem {
                    name: read_name(data, name_off, false)?,
                    attrs: Vec::new(),
                    children: Vec::new(),
                    dependency: (dep != 0xffff).then_some(dep),
                    self_closing: false,
                    all_depend: false,
                    expand: false,
                };
                b.open = Some((e, Vec::new()));
            }
            Tok::CloseStart => {
                let id = b.close_start(false)?;
                b.stack.push(id);
            }
            Tok::CloseEmpty => {
                let id = b.close_start(true)?;
                b.attach(id)?;
            }
            Tok::End => {
                let id = b.stack.pop()?;
                b.attach(id)?;
            }
            Tok::Text(units) => {
                let mut text = Vec::new();
                values::write_utf16(&mut text, &mut Vec::new(), units, b.open.is_some());
                b.push(Node::Text(String::from_utf8(text).ok()?.into()))?;
            }
            Tok::Attr(name_off) => {
                let name = read_name(data, name_off, true)?;
                b.open.as_mut()?.1.push((name, Vec::new()));
            }
            Tok::Sub(id, _, _) => b.push(Node::Slot(id))?,
        }
        Some(())
    })?;
    if b.open.is_some() || !b.stack.is_empty() {
        return None;
    }
    let root = b.root?;
    let mut t = Template { elems: b.elems, root, programs: Default::default() };
    classify(&mut t)?;
    Some(t)
}

/// Computes each element's layout flags and refuses the shapes the crate's compiled lane does
/// not take (it renders those through its tree walker, whose output this reader does not
/// claim to match).
fn classify(t: &mut Template) -> Option<()> {
    let mut uses: Vec<u16> = Vec::new();
    for i in 0..t.elems.len() {
        let e = &t.elems[i];
        let holes = e.children.iter().filter(|n| matches!(n, Node::Slot(_))).count();
        let elements: Vec<usize> = e.children.iter().filter_map(|n| if let Node::Elem(c) = n { Some(*c) } else { None }).collect();
        let text = e.children.iter().any(|n| matches!(n, Node::Text(s) if !s.is_empty()));
        let expand = e.attrs.is_empty() && &*e.name == "Data" && e.children.len() == 1 && holes == 1;
        let single = e.children.len() == 1 && holes == 1;
        // Values mixed with other content need a literal element and no literal text.
        if holes > 0 && !single && (elements.is_empty() || text) {
            return None;
        }
        let dependent = elements.iter().filter(|&&c| t.elems.get(c).is_some_and(|c| c.dependency.is_some())).count();
        let all_depend = !expand && !elements.is_empty() && dependent == elements.len();
        if all_depend && (elements.len() < e.children.len() || e.attrs.iter().any(|a| !matches!(a.value, AttrValue::Static(_)))) {
            return None;
        }
        for a in &e.attrs {
            match &a.value {
                AttrValue::Static(_) => {}
                AttrValue::Mixed(parts) => uses.extend(parts.iter().filter_map(|p| if let Part::Slot(s) = p { Some(*s) } else { None })),
                AttrValue::Cond(s) => uses.push(*s),
            }
        }
        uses.extend(e.children.iter().filter_map(|n| if let Node::Slot(s) = n { Some(*s) } else { None }));
        let e = &mut t.elems[i];
        e.all_depend = all_depend;
        e.expand = expand;
    }
    // Each value used once (the crate's `each_slot_once`).
    let n = uses.len();
    uses.sort_unstable();
    uses.dedup();
    (uses.len() == n).then_some(())
}
