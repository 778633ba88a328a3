//! Compiled templates: the fast lane of [`crate::evtx::binxml`].
//!
//! A template definition is compiled once per chunk and place into a flat program of literal
//! runs and value ops, like the evtx crate's own compiled lane (`binxml/compiled.rs`, whose
//! rules [`crate::evtx::binxml`] ports), and the field extraction is worked out at compile time
//! too: where a template puts the element holding a value (System child, `<Data Name='X'>`,
//! UserData leaf, ...) says which field the value's text becomes, so running a program writes
//! the XML and pushes the fields in one pass, with no per-element bookkeeping.
//!
//! The place matters for that (the extractor's depth and section), so programs are keyed by
//! template and place: a nested instance in `<UserData>` compiles apart from the record's root.
//! What the compiler cannot settle statically (a captured element with child elements, a value
//! in element position inside a capture that turns out to be BinXML, a left-out element with
//! fields of its own) makes it, or the run, give up: the record then goes through the general
//! renderer of [`crate::evtx::binxml`], and past that through the crate.

use std::rc::Rc;

use vigil_model::Event;

use crate::evtx::binxml::{ends_stream, single_instance, AttrValue, BinXml, Elem, Node, Part, Template};
use crate::evtx::extract::{capture, finish, normalise_line_ends, system_attr, unescape_into, Fields};
use crate::evtx::values::{self as values, ty};
use crate::fields::Spare;
use crate::winevent::{system_text_captured, SYSTEM_ATTRS};
use crate::xml::Section;

/// Nested instances followed, and output per record (as in [`crate::evtx::binxml`]).
const MAX_NESTING: usize = 8;
const MAX_OUT: usize = 1 << 20;

/// Where a program's root element stands for the extractor: its depth (4 standing for any
/// deeper one) and section.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    depth: u8,
    section: Section,
}

/// A template's programs by place (`None`: not compiled).
pub(crate) type TemplatePrograms = std::cell::RefCell<Vec<(Place, Option<Rc<Program>>)>>;

/// A literal range of `Program::lits`.
#[derive(Clone, Copy)]
struct Lit(u32, u32);

/// The field a value's text becomes.
#[derive(Clone, Copy)]
enum Field {
    None,
    /// A captured element, named `Program::names[i]`.
    Named(u32),
    /// A `<Data>` named by a value: the `Name` read at run time.
    DataName,
}

/// What an attribute's value does for the extractor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AttrField {
    None,
    /// A System attribute field ([`crate::winevent::system_attr_field`]), by index in
    /// [`SYSTEM_ATTRS`].
    System(u8),
    /// The `Name` of a `<Data>`.
    DataName,
}

#[derive(Clone, Copy)]
enum Op {
    Lit(Lit),
    /// Skip the next `len` ops when the value is NULL (an element that depends on it).
    Depends {
        slot: u16,
        len: u32,
    },
    /// When every value of `deps` is NULL, write `empty` and skip the next `len` ops.
    LeftOut {
        deps: Lit,
        len: u32,
        empty: Lit,
    },
    /// A value inside an attribute that is always written.
    AttrVal {
        slot: u16,
    },
    /// ` name="value"` when the value is there and not empty.
    CondAttr {
        before: Lit,
        slot: u16,
        pre: Lit,
        field: AttrField,
    },
    /// Marks where an attribute value starts, and ends it (for its field).
    AttrMark,
    AttrEnd {
        field: AttrField,
    },
    /// A new `<Data>`: no `Name` read yet.
    DataReset,
    /// A value in element position: its text (and field), or its nested instance.
    Content {
        before: Lit,
        slot: u16,
        field: Field,
        place: Place,
    },
    /// `<Data>value</Data>`, repeated per item for a string array.
    Expand {
        slot: u16,
        open: Lit,
        close: Lit,
        field: Field,
        place: Place,
    },
    /// A captured element's literal text: the last `len` bytes written.
    Const {
        field: Field,
        len: u32,
    },
}

