//! Template instances of the chunk being read (MS-EVEN6 2.2.12): an instance's header and
//! substitution values, and its template, parsed once per thread. The same template defined
//! in another chunk or file is found by its canonical form ([`canonical`]), not parsed or
//! compiled again; its compiled programs are kept with it, by place.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::evtx::compile::{compile, Place, Program};
use crate::evtx::template::{canonical, parse_template, u32_at, Template};
use crate::evtx::values;

const MAX_SUBSTITUTIONS: usize = 4096;
/// Bytes of template keys kept per thread (real logs hold a few dozen templates of ~1 KiB).
const MAX_KNOWN_BYTES: usize = 4 << 20;

/// A template this thread has parsed: its definition and its programs by place (`None`: not
/// compiled).
pub(crate) struct KnownTemplate {
    pub(crate) template: Template,
    programs: RefCell<Vec<(Place, Option<Rc<Program>>)>>,
}

/// Templates already parsed on this thread, by [`canonical`] form (`None`: not followed).
#[derive(Default)]
struct Known {
    map: HashMap<Box<[u8]>, Option<Rc<KnownTemplate>>>,
    bytes: usize,
}

thread_local! {
    static KNOWN: RefCell<Known> = RefCell::new(Known::default());
}

/// A substitution value: its window in the chunk and its type.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) off: usize,
    pub(crate) len: usize,
    pub(crate) ty: u8,
}

/// Reads the template instances of one file, chunk after chunk. Reused between records.
#[derive(Default)]
pub(crate) struct Instances {
    /// The current chunk's templates by definition offset.
    templates: Vec<(u32, Option<Rc<KnownTemplate>>)>,
    canon: Vec<u8>,
    /// The values of the instances read for the current record (ranges of it are handed out).
    pub(crate) slots: Vec<Slot>,
}

impl Instances {
    /// Forgets the previous chunk's templates.
    pub(crate) fn new_chunk(&mut self) {
        self.templates.clear();
    }

    /// Reads the header and values of the template instance at `pos` (after its 0x0c token):
    /// its definition offset, its values (a range of `self.slots`) and where it ends.
    pub(crate) fn values(&mut self, data: &[u8], pos: usize) -> Option<(u32, (usize, usize), usize)> {
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

    /// Reads the template instance whose header starts at `pos` (after its 0x0c token): its
    /// template, its values (a range of `self.slots`) and where it ends.
    pub(crate) fn instance(&mut self, data: &[u8], pos: usize) -> Option<(Rc<KnownTemplate>, (usize, usize), usize)> {
        let (def, slots, end) = self.values(data, pos)?;
        Some((self.template(data, def)?, slots, end))
    }

    /// The template defined at `def` in the current chunk: parsed once per thread (the same
    /// template in another chunk or file is found by its [`canonical`] form).
    pub(crate) fn template(&mut self, data: &[u8], def: u32) -> Option<Rc<KnownTemplate>> {
        if let Some((_, t)) = self.templates.iter().find(|(d, _)| *d == def) {
            return t.clone();
        }
        let mut key = std::mem::take(&mut self.canon);
        let t = match canonical(data, def as usize, &mut key) {
            None => None,
            Some(()) => KNOWN.with_borrow_mut(|known| match known.map.get(key.as_slice()) {
                Some(t) => t.clone(),
                None => {
                    let t = parse_template(data, def as usize)
                        .map(|template| Rc::new(KnownTemplate { template, programs: RefCell::default() }));
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

    /// The program for the template at `def` in `place`, compiled on first use on this thread.
    pub(crate) fn program(&mut self, data: &[u8], def: u32, place: Place) -> Option<Rc<Program>> {
        let known = self.template(data, def)?;
        if let Some((_, p)) = known.programs.borrow().iter().find(|(k, _)| *k == place) {
            return p.clone();
        }
        let p = compile(&known.template, place).map(Rc::new);
        known.programs.borrow_mut().push((place, p.clone()));
        p
    }
}
