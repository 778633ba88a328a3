//! Which derived fields each kind of event gets: the searches that can read an event of a
//! source, sourcetype and EventCode are known from their exact-value conditions
//! (`source=...`, `EventCode=4688`), so an event pays only for the fields those searches name, not for
//! every field any loaded search names.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::RwLock;

use crate::expr::{FieldValues, NameId, UNNAMED};
use crate::hashers::{NameMap, WordHasher};

/// Alternatives one of which an event must have: (field name, lowercased text, exact).
pub type Clause = Vec<(String, String, bool)>;

/// A search's raw-event scan, as [`crate::Knowledge::restrict_by_reader`] needs it.
pub struct EventReader<'a> {
    /// Every clause must hold for the scan to read an event: the event has one of its
    /// (field name, lowercased text, exact) atoms, a value equal to the text when exact, else
    /// one containing it. No clause: any event.
    pub clauses: &'a [Clause],
    /// Whether the scan may read a field of this name.
    pub reads: &'a dyn Fn(&str) -> bool,
}

/// The most field names the knowledge may set (the size of [`Seen`]).
pub(crate) const MAX_NAMES: usize = 512;

/// A set of the knowledge's field names: one bit per name id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen([u64; MAX_NAMES / 64]);

impl Default for Seen {
    fn default() -> Seen {
        Seen([0; MAX_NAMES / 64])
    }
}

impl Seen {
    pub fn has(&self, id: usize) -> bool {
        self.0[id / 64] & (1 << (id % 64)) != 0
    }
    pub fn add(&mut self, id: usize) {
        self.0[id / 64] |= 1 << (id % 64);
    }
    fn union(&mut self, other: &Seen) {
        self.0.iter_mut().zip(other.0).for_each(|(a, b)| *a |= b);
    }
}

/// What one kind of event gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub names: Seen,
    pub eventtype: bool,
    pub tag: bool,
}

impl Wanted {
    fn union(&mut self, other: &Wanted) {
        self.names.union(&other.names);
        self.eventtype |= other.eventtype;
        self.tag |= other.tag;
    }

    pub fn is_empty(&self) -> bool {
        !self.eventtype && !self.tag && self.names.0.iter().all(|&w| w == 0)
    }
}

/// Per kind of event (its source, sourcetype and the values of a few raw fields the
/// searches' conditions name most, such as EventCode): the fields some search that can read
/// such an event names. Worked out for each kind the first time one is met.
#[derive(Debug)]
pub(crate) struct Classes {
    /// One group per distinct list of clauses, reading what its scans read together.
    groups: Vec<(Vec<Clause>, Wanted)>,
    /// The knowledge's sources, in its order.
    sources: Vec<String>,
    /// The raw fields (never derived) whose values tell kinds of event apart, with their ids
    /// in the normalizer's [`crate::shape::Names`] ([`UNNAMED`] until given).
    key_fields: Vec<(String, NameId)>,
    /// A kind as bytes (see [`Classes::wanted`]) -> what such events get.
    memo: RwLock<HashMap<Vec<u8>, Wanted, BuildHasherDefault<WordHasher>>>,
}