pub(crate) struct Program {
    lits: Vec<u8>,
    ops: Vec<Op>,
    deps: Vec<u16>,
    /// Field names, by [`Field::Named`] index.
    names: Vec<Rc<str>>,
}

/// A field found while writing, resolved once the whole XML is written and checked.
enum Found {
    /// A System attribute (field) whose value was written at `at`.
    System(u8, (u32, u32)),
    /// A captured element's text at `at`, named `names[i]` of the program `Registers::programs[p]`,
    /// or by the `Name` written at `name`.
    Named(u16, u32, (u32, u32)),
    DataNamed((u32, u32), (u32, u32)),
    /// A `<Data>` without a `Name`.
    Data((u32, u32)),
}

/// Per-record state of the programs.
#[derive(Default)]
pub(crate) struct Registers {
    found: Vec<Found>,
    /// The programs [`Found::Named`] names come from.
    programs: Vec<Rc<Program>>,
    /// Where the current `<Data>`'s `Name` was written (empty: none).
    data_name: (u32, u32),
    mark: usize,
    channel: String,
    computer: String,
    text: String,
    name: String,
}

/// Compiles `tpl` for `place`, or `None` for what is not settled statically.
fn compile(tpl: &Template, place: Place) -> Option<Program> {
    let mut c = Compiler { tpl, p: Program { lits: Vec::new(), ops: Vec::new(), deps: Vec::new(), names: Vec::new() }, run: 0 };
    c.elem(tpl.root, place.depth, place.section)?;
    c.flush();
    Some(c.p)
}

struct Compiler<'t> {
    tpl: &'t Template,
    p: Program,
    /// Start of the literal run not yet flushed into an op.
    run: usize,
}

/// What the extractor does with an element.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    None,
    /// A System child: attributes mapped to fields, text captured when `capture`.
    System {
        capture: bool,
    },
    Data,
    /// An element captured under its own name (EventData `Binary`, UserData leaves,
    /// RenderingInfo `Message`).
    Named,
}

