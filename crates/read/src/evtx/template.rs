//! EVTX template definitions (MS-EVEN6 2.2.12): the element tree a template's token stream
//! builds, read once per template and classified into the shapes the renderers follow
//! ([`Template`]), and the byte helpers of the BinXML stream around it. The general renderer
//! (`binxml.rs`) and the template compiler (`compile.rs`) both read this model.

use crate::evtx::values::{self as values, ty};

/// Element depth within one template.
const MAX_DEPTH: usize = 64;

/// A parsed template definition.
pub(crate) struct Template {
    pub(crate) elems: Vec<Elem>,
    pub(crate) root: usize,
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
pub(crate) fn canonical(data: &[u8], def: usize, out: &mut Vec<u8>) -> Option<()> {
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
pub(crate) fn parse_template(data: &[u8], def: usize) -> Option<Template> {
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
    let mut t = Template { elems: b.elems, root };
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
