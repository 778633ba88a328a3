//! Compiling templates: the fast lane of the EVTX reader.
//!
//! A template definition ([`Template`]) is compiled once per place into a flat [`Program`] of
//! literal runs and value ops, like the evtx crate's own compiled lane (`binxml/compiled.rs`,
//! whose rules the general renderer in `binxml.rs` ports), and the field extraction is worked
//! out at compile time too: where a template puts the element holding a value (System child,
//! `<Data Name='X'>`, UserData leaf, ...) says which field the value's text becomes, so
//! running a program (`program.rs`) writes the XML and pushes the fields in one pass, with no
//! per-element bookkeeping.
//!
//! The place matters for that (the extractor's depth and section), so programs are keyed by
//! template and place: a nested instance in `<UserData>` compiles apart from the record's root.
//! What the compiler cannot settle statically (a captured element with child elements, a
//! left-out element with fields of its own) makes it give up: the record then goes through the
//! general renderer, and past that through the crate.

use std::rc::Rc;

use crate::evtx::extract::unescape_into;
use crate::evtx::template::{AttrValue, Elem, Node, Part, Template};
use crate::winevent::{system_text_captured, SYSTEM_ATTRS};
use crate::xml::Section;

/// Where a program's root element stands for the extractor: its depth (4 standing for any
/// deeper one) and section.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    depth: u8,
    section: Section,
}

impl Place {
    /// A record's root template.
    pub(crate) const ROOT: Place = Place { depth: 1, section: Section::Other };
}

/// A literal range of `Program::lits`.
#[derive(Clone, Copy)]
pub(crate) struct Lit(pub(crate) u32, pub(crate) u32);

/// The field a value's text becomes.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    None,
    /// A captured element, named `Program::names[i]`.
    Named(u32),
    /// A `<Data>` named by a value: the `Name` read at run time.
    DataName,
}

/// What an attribute's value does for the extractor.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrField {
    None,
    /// A System attribute field ([`crate::winevent::system_attr_field`]), by index in
    /// [`SYSTEM_ATTRS`].
    System(u8),
    /// The `Name` of a `<Data>`.
    DataName,
}

#[derive(Clone, Copy)]
pub(crate) enum Op {
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
    pub(crate) lits: Vec<u8>,
    pub(crate) ops: Vec<Op>,
    pub(crate) deps: Vec<u16>,
    /// Field names, by [`Field::Named`] index.
    pub(crate) names: Vec<Rc<str>>,
}

/// Compiles `tpl` for `place`, or `None` for what is not settled statically.
pub(crate) fn compile(tpl: &Template, place: Place) -> Option<Program> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_compare() {
        let a = Place { depth: 3, section: Section::System };
        assert!(a == Place { depth: 3, section: Section::System });
        assert!(a != Place { depth: 3, section: Section::UserData });
        assert!(Place::ROOT != a);
    }
}