impl Compiler<'_> {
    fn flush(&mut self) {
        let end = self.p.lits.len();
        if end > self.run {
            self.p.ops.push(Op::Lit(Lit(self.run as u32, end as u32)));
        }
        self.run = end;
    }

    fn lit(&mut self, bytes: &[u8]) {
        self.p.lits.extend_from_slice(bytes);
    }

    /// The running literal, for an op that writes it before its own work.
    fn take_run(&mut self) -> Lit {
        let end = self.p.lits.len();
        let run = Lit(self.run as u32, end as u32);
        self.run = end;
        run
    }

    /// Literal bytes outside the running literal (for ops that write them themselves).
    fn side(&mut self, f: impl FnOnce(&mut Self)) -> Lit {
        self.flush();
        let start = self.p.lits.len();
        f(self);
        self.run = self.p.lits.len();
        Lit(start as u32, self.run as u32)
    }

    fn name(&mut self, name: &str) -> Option<u32> {
        match self.p.names.iter().position(|n| &**n == name) {
            Some(i) => Some(i as u32),
            None => {
                self.p.names.push(name.into());
                Some((self.p.names.len() - 1) as u32)
            }
        }
    }

    /// Ops that a guard skips start here: returns the guard's place.
    fn open_guard(&mut self) -> usize {
        self.flush();
        self.p.ops.push(Op::Lit(Lit(0, 0)));
        self.p.ops.len() - 1
    }

    fn close_guard(&mut self, at: usize, guard: impl FnOnce(u32) -> Op) {
        self.flush();
        let len = (self.p.ops.len() - at - 1) as u32;
        self.p.ops[at] = guard(len);
    }

    fn elem(&mut self, id: usize, depth: u8, section: Section) -> Option<()> {
        let e: &Elem = self.tpl.elems.get(id)?;
        let name = &*e.name;
        // The extractor's view (see `Extract::start`): the section children will be in, and
        // what this element is.
        let (child_section, role) = match depth {
            1 if name != "Event" => return None,
            1 => (Section::Other, Role::None),
            2 => (Section::of(name), Role::None),
            _ => (
                section,
                match (section, depth, name) {
                    (Section::System, 3, _) => Role::System { capture: system_text_captured(name) },
                    (Section::EventData, 3, "Data") => Role::Data,
                    (Section::EventData, 3, "Binary") | (Section::UserData, _, _) | (Section::Rendering, 3, "Message") => Role::Named,
                    _ => Role::None,
                },
            ),
        };
        let child_depth = (depth + 1).min(4);
        let has_elements = e.children.iter().any(|n| matches!(n, Node::Elem(_)));
        let only_elements = e.children.iter().all(|n| matches!(n, Node::Elem(_)));
        let captures = match role {
            Role::System { capture } => capture,
            Role::Data => true,
            // A UserData container: its capture ends at its first child, or holds nothing.
            Role::Named if section == Section::UserData && has_elements && only_elements => false,
            Role::Named => true,
            Role::None => false,
        };
        if captures && has_elements {
            return None;
        }
        if matches!(role, Role::System { .. } | Role::Data) && e.attrs.iter().any(|a| a.name.contains(':')) {
            return None; // read by local name there
        }
        let attr_field = |attr: &str| match role {
            Role::System { .. } => {
                SYSTEM_ATTRS.iter().position(|&(e, k, _)| e == name && k == attr).map_or(AttrField::None, |i| AttrField::System(i as u8))
            }
            Role::Data if attr == "Name" => AttrField::DataName,
            _ => AttrField::None,
        };
        // The field of the element's text.
        let field = if !captures {
            Field::None
        } else if role == Role::Data {
            match e.attrs.iter().find(|a| &*a.name == "Name").map(|a| &a.value) {
                None => Field::Named(self.name("Data")?),
                Some(AttrValue::Static(v)) => {
                    let mut n = String::new();
                    unescape_into(&mut n, v);
                    Field::Named(self.name(if n.is_empty() { "Data" } else { &n })?)
                }
                Some(_) => Field::DataName,
            }
        } else {
            Field::Named(self.name(name)?)
        };

        if e.expand {
            let [Node::Slot(slot)] = e.children[..] else { return None };
            let open = self.side(|c| {
                c.lit(b"<");
                c.lit(name.as_bytes());
                c.lit(b">");
            });
            let close = self.side(|c| {
                c.lit(b"</");
                c.lit(name.as_bytes());
                c.lit(b">");
            });
            self.p.ops.push(Op::Expand { slot, open, close, field, place: Place { depth: child_depth, section: child_section } });
            return Some(());
        }

        let left_out = if e.all_depend {
            if e.attrs.iter().any(|a| attr_field(&a.name) != AttrField::None) || captures {
                return None;
            }
            Some((self.open_guard(), self.p.lits.len()))
        } else {
            None
        };
        if role == Role::Data {
            self.flush();
            self.p.ops.push(Op::DataReset);
        }
        self.lit(b"<");
        self.lit(name.as_bytes());
        for a in &e.attrs {
            let af = attr_field(&a.name);
            match &a.value {
                AttrValue::Cond(slot) => {
                    let before = self.take_run();
                    let pre = self.side(|c| {
                        c.lit(b" ");
                        c.lit(a.name.as_bytes());
                        c.lit(b"=\"");
                    });
                    self.p.ops.push(Op::CondAttr { before, slot: *slot, pre, field: af });
                    continue;
                }
                AttrValue::Static(_) | AttrValue::Mixed(_) => {}
            }
            self.lit(b" ");
            self.lit(a.name.as_bytes());
            self.lit(b"=\"");
            if af != AttrField::None {
                self.flush();
                self.p.ops.push(Op::AttrMark);
            }
            match &a.value {
                AttrValue::Static(v) => self.lit(v.as_bytes()),
                AttrValue::Mixed(parts) => {
                    for part in parts {
                        match part {
                            Part::Lit(l) => self.lit(l.as_bytes()),
                            Part::Slot(slot) => {
                                self.flush();
                                self.p.ops.push(Op::AttrVal { slot: *slot });
                            }
                        }
                    }
                }
                AttrValue::Cond(_) => {}
            }
            if af != AttrField::None {
                self.flush();
                self.p.ops.push(Op::AttrEnd { field: af });
            }
            self.lit(b"\"");
        }
        let open_end = self.p.lits.len();
        if e.children.is_empty() && e.self_closing {
            self.lit(b"/>");
        } else {
            self.lit(b">");
            let place = Place { depth: child_depth, section: child_section };
            let text: Vec<&str> = e.children.iter().filter_map(|n| if let Node::Text(t) = n { Some(&**t) } else { None }).collect();
            if captures && !text.is_empty() {
                // Literal text only (a value would make the element not a leaf of one run).
                if e.children.len() != text.len() {
                    return None;
                }
                let all: String = text.concat();
                self.lit(all.as_bytes());
                self.flush();
                self.p.ops.push(Op::Const { field, len: all.len() as u32 });
            } else {
                for child in &e.children {
                    match child {
                        Node::Elem(c) => match self.tpl.elems.get(*c)?.dependency {
                            Some(slot) => {
                                let at = self.open_guard();
                                self.elem(*c, child_depth, child_section)?;
                                self.close_guard(at, |len| Op::Depends { slot, len });
                            }
                            None => self.elem(*c, child_depth, child_section)?,
                        },
                        Node::Text(t) => self.lit(t.as_bytes()),
                        Node::Slot(slot) => {
                            if captures && e.children.len() != 1 {
                                return None;
                            }
                            let before = self.take_run();
                            self.p.ops.push(Op::Content { before, slot: *slot, field, place });
                        }
                    }
                }
            }
            self.lit(b"</");
            self.lit(name.as_bytes());
            self.lit(b">");
        }
        if let Some((at, start)) = left_out {
            // Every child left out: the start tag (literal: its attributes are) and the end tag.
            let mut empty = self.p.lits.get(start..open_end)?.to_vec();
            empty.extend_from_slice(b"></");
            empty.extend_from_slice(name.as_bytes());
            empty.push(b'>');
            let deps_start = self.p.deps.len() as u32;
            for child in &e.children {
                if let Node::Elem(c) = child {
                    self.p.deps.push(self.tpl.elems.get(*c)?.dependency?);
                }
            }
            let deps = Lit(deps_start, self.p.deps.len() as u32);
            let empty = self.side(|c| c.lit(&empty));
            self.close_guard(at, |len| Op::LeftOut { deps, len, empty });
        }
        Some(())
    }
}

