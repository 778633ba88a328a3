//! Running compiled programs ([`crate::evtx::compile`]): a record's root template program
//! writes the record's XML and notes where each field's text was written; [`resolve`] then
//! turns those places into the event's fields. What a program cannot settle at run time (a
//! value in element position inside a capture that turns out to be BinXML, nesting too deep,
//! output too large) makes the run give up: the record then goes through the general renderer
//! (`binxml.rs`), and past that through the crate.

use std::rc::Rc;

use vigil_model::Event;

use crate::evtx::compile::{AttrField, Field, Lit, Op, Place, Program};
use crate::evtx::extract::{capture, finish, normalise_line_ends, system_attr, unescape_into, Fields};
use crate::evtx::instance::Instances;
use crate::evtx::template::{ends_stream, single_instance};
use crate::evtx::values::{self as values, ty};
use crate::fields::Spare;
use crate::winevent::SYSTEM_ATTRS;

/// Nested instances followed, and output per record (as in the general renderer).
const MAX_NESTING: usize = 8;
const MAX_OUT: usize = 1 << 20;

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
    /// Scratch for [`values::write_utf16`].
    scratch: Vec<u8>,
}

/// Reads a record with its root template's program: writes the XML into `out` and the fields
/// into `ev`. `None`: not done here (the caller clears both and renders generally).
pub(crate) fn run_record(
    instances: &mut Instances,
    regs: &mut Registers,
    data: &[u8],
    offset: usize,
    size: usize,
    out: &mut Vec<u8>,
) -> Option<()> {
    let bytes = data.get(offset..offset.checked_add(size)?)?;
    let at = single_instance(bytes)?;
    instances.slots.clear();
    let (def, slots, end) = instances.values(data, offset + at)?;
    if !ends_stream(bytes, end - offset) {
        return None;
    }
    let prog = instances.program(data, def, Place::ROOT)?;
    regs.found.clear();
    regs.programs.clear();
    let mut run = Run { data, out, instances, regs };
    run.exec(&prog, slots, 0).filter(|()| run.out.len() <= MAX_OUT)
}

/// The fields [`run_record`] found, from the written XML `doc`, and the event's source,
/// sourcetype and host.
pub(crate) fn resolve(regs: &mut Registers, doc: &str, ev: &mut Event, spare: &mut Spare) -> Option<()> {
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
    instances: &'r mut Instances,
    regs: &'r mut Registers,
}

impl<'r> Run<'r> {
    /// A value's type and bytes (borrowed from the chunk, not from `self`).
    fn slot(&self, slots: (usize, usize), id: u16) -> Option<(u8, &'r [u8])> {
        let i = slots.0 + usize::from(id);
        if i >= slots.1 {
            return None;
        }
        let s = self.instances.slots.get(i)?;
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
                        values::write_value(self.out, &mut self.regs.scratch, t, b, true)?;
                    }
                }
                Op::CondAttr { before, slot, pre, field } => {
                    self.out.extend_from_slice(lit(before));
                    if let Some((t, b)) = self.slot(slots, slot) {
                        if !values::is_empty(t, b) {
                            self.out.extend_from_slice(lit(pre));
                            let from = self.out.len();
                            values::write_value(self.out, &mut self.regs.scratch, t, b, true)?;
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
            let off = self.instances.slots.get(s)?.off;
            let at = single_instance(b)?;
            let (def, inner, end) = self.instances.values(data, off + at)?;
            if !ends_stream(b, end - off) {
                return None;
            }
            let nested = self.instances.program(data, def, place)?;
            return self.exec(&nested, inner, nesting + 1);
        }
        let from = self.out.len();
        values::write_value(self.out, &mut self.regs.scratch, t, b, false)?;
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
                values::write_utf16(self.out, &mut self.regs.scratch, &bytes[item..i], false);
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
