//! Groups of a `stats`/`eventstats`/`tstats` by-clause and their aggregation states, keyed
//! by interned texts; spilled to sorted runs on disk past a memory budget.

use crate::error::ExecError;
use crate::store::agg::{AggSpec, AggState};
use crate::store::group_arena::Arena;
use crate::store::key_bytes::KeyBytes;
use crate::store::spill::{decode_state, encode_state, get_str, get_u32, get_u64, get_u8, put_str, put_u32, put_u64, Run, SpillFile};
use crate::store::symbols::{clear_bounded, sort_by_key_text, sort_by_ranks, Symbols, Translation, KEEP_TABLE_CAPACITY};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;
use std::sync::Arc;
use vigil_model::{Record, Value};

/// Most groups one `stats`/`eventstats`/`tstats` may build, and most keys one row may put
/// itself in (multivalue by-fields multiply): beyond this a search fails with a clear error
/// instead of exhausting memory.
pub const MAX_GROUPS: usize = 5_000_000;

/// One by-field's contribution to group keys: a single interned text or a multivalue's items.
#[derive(Debug)]
pub(crate) enum KeyPart {
    One(u32),
    Many(Vec<u32>),
}

/// How many keys these parts make (saturating): the product of the multivalue lengths.
pub(crate) fn key_count(parts: &[KeyPart]) -> usize {
    parts.iter().fold(1usize, |n, p| match p {
        KeyPart::Many(items) => n.saturating_mul(items.len()),
        KeyPart::One(_) => n,
    })
}

/// Keys of up to this many parts are built on the stack (ESCU groups by up to ~20 fields).
const INLINE_KEY: usize = 32;

/// Calls `f` with every key of the cartesian product of `parts` (one key unless a part is
/// multivalue): a multivalue by-field puts the row in one group per item.
pub(crate) fn for_each_key(parts: &[KeyPart], mut f: impl FnMut(&[u32])) {
    // The usual case, one key: no allocation (this runs per row and per detection).
    if parts.len() <= INLINE_KEY && parts.iter().all(|p| matches!(p, KeyPart::One(_))) {
        let mut key = [0u32; INLINE_KEY];
        for (k, p) in key.iter_mut().zip(parts) {
            if let KeyPart::One(id) = p {
                *k = *id;
            }
        }
        return f(&key[..parts.len()]);
    }
    let lists: Vec<&[u32]> = parts
        .iter()
        .map(|p| match p {
            KeyPart::One(id) => std::slice::from_ref(id),
            KeyPart::Many(items) => items.as_slice(),
        })
        .collect();
    for_each_combination(&lists, 0, f);
}

/// Calls `f` with every combination of one item of each list, the last list varying
/// fastest (an odometer); an empty list stands as `empty`. Group keys of multivalue
/// by-fields, as ids (`for_each_key`) or as texts (deferred scans), come in this order.
pub(crate) fn for_each_combination<T: Copy>(lists: &[&[T]], empty: T, mut f: impl FnMut(&[T])) {
    let first = |l: &[T]| l.first().copied().unwrap_or(empty);
    let mut key: Vec<T> = lists.iter().map(|l| first(l)).collect();
    if lists.iter().all(|l| l.len() <= 1) {
        return f(&key);
    }
    let mut idx = vec![0usize; lists.len()];
    loop {
        f(&key);
        let mut i = lists.len();
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if idx[i] + 1 < lists[i].len() {
                idx[i] += 1;
                key[i] = lists[i][idx[i]];
                break;
            }
            idx[i] = 0;
            key[i] = first(lists[i]);
        }
    }
}

/// Groups and their aggregation states (cloned for the queries that share a scan).
///
/// A key is an array of ids in a [`Symbols`] table owned by the caller (shared by every
/// query of a thread), so finding a group hashes and compares a few integers; the groups in
/// memory are an [`Arena`], without an allocation per group.
#[derive(Clone)]
pub(crate) struct Groups {
    table: Arena,
    /// Groups written to disk under memory pressure, oldest first (see `store::spill`).
    runs: Vec<Run>,
    /// Estimated heap bytes of `table`.
    bytes: usize,
    /// Groups written to `runs`.
    spilled: usize,
    /// Keys refused by a key filter (see `plan::keyfilter`), so they are not tried again.
    refused: HashTable<Box<[u32]>>,
    /// A key filter's decisions by the key parts that alone decide it (see [`Groups::entry_if`]).
    decided: HashTable<(Box<[u32]>, bool)>,
    hasher: DefaultHashBuilder,
    /// Most groups kept ([`MAX_GROUPS`]); rows for further new groups are dropped and
    /// `overflow` is set, which fails the query (memory stays bounded meanwhile).
    limit: usize,
    pub overflow: bool,
    /// Absorbs rows of groups refused after the limit.
    spill: Vec<AggState>,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Groups({} groups, overflow: {})", self.table.len(), self.overflow)
    }
}