/// The program for the template at `def` in `place`, compiled on first use in the file.
fn program(bx: &mut BinXml, data: &[u8], def: u32, place: Place) -> Option<Rc<Program>> {
    let tpl = bx.template(data, def)?;
    if let Some((_, p)) = tpl.programs.borrow().iter().find(|(k, _)| *k == place) {
        return p.clone();
    }
    let p = compile(&tpl, place).map(Rc::new);
    tpl.programs.borrow_mut().push((place, p.clone()));
    p
}

/// Reads a record with its root template's program: writes the XML into `out` and the fields
/// into `ev`. `None`: not done here (the caller clears both and renders generally).
pub(crate) fn run_record(bx: &mut BinXml, data: &[u8], offset: usize, size: usize, out: &mut Vec<u8>) -> Option<()> {
    let bytes = data.get(offset..offset.checked_add(size)?)?;
    let at = single_instance(bytes)?;
    bx.slots.clear();
    let (def, slots, end) = bx.instance_values(data, offset + at)?;
    if !ends_stream(bytes, end - offset) {
        return None;
    }
    let prog = program(bx, data, def, Place { depth: 1, section: Section::Other })?;
    let mut regs = std::mem::take(&mut bx.regs);
    regs.found.clear();
    regs.programs.clear();
    let mut run = Run { data, out, bx, regs: &mut regs };
    let done = run.exec(&prog, slots, 0).filter(|()| run.out.len() <= MAX_OUT);
    bx.regs = regs;
    done
}

