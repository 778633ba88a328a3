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
//! names), repeated attribute names, deep nesting, large output. Templates are parsed into
//! the model of [`crate::evtx::template`] (once per thread, [`crate::evtx::instance`]).
//! Records go through compiled programs ([`crate::evtx::compile`], run by
//! [`crate::evtx::program`]) first, then the general renderer below; the caller then
//! renders what is left with the crate and parses the XML (the reference path), so correctness
//! never depends on this reader: `tests/evtx_direct.rs` checks both agree on every real record
//! and on mutated copies of the real files.

use vigil_model::Event;

use crate::evtx::extract::Extract;
use crate::evtx::instance::{Instances, Slot};
use crate::evtx::program::{self, Registers};
use crate::evtx::template::{ends_stream, single_instance, AttrValue, Elem, Node, Part, Template};
use crate::evtx::values::{self as values, ty};
use crate::fields::Spare;

/// Nested template instances followed (the crate's compiled lane follows 8).
const MAX_NESTING: usize = 8;
/// Output of one record, and of one chunk's records, past which the rest is left to the crate
/// (it limits a record to 16 MiB and a chunk's records to 64 MiB; real records are a few KiB).
const MAX_RECORD_OUT: usize = 1 << 20;
const MAX_CHUNK_OUT: usize = 2 << 20;

/// Reads records of one file, chunk after chunk. Reused between records.
#[derive(Default)]
pub(crate) struct BinXml {
    /// The current chunk's template instances and values.
    instances: Instances,
    chunk_out: usize,
    ext: Extract,
    /// Scratch for [`values::write_utf16`].
    scratch: Vec<u8>,
    /// Registers of the compiled programs.
    regs: Registers,
    /// Skip the compiled programs (for the differential test of the general renderer).
    pub(crate) general_only: bool,
}

/// The text written to `out` since `from`, for the extractor.
fn text_since(out: &[u8], from: usize) -> &str {
    out.get(from..).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
}

impl BinXml {
    /// Forgets the previous chunk's templates.
    pub(crate) fn new_chunk(&mut self) {
        self.instances.new_chunk();
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
        if !self.general_only && program::run_record(&mut self.instances, &mut self.regs, chunk, offset, size, &mut out).is_some() {
            match String::from_utf8(out) {
                Ok(doc) => {
                    if program::resolve(&mut self.regs, &doc, ev, spare).is_some() {
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
        self.instances.slots.clear();
        self.ext.reset();
        let (known, slots, end) = self.instances.instance(data, offset + at)?;
        if !ends_stream(bytes, end - offset) {
            return None;
        }
        let mut ext = std::mem::take(&mut self.ext);
        let mut r = Render { data, out, ev, spare, ext: &mut ext, bx: self };
        let tpl = &known.template;
        let done = r.elem(tpl, tpl.root, slots, 0).filter(|()| r.out.len() <= MAX_RECORD_OUT).and_then(|()| r.ext.finish(r.ev));
        self.ext = ext;
        done
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
            self.bx.instances.slots.get(i).copied()
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
            let (known, inner, end) = self.bx.instances.instance(data, slot.off + at)?;
            if !ends_stream(bytes, end - slot.off) {
                return None;
            }
            return self.elem(&known.template, known.template.root, inner, nesting + 1);
        }
        let from = self.out.len();
        values::write_value(self.out, &mut self.bx.scratch, slot.ty, bytes, false)?;
        if self.out.len() > from && self.ext.capturing() {
            self.ext.text(text_since(self.out, from));
        }
        Some(())
    }
}