thread_local! {
    /// The kind of the event being enriched, as bytes (see [`Classes::wanted`]).
    static KIND_KEY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The most kinds of event remembered (memory stays bounded whatever the input holds);
/// past it, a kind is worked out each time.
const MAX_KINDS: usize = 4096;

/// The longest kind (as bytes) remembered: a key field may hold whole texts (a PowerShell
/// script's `ScriptBlockText`), and 4,096 of them could hold hundreds of MB; such kinds are
/// worked out each time.
const MAX_KIND_BYTES: usize = 512;

/// The most raw fields a kind of event is told apart by.
const MAX_KEY_FIELDS: usize = 4;

impl Classes {
    /// `sources`: the knowledge's sources; `name_ids`: the field names it may set.
    pub fn build(sources: &[&str], name_ids: &NameMap<String, usize>, readers: &[EventReader]) -> Classes {
        let mut groups: Vec<(Vec<Clause>, Wanted)> = Vec::new();
        // Clauses -> their group: thousands of readers (one per Sigma rule) were each compared
        // with every group before.
        let mut group_of: HashMap<&[Clause], usize> = HashMap::with_capacity(readers.len());
        for r in readers {
            let mut w = Wanted { eventtype: (r.reads)("eventtype"), tag: (r.reads)("tag"), ..Wanted::default() };
            name_ids.iter().filter(|(n, _)| (r.reads)(n)).for_each(|(_, &id)| w.names.add(id));
            match group_of.get(r.clauses) {
                Some(&g) => groups[g].1.union(&w),
                None => {
                    group_of.insert(r.clauses, groups.len());
                    groups.push((r.clauses.to_vec(), w));
                }
            }
        }
        // The raw fields most groups' conditions name (derived ones are not known before
        // the knowledge runs; `source` and `sourcetype` are always in the key), among those
        // only compared whole: a field some condition searches for a text (`Image` ends
        // with, `ScriptBlockText` contains) holds free text, so nearly every event would be
        // a kind of its own, worked out each time (with all SigmaHQ rules, `Image` and
        // `OriginalFileName` were key fields: 4,735 of 5,932 events missed the memo).
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let searched: std::collections::HashSet<&str> = groups
            .iter()
            .flat_map(|(clauses, _)| clauses.iter().flatten())
            .filter(|(_, _, exact)| !exact)
            .map(|(f, _, _)| f.as_str())
            .collect();
        for (clauses, _) in &groups {
            let mut fields: Vec<&str> = clauses.iter().flatten().map(|(f, _, _)| f.as_str()).collect();
            fields.sort_unstable();
            fields.dedup();
            for f in fields {
                let derived = name_ids.contains_key(f) || matches!(f, "eventtype" | "tag" | "source" | "sourcetype" | "_raw");
                if !derived && !searched.contains(f) {
                    *counts.entry(f).or_default() += 1;
                }
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let key_fields = ranked.into_iter().take(MAX_KEY_FIELDS).map(|(f, _)| (f.to_string(), UNNAMED)).collect();
        Classes { groups, sources: sources.iter().map(|s| s.to_string()).collect(), key_fields, memo: RwLock::default() }
    }

    /// The key fields, to be given their ids.
    pub(crate) fn key_fields_mut(&mut self) -> impl Iterator<Item = (&str, &mut NameId)> {
        self.key_fields.iter_mut().map(|(f, id)| (f.as_str(), id))
    }

    /// What an event from source number `source` gets; `None` when that cannot be told (then
    /// it gets every field): a key field with several values, or a text that ASCII
    /// lowercasing does not lower (conditions hold lowercased texts).
    pub fn wanted<F: FieldValues + ?Sized>(&self, source: usize, sourcetype: &str, fields: &F) -> Option<Wanted> {
        if !sourcetype.is_ascii() {
            return None;
        }
        // The kind: source number, then per part an absent (1) or present (0) mark and the
        // lowercased text; texts are ASCII and marks are no text's bytes after a 0 separator.
        // Built in a buffer kept per thread: no allocation per event once it has grown.
        KIND_KEY.with(|key| {
            let mut key = key.borrow_mut();
            key.clear();
            self.wanted_by_key(source, sourcetype, fields, &mut key)
        })
    }

    /// Writes what of `fields` [`Classes::wanted`] reads into `out`: the first value of each
    /// key field and whether there are several. Events of one source and sourcetype that
    /// write the same bytes get the same answer.
    pub(crate) fn key_texts<F: FieldValues + ?Sized>(&self, fields: &F, out: &mut Vec<u8>) {
        for (f, id) in &self.key_fields {
            let mut values = fields.values(f, *id);
            match (values.next(), values.next()) {
                (None, _) => out.push(0),
                (Some(v), None) => {
                    out.push(1);
                    out.extend_from_slice(&v.len().to_le_bytes());
                    out.extend_from_slice(v.as_bytes());
                }
                (Some(_), Some(_)) => out.push(2),
            }
        }
    }

    /// [`Classes::wanted`], the kind written into the empty `key`.
    fn wanted_by_key<F: FieldValues + ?Sized>(&self, source: usize, sourcetype: &str, fields: &F, key: &mut Vec<u8>) -> Option<Wanted> {
        let lowerable = |t: &str| t.is_ascii();
        key.extend_from_slice(&(source as u64).to_le_bytes());
        let mut part = |text: Option<&str>| {
            key.push(if text.is_some() { 0 } else { 1 });
            let start = key.len();
            key.extend_from_slice(text.unwrap_or("").as_bytes());
            key[start..].make_ascii_lowercase();
            key.push(0);
        };
        part(Some(sourcetype));
        for (f, id) in &self.key_fields {
            let mut values = fields.values(f, *id);
            let first = values.next();
            if values.next().is_some() || first.is_some_and(|v| !lowerable(v)) {
                return None;
            }
            part(first);
        }
        let remembered = key.len() <= MAX_KIND_BYTES;
        if remembered {
            if let Some(w) = self.memo.read().ok().and_then(|m| m.get(key.as_slice()).copied()) {
                return Some(w);
            }
        }
        let src = self.sources.get(source)?;
        // Each value lowercased once, not once per condition on it.
        let (src, sourcetype) = (src.is_ascii().then(|| src.to_ascii_lowercase()), sourcetype.to_ascii_lowercase());
        let lowered: Vec<Option<String>> =
            self.key_fields.iter().map(|(f, id)| fields.values(f, *id).next().map(str::to_ascii_lowercase)).collect();
        let value_of = |field: &str| -> Option<Option<&str>> {
            match field {
                "source" => src.as_deref().map(Some),
                "sourcetype" => Some(Some(sourcetype.as_str())),
                f => self.key_fields.iter().zip(&lowered).find(|((k, _), _)| k == f).map(|(_, v)| v.as_deref()),
            }
        };
        let mut w = Wanted::default();
        for (clauses, g) in &self.groups {
            if clauses.iter().all(|c| holds(c, &value_of)) {
                w.union(g);
            }
        }
        if remembered {
            if let Ok(mut m) = self.memo.write() {
                if m.len() < MAX_KINDS {
                    m.insert(key.clone(), w);
                }
            }
        }
        Some(w)
    }
}

/// Whether an event may meet `clause`, given `value_of(field)`: its lowercased value
/// (`Some(None)`: absent), or `None` when not known here (then any atom on it may hold).
fn holds<'v>(clause: &[(String, String, bool)], value_of: &dyn Fn(&str) -> Option<Option<&'v str>>) -> bool {
    clause.iter().any(|(f, text, exact)| match value_of(f) {
        None => true,
        Some(None) => false,
        Some(Some(v)) if *exact => v == text,
        Some(Some(v)) => v.contains(text.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(atoms: &[(&str, &str, bool)]) -> Clause {
        atoms.iter().map(|(f, v, e)| (f.to_string(), v.to_string(), *e)).collect()
    }

    fn event(sourcetype: &str, fields: &[(&str, &str)]) -> vigil_model::Event {
        let mut ev = vigil_model::Event { sourcetype: sourcetype.into(), ..Default::default() };
        fields.iter().for_each(|(k, v)| ev.push(*k, *v));
        ev
    }

    impl Classes {
        fn wanted_of(&self, source: usize, ev: &vigil_model::Event) -> Option<Wanted> {
            self.wanted(source, &ev.sourcetype, ev.fields.as_slice())
        }
    }

    #[test]
    fn each_kind_of_event_gets_what_its_readers_name() {
        let ids: NameMap<String, usize> = [("a", 0), ("b", 1), ("c", 2), ("d", 3)].iter().map(|(n, i)| (n.to_string(), *i)).collect();
        let one = [clause(&[("source", "s1", true)]), clause(&[("EventCode", "1", true), ("EventCode", "2", true)])];
        let two = [clause(&[("EventCode", "3", true)]), clause(&[("Image", "x.exe", false)])];
        let typed = [clause(&[("sourcetype", "t:x", true), ("source", "s1", false)])];
        let reads = |name: &'static str| move |n: &str| n == name || (name == "b" && n == "tag");
        let (ra, rb, rc, rd) = (reads("a"), reads("b"), reads("c"), reads("d"));
        let readers = [
            EventReader { clauses: &one, reads: &ra },
            EventReader { clauses: &two, reads: &rb },
            EventReader { clauses: &[], reads: &rc },
            EventReader { clauses: &typed, reads: &rd },
        ];
        let k = Classes::build(&["S1", "s2"], &ids, &readers);
        let key_names: Vec<&str> = k.key_fields.iter().map(|(f, _)| f.as_str()).collect();
        // Image is searched for a text (free text: nearly one kind per event), not a key.
        assert_eq!(key_names, ["EventCode"], "by the number of groups naming them, whole");
        let names = |w: Option<Wanted>| {
            let w = w.unwrap();
            ((0..4).filter(|&i| w.names.has(i)).collect::<Vec<_>>(), w.tag, w.eventtype)
        };
        let code = |c: &str| event("T", &[("EventCode", c)]);
        assert_eq!(names(k.wanted_of(0, &code("1"))), (vec![0, 2, 3], false, false));
        // Remembered: the same answer again.
        assert_eq!(names(k.wanted_of(0, &code("1"))), (vec![0, 2, 3], false, false));
        // Image is not in the key: its readers may read any event of EventCode 3.
        assert_eq!(names(k.wanted_of(0, &code("3"))), (vec![1, 2, 3], true, false));
        assert_eq!(names(k.wanted_of(0, &event("T", &[("EventCode", "3"), ("Image", "C:\\X.EXE")]))), (vec![1, 2, 3], true, false));
        assert_eq!(names(k.wanted_of(1, &code("2"))).0, [2]);
        assert_eq!(names(k.wanted_of(1, &event("T:X", &[]))).0, [2, 3]);
        assert_eq!(names(k.wanted_of(1, &event("Q", &[]))).0, [2]);
        // Several EventCodes, or one lowercasing would not lower: cannot be told.
        assert!(k.wanted_of(0, &event("T", &[("EventCode", "1"), ("EventCode", "3")])).is_none());
        assert!(k.wanted_of(0, &code("É")).is_none());
    }

    /// A kind longer than [`MAX_KIND_BYTES`] (a key field holding a whole text) gets the
    /// same answer as a short one but is not remembered.
    #[test]
    fn long_kinds_are_worked_out_not_remembered() {
        let ids: NameMap<String, usize> = [("a", 0), ("b", 1)].iter().map(|(n, i)| (n.to_string(), *i)).collect();
        let scripts = [clause(&[("ScriptBlockText", "invoke-mimikatz", true)])];
        let (ra, rb) = (|n: &str| n == "a", |n: &str| n == "b");
        let readers = [EventReader { clauses: &scripts, reads: &ra }, EventReader { clauses: &[], reads: &rb }];
        let k = Classes::build(&["S"], &ids, &readers);
        let script = |body: &str| event("T", &[("ScriptBlockText", body)]);
        let padding = "x".repeat(MAX_KIND_BYTES);
        let has = |w: Option<Wanted>| (0..2).filter(|&i| w.unwrap().names.has(i)).collect::<Vec<_>>();
        assert_eq!(has(k.wanted_of(0, &script("Invoke-Mimikatz"))), [0, 1]);
        assert_eq!(has(k.wanted_of(0, &script("Get-Date"))), [1]);
        let remembered = k.memo.read().unwrap().len();
        assert_eq!(remembered, 2);
        assert_eq!(has(k.wanted_of(0, &script(&format!("{padding} Invoke-Mimikatz")))), [1]);
        assert_eq!(has(k.wanted_of(0, &script(&padding))), [1]);
        assert_eq!(k.memo.read().unwrap().len(), remembered, "long kinds are not kept");
    }
}