/// The fields [`run_record`] found, from the written XML `doc`, and the event's source,
/// sourcetype and host.
pub(crate) fn resolve(bx: &mut BinXml, doc: &str, ev: &mut Event, spare: &mut Spare) -> Option<()> {
    let regs = &mut bx.regs;
    let mut f = Fields::reuse(ev, spare);
    regs.channel.clear();
    regs.computer.clear();
    let text = |(a, b): (u32, u32)| doc.get(a as usize..b as usize);
    for found in &regs.found {
        let (name, at) = match *found {
            Found::System(field, at) => {
                system_attr(&mut f, &mut regs.text, SYSTEM_ATTRS.get(usize::from(field))?.2, text(at)?);
                continue;
            }
            Found::Named(p, i, at) => (regs.programs.get(usize::from(p))?.names.get(i as usize)?.as_ref(), at),
            Found::Data(at) => ("Data", at),
            Found::DataNamed(name, at) => {
                regs.name.clear();
                unescape_into(&mut regs.name, text(name)?);
                (if regs.name.is_empty() { "Data" } else { regs.name.as_str() }, at)
            }
        };
        let written = text(at)?;
        let value = if memchr::memchr2(b'&', b'\r', written.as_bytes()).is_some() {
            regs.text.clear();
            unescape_into(&mut regs.text, written);
            normalise_line_ends(&mut regs.text, 0);
            regs.text.as_str()
        } else {
            written
        };
        capture(&mut f, name, value, &mut regs.channel, &mut regs.computer);
    }
    finish(f.ev, &regs.channel, &regs.computer);
    f.done();
    Some(())
}

struct Run<'r> {
    data: &'r [u8],
    out: &'r mut Vec<u8>,
    bx: &'r mut BinXml,
    regs: &'r mut Registers,
}

impl<'r> Run<'r> {
    /// A value's type and bytes (borrowed from the chunk, not from `self`).
    fn slot(&self, slots: (usize, usize), id: u16) -> Option<(u8, &'r [u8])> {
        let i = slots.0 + usize::from(id);
        if i >= slots.1 {
            return None;
        }
        let s = self.bx.slots.get(i)?;
        let data: &'r [u8] = self.data;
        Some((s.ty, data.get(s.off..s.off + s.len)?))
    }

    fn null(&self, slots: (usize, usize), id: u16) -> bool {
        self.slot(slots, id).is_some_and(|(t, b)| values::is_null(t, b))
    }

    fn exec(&mut self, prog: &Rc<Program>, slots: (usize, usize), nesting: usize) -> Option<()> {
        let lit = |l: Lit| prog.lits.get(l.0 as usize..l.1 as usize).unwrap_or_default();
        let mut i = 0;
        while let Some(op) = prog.ops.get(i) {
            i += 1;
            match *op {
                Op::Lit(l) => self.out.extend_from_slice(lit(l)),
                Op::Depends { slot, len } => {
                    if self.null(slots, slot) {
                        i += len as usize;
                    }
                }
                Op::LeftOut { deps, len, empty } => {
                    let deps = prog.deps.get(deps.0 as usize..deps.1 as usize)?;
                    if deps.iter().all(|&d| self.null(slots, d)) {
                        self.out.extend_from_slice(lit(empty));
                        i += len as usize;
                    }
                }
                Op::AttrVal { slot } => {
                    if let Some((t, b)) = self.slot(slots, slot) {
                        values::write_value(self.out, &mut self.bx.scratch, t, b, true)?;
                    }
                }
                Op::CondAttr { before, slot, pre, field } => {
                    self.out.extend_from_slice(lit(before));
                    if let Some((t, b)) = self.slot(slots, slot) {
                        if !values::is_empty(t, b) {
                            self.out.extend_from_slice(lit(pre));
                            let from = self.out.len();
                            values::write_value(self.out, &mut self.bx.scratch, t, b, true)?;
                            self.attr_field(field, from);
                            self.out.push(b'"');
                        }
                    }
                }
                Op::AttrMark => self.regs.mark = self.out.len(),
                Op::AttrEnd { field } => self.attr_field(field, self.regs.mark),
                Op::DataReset => self.regs.data_name = (0, 0),
                Op::Content { before, slot, field, place } => {
                    self.out.extend_from_slice(lit(before));
                    self.content(prog, slots, slot, field, place, nesting)?;
                }
                Op::Expand { slot, open, close, field, place } => match self.slot(slots, slot) {
                    Some((0x81, b)) => self.expand(prog, b, lit(open), lit(close), field)?,
                    _ => {
                        self.out.extend_from_slice(lit(open));
                        self.content(prog, slots, slot, field, place, nesting)?;
                        self.out.extend_from_slice(lit(close));
                    }
                },
                Op::Const { field, len } => {
                    let end = self.out.len();
                    self.field(prog, field, end.saturating_sub(len as usize), end);
                }
            }
        }
        Some(())
    }