impl Default for Groups {
    fn default() -> Self {
        Groups::with_limit(MAX_GROUPS)
    }
}

impl Groups {
    pub fn with_limit(limit: usize) -> Groups {
        Groups {
            table: Arena::default(),
            runs: Vec::new(),
            bytes: 0,
            spilled: 0,
            refused: HashTable::new(),
            decided: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            limit,
            overflow: false,
            spill: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Empties the groups for reuse by a new scan state, keeping the tables' allocations up
    /// to `KEEP_TABLE_CAPACITY` entries (a window with a burst of keys does not pin that
    /// capacity in every later one). The hasher stays: its seed changes no result (encoding
    /// sorts by key text).
    pub fn clear_for_reuse(&mut self) {
        self.table.clear_bounded(KEEP_TABLE_CAPACITY);
        clear_bounded(&mut self.refused);
        clear_bounded(&mut self.decided);
        self.runs.clear();
        self.bytes = 0;
        self.spilled = 0;
        self.overflow = false;
        self.spill.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty() && self.runs.is_empty()
    }

    /// Groups held in memory and written to disk (a group in several runs counts for each).
    pub fn total(&self) -> usize {
        self.table.len() + self.spilled
    }

    /// Whether some groups were written to disk: then [`Groups::bytes`] is only the part
    /// still in memory, and the table is larger than the budget its scan had.
    pub fn has_spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Estimated heap bytes of the groups held in memory.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Counts heap bytes the groups' states grew by (texts kept by `values()`, `dc()`, ...).
    pub fn grew(&mut self, bytes: usize) {
        self.bytes += bytes;
    }

    /// Writes the groups held in memory to `file` as one sorted run and forgets them;
    /// returns the bytes written.
    pub fn spill(&mut self, symbols: &Symbols, file: &Arc<SpillFile>) -> std::io::Result<u64> {
        self.spill_with(symbols, file, |groups| sort_by_key_text(groups, |g| g.0, symbols))
    }

    /// Like [`Groups::spill`], sorting by `ranks`, the [`text_ranks`](crate::store::symbols::text_ranks) of `symbols` (shared by
    /// the tables of a scan state, so no table sorts texts again).
    pub fn spill_ranked(&mut self, symbols: &Symbols, ranks: &[u32], file: &Arc<SpillFile>) -> std::io::Result<u64> {
        self.spill_with(symbols, file, |groups| sort_by_ranks(groups, |g| g.0, ranks))
    }

    fn spill_with(&mut self, symbols: &Symbols, file: &Arc<SpillFile>, sort: impl FnOnce(&mut Vec<(&[u32], u32)>)) -> std::io::Result<u64> {
        if self.table.is_empty() {
            self.refused.clear();
            self.decided.clear();
            self.bytes = 0;
            return Ok(0);
        }
        let table = &self.table;
        let mut groups = table.keys();
        sort(&mut groups);
        let run = file.write_run(groups.iter().map(|&(k, g)| (k.iter().map(|&id| symbols.text(id)).collect(), table.states(g))))?;
        let written = run.len();
        self.runs.push(run);
        self.spilled += groups.len();
        self.table.free();
        self.bytes = 0;
        // Their ids are about to lose their texts.
        self.refused.clear();
        self.decided.clear();
        Ok(written)
    }

    /// Every group as runs on disk (those in memory are written first), so they can be read
    /// again and again in key order.
    pub fn into_runs(mut self, symbols: &Symbols, file: &Arc<SpillFile>, aggs: &[AggSpec]) -> std::io::Result<Vec<Run>> {
        self.spill(symbols, file)?;
        crate::store::spill::compact(self.runs, aggs)
    }

    /// The groups in memory whose key texts pass `keep`, sorted by key text, each with its
    /// states (leaves the table empty): filtered first, as a selective `keep` leaves few
    /// groups to sort.
    fn sorted_where(&mut self, symbols: &Symbols, keep: impl Fn(&[&str]) -> bool) -> Vec<(Vec<u32>, Vec<AggState>)> {
        let mut table = std::mem::take(&mut self.table);
        let mut parts: Vec<&str> = Vec::new();
        let mut groups = table.keys();
        groups.retain(|(key, _)| {
            parts.clear();
            parts.extend(key.iter().map(|&id| symbols.text(id)));
            keep(&parts)
        });
        sort_by_key_text(&mut groups, |g| g.0, symbols);
        let order: Vec<(Vec<u32>, u32)> = groups.into_iter().map(|(k, g)| (k.to_vec(), g)).collect();
        order.into_iter().map(|(k, g)| (k, table.take_states(g))).collect()
    }

    /// The states of the group with this key, created if new.
    pub fn entry(&mut self, key: &[u32], aggs: &[AggSpec]) -> &mut [AggState] {
        let h = self.hasher.hash_one(key);
        match self.table.find(h, key) {
            Some(g) => self.table.states_mut(g),
            None => self.insert_new(h, key, aggs),
        }
    }

    /// Like [`Groups::entry`], but a new key must pass `admit` first; `None` for a refused
    /// key. Refused keys are remembered; with `decides` (the key positions that alone decide
    /// `admit`), every decision is remembered by the key's parts at those positions instead.
    pub fn entry_if(
        &mut self,
        key: &[u32],
        aggs: &[AggSpec],
        decides: Option<&[usize]>,
        admit: impl FnOnce(&[u32]) -> bool,
    ) -> Option<&mut [AggState]> {
        let h = self.hasher.hash_one(key);
        if let Some(g) = self.table.find(h, key) {
            return Some(self.table.states_mut(g));
        }
        let admitted = match decides {
            Some(positions) => self.decide(key, positions, admit),
            None => self.decide_whole(h, key, admit),
        };
        admitted.then(|| self.insert_new(h, key, aggs))
    }

    /// `admit(key)`, remembered by the key's parts at `positions`.
    fn decide(&mut self, key: &[u32], positions: &[usize], admit: impl FnOnce(&[u32]) -> bool) -> bool {
        let mut inline = [0u32; INLINE_KEY];
        let mut heap = Vec::new();
        let part = |i: &usize| key.get(*i).copied().unwrap_or(u32::MAX);
        let parts: &[u32] = if positions.len() <= INLINE_KEY {
            inline.iter_mut().zip(positions).for_each(|(slot, i)| *slot = part(i));
            &inline[..positions.len()]
        } else {
            heap.extend(positions.iter().map(part));
            &heap
        };
        let h = self.hasher.hash_one(parts);
        if let Some((_, admitted)) = self.decided.find(h, |(k, _)| **k == *parts) {
            return *admitted;
        }
        let admitted = admit(key);
        let hasher = &self.hasher;
        self.decided.insert_unique(h, (parts.into(), admitted), |(k, _)| hasher.hash_one(&**k));
        self.bytes += 32 + parts.len() * 4;
        admitted
    }

    /// `admit(key)`, remembered when it refuses.
    fn decide_whole(&mut self, h: u64, key: &[u32], admit: impl FnOnce(&[u32]) -> bool) -> bool {
        if self.refused.find(h, |k| **k == *key).is_some() {
            return false;
        }
        if admit(key) {
            return true;
        }
        let hasher = &self.hasher;
        self.refused.insert_unique(h, key.into(), |k| hasher.hash_one(&**k));
        self.bytes += 32 + key.len() * 4;
        false
    }

    fn insert_new(&mut self, h: u64, key: &[u32], aggs: &[AggSpec]) -> &mut [AggState] {
        // A key of another shape than the table's cannot come from one scan; its row is
        // dropped like one past the limit, without failing the query.
        let misfit = !self.table.fits(key, aggs.len());
        if self.table.len() >= self.limit || misfit {
            self.overflow |= !misfit;
            self.spill = aggs.iter().map(|a| AggState::new(a.func)).collect();
            return &mut self.spill;
        }
        let g = self.add_group(h, key, aggs.iter().map(|a| AggState::new(a.func)));
        self.table.states_mut(g)
    }

    /// Adds a group to the table, counting the bytes it reserved.
    fn add_group(&mut self, h: u64, key: &[u32], states: impl IntoIterator<Item = AggState>) -> u32 {
        let before = self.table.reserved_bytes();
        let g = self.table.insert(h, key, states);
        self.bytes += self.table.reserved_bytes().saturating_sub(before);
        g
    }

    /// Adds another thread's groups, whose ids `tr` translates into `symbols`.
    pub fn merge(&mut self, other: Groups, tr: &mut Translation, symbols: &mut Symbols, aggs: &[AggSpec]) {
        self.overflow |= other.overflow;
        self.runs.extend(other.runs);
        self.spilled += other.spilled;
        let mut theirs = other.table;
        let mut k: Vec<u32> = Vec::new();
        for g in 0..theirs.len() as u32 {
            let states = theirs.take_states(g);
            k.clear();
            k.extend(theirs.key(g).iter().map(|&id| tr.id(symbols, id)));
            let h = self.hasher.hash_one(k.as_slice());
            match self.table.find(h, &k) {
                Some(mine) => {
                    for ((m, o), spec) in self.table.states_mut(mine).iter_mut().zip(states).zip(aggs) {
                        m.merge(spec.func, o);
                    }
                }
                None if self.table.len() >= self.limit || !self.table.fits(&k, states.len()) => self.overflow = true,
                None => _ = self.add_group(h, &k, states),
            }
        }
    }

    /// The single row an aggregation without by-fields yields over no input.
    pub fn finish_empty(aggs: &[AggSpec]) -> Vec<Record> {
        let mut g = Groups::default();
        g.entry(&[], aggs);
        g.finish(&Symbols::default(), &[], aggs).unwrap_or_default()
    }

    /// Result rows sorted by key (Splunk sorts stats output by the by-fields).
    pub fn finish(self, symbols: &Symbols, by_names: &[String], aggs: &[AggSpec]) -> Result<Vec<Record>, ExecError> {
        self.finish_where(symbols, by_names, aggs, |_| true)
    }

    /// Result rows of the groups whose key texts pass `keep`, sorted by key. Fails only when
    /// spilled groups cannot be read back.
    pub fn finish_where(
        self,
        symbols: &Symbols,
        by_names: &[String],
        aggs: &[AggSpec],
        keep: impl Fn(&[&str]) -> bool,
    ) -> Result<Vec<Record>, ExecError> {
        let mut out = Vec::new();
        self.for_each_row(symbols, by_names, aggs, keep, |r| out.push(r))?;
        Ok(out)
    }

    /// Calls `row` with the result row of each group whose key texts pass `keep`, in key
    /// order, building one row at a time.
    pub fn for_each_row(
        mut self,
        symbols: &Symbols,
        by_names: &[String],
        aggs: &[AggSpec],
        keep: impl Fn(&[&str]) -> bool,
        mut row: impl FnMut(Record),
    ) -> Result<(), ExecError> {
        // A group's key decides `keep` alone, so groups in memory are filtered before they
        // merge with the same keys' groups on disk (which `keep` then refuses too).
        let groups = self.sorted_where(symbols, &keep);
        if self.runs.is_empty() {
            for (key, states) in groups {
                row(group_row(by_names, key.iter().map(|&id| symbols.text(id).to_string()), states, aggs));
            }
            return Ok(());
        }
        let memory = groups.into_iter().map(|(key, states)| (KeyBytes::of_texts(key.iter().map(|&id| symbols.text(id))), states)).collect();
        let runs = crate::store::spill::compact(std::mem::take(&mut self.runs), aggs)
            .map_err(|e| ExecError(format!("merging groups spilled to disk: {e}")))?;
        crate::store::spill::merge(&runs, memory, aggs, |key, states| {
            let texts = key.texts()?;
            if keep(&texts) {
                row(group_row(by_names, texts.into_iter().map(str::to_string), states, aggs));
            }
            Ok(())
        })
        .map_err(|e| ExecError(format!("reading back groups spilled to disk: {e}")))
    }
}

/// Reading and writing groups as bytes (the scan state format, see `scan::codec`).
impl Groups {
    /// Appends the groups: `overflow` (u8), then the runs on disk, oldest first, and the groups
    /// in memory as a last run, each run as a group count (u64) and its groups in key order,
    /// each group as in a spill run (key texts, then states).
    pub fn encode(&self, symbols: &Symbols, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.push(u8::from(self.overflow));
        put_u32(buf, self.runs.len() as u32 + 1);
        for run in &self.runs {
            let count_at = buf.len();
            put_u64(buf, 0);
            let mut n = 0u64;
            run.for_each_group(|key, states| {
                n += 1;
                encode_group(buf, key.texts()?.into_iter(), &states);
                Ok(())
            })?;
            buf[count_at..count_at + 8].copy_from_slice(&n.to_le_bytes());
        }
        let mut groups = self.table.keys();
        sort_by_key_text(&mut groups, |g| g.0, symbols);
        put_u64(buf, groups.len() as u64);
        for (key, g) in groups {
            encode_group(buf, key.iter().map(|&id| symbols.text(id)), self.table.states(g));
        }
        Ok(())
    }

    /// Reads groups written by [`Groups::encode`] for a scan with `by_len` by-fields and
    /// aggregations `aggs`: runs go to `file` (created when first needed), the last run to
    /// memory with its texts in `symbols`.
    pub fn decode(
        cur: &mut &[u8],
        by_len: usize,
        aggs: &[AggSpec],
        symbols: &mut Symbols,
        file: &mut Option<Arc<SpillFile>>,
    ) -> Result<Groups, String> {
        let mut g = Groups { overflow: get_u8(cur).ok_or("truncated groups")? != 0, ..Groups::default() };
        let runs = get_u32(cur).ok_or("truncated groups")?;
        for r in 0..runs {
            let n = get_u64(cur).ok_or("truncated run")?;
            let mut groups = Vec::new();
            for _ in 0..n {
                let (key, states) = decode_group(cur, by_len, aggs)?;
                if groups.last().is_some_and(|(prev, _): &(Vec<String>, Vec<AggState>)| *prev >= key) {
                    return Err("groups out of key order".into());
                }
                groups.push((key, states));
            }
            if r + 1 < runs {
                let f = match file {
                    Some(f) => f.clone(),
                    None => file.insert(SpillFile::new().map_err(|e| format!("spill file: {e}"))?).clone(),
                };
                let run = f
                    .write_run(groups.iter().map(|(k, st)| (k.iter().map(String::as_str).collect(), st.as_slice())))
                    .map_err(|e| format!("spill file: {e}"))?;
                g.runs.push(run);
                g.spilled += groups.len();
            } else {
                for (key, states) in groups {
                    let ids: Vec<u32> = key.iter().map(|k| symbols.intern(k)).collect();
                    let h = g.hasher.hash_one(ids.as_slice());
                    g.add_group(h, &ids, states);
                }
            }
        }
        Ok(g)
    }
}

fn encode_group<'a>(buf: &mut Vec<u8>, key: impl ExactSizeIterator<Item = &'a str>, states: &[AggState]) {
    put_u32(buf, key.len() as u32);
    key.for_each(|k| put_str(buf, k));
    put_u32(buf, states.len() as u32);
    states.iter().for_each(|st| encode_state(st, buf));
}

fn decode_group(cur: &mut &[u8], by_len: usize, aggs: &[AggSpec]) -> Result<(Vec<String>, Vec<AggState>), String> {
    let bad = || "damaged group".to_string();
    let n = get_u32(cur).ok_or_else(bad)? as usize;
    if n != by_len {
        return Err(format!("a group key of {n} parts for a scan with {by_len} by-fields"));
    }
    let key = (0..n).map(|_| get_str(cur)).collect::<Option<Vec<String>>>().ok_or_else(bad)?;
    let n = get_u32(cur).ok_or_else(bad)? as usize;
    if n != aggs.len() {
        return Err(format!("{n} aggregation states for a scan with {} aggregations", aggs.len()));
    }
    let states = (0..n).map(|_| decode_state(cur)).collect::<Option<Vec<AggState>>>().ok_or_else(bad)?;
    if !states.iter().zip(aggs).all(|(st, spec)| st.fits(spec.func)) {
        return Err("an aggregation state of the wrong kind".into());
    }
    Ok((key, states))
}

/// A result row: by-fields, then aggregates (an aggregate named like a by-field replaces it).
pub(crate) fn group_row(by_names: &[String], key: impl Iterator<Item = String>, states: Vec<AggState>, aggs: &[AggSpec]) -> Record {
    let mut r = Record::with_capacity(by_names.len() + states.len());
    // Names from borrowed text: a short one is kept inline in the row, without the heap copy
    // a cloned `String` would make (and free) per field of every row.
    for (name, text) in by_names.iter().zip(key) {
        r.push_new_str(name, Value::Str(text));
    }
    for (spec, st) in aggs.iter().zip(states) {
        if by_names.contains(&spec.name) {
            r.set(spec.name.as_str(), st.finish(spec.func));
        } else {
            r.push_new_str(&spec.name, st.finish(spec.func));
        }
    }
    r
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