    /// The fields of an attribute value written from `from` on.
    fn attr_field(&mut self, field: AttrField, from: usize) {
        let at = (from as u32, self.out.len() as u32);
        match field {
            AttrField::None => {}
            AttrField::System(i) => self.regs.found.push(Found::System(i, at)),
            AttrField::DataName => self.regs.data_name = at,
        }
    }

    /// A captured element's text, written at `from..to`.
    fn field(&mut self, prog: &Rc<Program>, field: Field, from: usize, to: usize) {
        let at = (from as u32, to as u32);
        match field {
            Field::None => {}
            Field::Named(i) => {
                if self.regs.programs.last().is_none_or(|p| !Rc::ptr_eq(p, prog)) {
                    self.regs.programs.push(Rc::clone(prog));
                }
                let p = (self.regs.programs.len() - 1) as u16;
                self.regs.found.push(Found::Named(p, i, at));
            }
            Field::DataName if self.regs.data_name.1 > self.regs.data_name.0 => {
                self.regs.found.push(Found::DataNamed(self.regs.data_name, at))
            }
            Field::DataName => self.regs.found.push(Found::Data(at)),
        }
    }

    fn content(&mut self, prog: &Rc<Program>, slots: (usize, usize), slot: u16, field: Field, place: Place, nesting: usize) -> Option<()> {
        let Some((t, b)) = self.slot(slots, slot) else { return Some(()) };
        if t == ty::BIN_XML && !b.is_empty() {
            if !matches!(field, Field::None) || nesting >= MAX_NESTING || self.out.len() > MAX_OUT {
                return None;
            }
            let (data, s) = (self.data, slots.0 + usize::from(slot));
            let off = self.bx.slots.get(s)?.off;
            let at = single_instance(b)?;
            let (def, inner, end) = self.bx.instance_values(data, off + at)?;
            if !ends_stream(b, end - off) {
                return None;
            }
            let nested = program(self.bx, data, def, place)?;
            return self.exec(&nested, inner, nesting + 1);
        }
        let from = self.out.len();
        values::write_value(self.out, &mut self.bx.scratch, t, b, false)?;
        if self.out.len() > from {
            self.field(prog, field, from, self.out.len());
        }
        Some(())
    }

    /// A string array: the element once per item.
    fn expand(&mut self, prog: &Rc<Program>, bytes: &[u8], open: &[u8], close: &[u8], field: Field) -> Option<()> {
        if !bytes.len().is_multiple_of(2) {
            return None;
        }
        let (mut items, mut item, mut i) = (0, 0, 0);
        while i + 1 < bytes.len() {
            if bytes[i] == 0 && bytes[i + 1] == 0 {
                self.out.extend_from_slice(open);
                let from = self.out.len();
                values::write_utf16(self.out, &mut self.bx.scratch, &bytes[item..i], false);
                if self.out.len() > from {
                    self.field(prog, field, from, self.out.len());
                }
                self.out.extend_from_slice(close);
                items += 1;
                item = i + 2;
            }
            i += 2;
        }
        (item == bytes.len() && items > 0).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_compare() {
        let a = Place { depth: 3, section: Section::System };
        assert!(a == Place { depth: 3, section: Section::System });
        assert!(a != Place { depth: 3, section: Section::UserData });
    }
}
