//! Deferred scans: tstats scans that log their rows (see `row_log`) instead of building groups
//! during the scan, and build only the groups a semi-join admits after it.

use super::row_log::{LoggedRow, RowLog};
use crate::error::ExecError;
use crate::expr::field::FieldRef;
use crate::expr::value::EvalContext;
use crate::ops::Op;
use crate::plan::keyfilter::KeyFilter;
use crate::plan::{Query, Scan, TstatsScan};
use crate::store::agg::{AggInput, AggSpec};
use crate::store::groups::{for_each_combination, Groups, MAX_GROUPS};
use crate::store::symbols::Symbols;
use vigil_model::value::{decimal_i64, DECIMAL_LEN};

/// Deferred scans on one dataset at most (one bit each of a row's mask); further ones build
/// groups during the scan as usual.
const MAX_PER_DATASET: u32 = 64;

/// A query's deferred scan: which, on what dataset, and its bit in that dataset's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeferredScan {
    pub scan: usize,
    pub dataset: usize,
    pub bit: u32,
}

/// Which scans are deferred, and what each dataset's row log keeps.
#[derive(Debug, Default)]
pub(crate) struct DeferredScans {
    /// Per query: its deferred scan, if any.
    pub by_query: Vec<Option<DeferredScan>>,
    /// Per dataset: the columns its log keeps (by-fields and aggregate inputs of its deferred
    /// scans), sorted; empty when none of its scans is deferred.
    pub columns: Vec<Vec<usize>>,
    /// Per dataset: the queries of its deferred scans (charged with the log's spilled bytes).
    pub readers: std::sync::Arc<Vec<Vec<usize>>>,
}

impl DeferredScans {
    /// Defers the scan `defer(q)` names of each query, where it is a tstats scan.
    pub fn plan(queries: &[Query], datasets: usize, defer: impl Fn(&Query) -> Option<usize>) -> DeferredScans {
        let mut plan =
            DeferredScans { by_query: vec![None; queries.len()], columns: vec![Vec::new(); datasets], readers: Default::default() };
        let mut all_readers = vec![Vec::new(); datasets];
        for (qi, q) in queries.iter().enumerate() {
            let Some(si) = defer(q) else { continue };
            let Some(Scan::Tstats(t)) = q.scans.get(si) else { continue };
            let Some(readers) = all_readers.get_mut(t.dataset) else { continue };
            if readers.len() >= MAX_PER_DATASET as usize {
                continue;
            }
            plan.by_query[qi] = Some(DeferredScan { scan: si, dataset: t.dataset, bit: readers.len() as u32 });
            readers.push(qi);
            let columns = &mut plan.columns[t.dataset];
            columns.extend(read_columns(t));
            columns.sort_unstable();
            columns.dedup();
        }
        plan.readers = std::sync::Arc::new(all_readers);
        plan
    }

    /// The bit of scan `si` of query `qi` when it is deferred.
    pub fn bit(&self, qi: usize, si: usize) -> Option<u32> {
        self.by_query.get(qi).copied().flatten().filter(|d| d.scan == si).map(|d| d.bit)
    }

    pub fn is_deferred(&self, qi: usize, si: usize) -> bool {
        self.bit(qi, si).is_some()
    }

    /// One empty log per dataset.
    pub fn new_logs(&self) -> Vec<RowLog> {
        self.columns
            .iter()
            .zip(self.readers.iter())
            .map(|(c, r)| if r.is_empty() { RowLog::default() } else { RowLog::new(c.len()) })
            .collect()
    }
}

/// The dataset columns a tstats scan reads: its by-fields and aggregate inputs.
fn read_columns(t: &TstatsScan) -> impl Iterator<Item = usize> + '_ {
    let by = t.by.iter().filter_map(|(_, f)| if let FieldRef::Column(i) = f { Some(*i) } else { None });
    let aggs = t.aggs.iter().filter_map(|a| if let AggInput::Field(FieldRef::Column(i)) = &a.input { Some(*i) } else { None });
    by.chain(aggs)
}

/// A deferred scan's logged rows, as its query finishes.
pub(crate) struct LoggedScan<'a> {
    pub log: &'a RowLog,
    /// The state's symbols, which the log's ids in memory refer to.
    pub symbols: &'a Symbols,
    pub bit: u32,
    /// The dataset columns the log keeps, sorted (a column's place is its slot in a row).
    pub columns: &'a [usize],
    pub key_filter: Option<&'a KeyFilter>,
    /// The context key filters run in during the scan.
    pub ctx: &'a EvalContext,
}

/// Groups built from a log, with the texts their keys refer to.
pub(crate) struct Built {
    pub groups: Groups,
    pub symbols: Symbols,
    /// Keys the scan's rows stand for, admitted or not (a bound on its distinct keys).
    pub keys: u64,
}

impl LoggedScan<'_> {
    /// Rows the scan kept (a bound on its groups, reached when each row is a process).
    pub fn kept(&self) -> u64 {
        self.log.kept(self.bit)
    }

    /// Builds the groups of scan `t` (of a query whose root operators are `ops`) over the
    /// logged rows it kept, each row's keys only if `admit` takes them; as the scan would
    /// have built them.
    pub fn build(&self, t: &TstatsScan, ops: &[Op], admit: Admit) -> Result<Built, ExecError> {
        let mut built = Built { groups: Groups::default(), symbols: Symbols::default(), keys: 0 };
        let slots: Vec<Option<usize>> = t.by.iter().map(|(_, f)| self.slot(f)).collect();
        let agg_slots: Vec<Option<usize>> =
            t.aggs.iter().map(|a| if let AggInput::Field(f) = &a.input { self.slot(f) } else { None }).collect();
        let mask = 1u64 << self.bit;
        // Buffers reused across rows (texts are per row: emptied into a new lifetime).
        let by_time = t.by.iter().any(|(_, f)| matches!(f, FieldRef::Time));
        let mut scratch = Scratch { by_time, slots, agg_slots, ..Scratch::default() };
        self.log
            .for_each_row(self.symbols, |row| {
                if row.mask & mask != 0 {
                    self.add_row(t, ops, row, admit, &mut built, &mut scratch);
                }
                Ok(())
            })
            .map_err(|e| ExecError(format!("reading back rows logged to disk: {e}")))?;
        Ok(built)
    }

    fn slot(&self, f: &FieldRef) -> Option<usize> {
        let FieldRef::Column(i) = f else { return None };
        self.columns.binary_search(i).ok()
    }

    /// Adds a logged row to the groups of its keys that `admit` takes (see `Engine::feed_row`).
    fn add_row(&self, t: &TstatsScan, ops: &[Op], row: &LoggedRow, admit: Admit, built: &mut Built, scratch: &mut Scratch) {
        // A null by-field drops the row; its keys count toward the bound, admitted or not.
        let Some(count) = key_count(t, row, &scratch.slots) else { return };
        built.keys = built.keys.saturating_add(count);
        if count > MAX_GROUPS as u64 {
            built.groups.overflow = true;
            return;
        }
        if admit.reads.is_some_and(|reads| !may_admit(t, row, reads, admit.test, scratch)) {
            return;
        }
        let secs = row.time.div_euclid(1_000_000);
        let mut buf = [0u8; DECIMAL_LEN + 1];
        let time = if scratch.by_time { time_text(t, row, &mut buf) } else { "" };
        let mut items = recycle(std::mem::take(&mut scratch.texts));
        key_texts(t, row, (&scratch.slots, time), |_| true, &mut items, &mut scratch.ranges);
        let agg_slots = &scratch.agg_slots;
        for_each_key(&items, &scratch.ranges, |key| {
            if (admit.test)(key) {
                self.add_to_group(t, ops, key, row, (secs, agg_slots), built);
            }
        });
        scratch.texts = recycle(items);
    }

    fn add_to_group(
        &self,
        t: &TstatsScan,
        ops: &[Op],
        key: &[&str],
        row: &LoggedRow,
        (secs, agg_slots): (i64, &[Option<usize>]),
        built: &mut Built,
    ) {
        let ids: Vec<u32> = key.iter().map(|k| built.symbols.intern(k)).collect();
        let states = match self.key_filter {
            None => Some(built.groups.entry(&ids, &t.aggs)),
            Some(f) => {
                let admits = |_: &[u32]| f.admits(ops, |i| key.get(i).copied().unwrap_or(""), self.ctx);
                built.groups.entry_if(&ids, &t.aggs, f.decides(), admits)
            }
        };
        let Some(states) = states else { return };
        let mut texts: Vec<&str> = Vec::new();
        for ((st, spec), slot) in states.iter_mut().zip(&t.aggs).zip(agg_slots) {
            feed_logged_agg(st, spec, row, secs, *slot, &mut texts);
        }
    }
}

/// Which keys of a deferred scan become groups.
#[derive(Clone, Copy)]
pub(crate) struct Admit<'a> {
    /// Whether a key (its by-fields' texts, in order) is admitted.
    pub test: &'a dyn Fn(&[&str]) -> bool,
    /// The key positions `test` reads, when it reads only those: a row none of whose keys
    /// passes on them (its other positions "") is skipped before its other texts are read.
    pub reads: Option<&'a [usize]>,
}

impl Admit<'_> {
    /// Every key.
    pub const ALL: Admit<'static> = Admit { test: &admit_all, reads: None };
}

fn admit_all(_: &[&str]) -> bool {
    true
}

/// How many keys a logged row stands for (the product of its by-fields' item counts), or
/// `None` when a null by-field without a `fillnull_value` drops it.
fn key_count(t: &TstatsScan, row: &LoggedRow, slots: &[Option<usize>]) -> Option<u64> {
    let mut count = 1u64;
    for ((_, f), slot) in t.by.iter().zip(slots) {
        let n = match (f, slot) {
            (FieldRef::Time, _) => 1,
            (_, Some(slot)) => row.count(*slot),
            _ => 0,
        };
        let n = if n == 0 { t.fillnull.as_ref().map(|_| 1)? } else { n };
        count = count.saturating_mul(n as u64);
    }
    Some(count)
}

/// The text of a row's `_time` as a by-field (its span's start when the scan has one).
fn time_text<'b>(t: &TstatsScan, row: &LoggedRow, buf: &'b mut [u8; DECIMAL_LEN + 1]) -> &'b str {
    match t.span {
        Some(span) => decimal_i64(row.time.div_euclid(span) * span / 1_000_000, buf),
        None => decimal_i64(row.time.div_euclid(1_000_000), buf),
    }
}

/// Appends each by-field's texts to `items` (a null one's: the `fillnull_value`) and their
/// range to `ranges`; a position `wanted` refuses gets one "" instead. `time` is the
/// `_time` text. Only for rows [`key_count`] keeps.
fn key_texts<'r>(
    t: &'r TstatsScan,
    row: &'r LoggedRow,
    (slots, time): (&[Option<usize>], &'r str),
    wanted: impl Fn(usize) -> bool,
    items: &mut Vec<&'r str>,
    ranges: &mut Vec<(usize, usize)>,
) {
    ranges.clear();
    for (i, ((_, f), slot)) in t.by.iter().zip(slots).enumerate() {
        let start = items.len();
        match (f, slot) {
            _ if !wanted(i) => items.push(""),
            (FieldRef::Time, _) => items.push(time),
            (_, Some(slot)) => row.texts(*slot, items),
            _ => {}
        }
        if items.len() == start {
            items.push(t.fillnull.as_deref().unwrap_or(""));
        }
        ranges.push((start, items.len()));
    }
}

/// Calls `f` with every key of a row whose by-fields' texts are the `ranges` of `items`.
fn for_each_key(items: &[&str], ranges: &[(usize, usize)], f: impl FnMut(&[&str])) {
    if items.len() == ranges.len() {
        // One text per by-field: the texts are the only key.
        let mut f = f;
        return f(items);
    }
    let lists: Vec<&[&str]> = ranges.iter().map(|&(s, e)| &items[s..e]).collect();
    for_each_combination(&lists, "", f);
}

/// Whether a row has a key that `test` may admit, reading only the texts of the by-fields
/// at `reads` (which alone decide `test`).
fn may_admit(t: &TstatsScan, row: &LoggedRow, reads: &[usize], test: &dyn Fn(&[&str]) -> bool, scratch: &mut Scratch) -> bool {
    let mut buf = [0u8; DECIMAL_LEN + 1];
    let reads_time = reads.iter().any(|&i| matches!(t.by.get(i), Some((_, FieldRef::Time))));
    let time = if reads_time { time_text(t, row, &mut buf) } else { "" };
    let mut items = recycle(std::mem::take(&mut scratch.texts));
    key_texts(t, row, (&scratch.slots, time), |i| reads.contains(&i), &mut items, &mut scratch.ranges);
    let mut admitted = false;
    for_each_key(&items, &scratch.ranges, |key| admitted = admitted || test(key));
    scratch.texts = recycle(items);
    admitted
}

/// Buffers of [`LoggedScan::add_row`] reused across rows.
#[derive(Default)]
struct Scratch {
    /// Whether a by-field is `_time`.
    by_time: bool,
    /// Per by-field and per aggregation: the log slot of the column it reads.
    slots: Vec<Option<usize>>,
    agg_slots: Vec<Option<usize>>,
    texts: Vec<&'static str>,
    ranges: Vec<(usize, usize)>,
}

/// An empty vector of texts of another lifetime, in the same allocation (collecting an
/// emptied vector's iterator reuses it), so a buffer of a row's texts serves every row.
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
}

/// Feeds a logged row's input to one aggregation state, as `feed_row_agg` feeds a row's.
fn feed_logged_agg<'a>(
    st: &mut crate::store::agg::AggState,
    spec: &AggSpec,
    row: &'a LoggedRow,
    secs: i64,
    slot: Option<usize>,
    texts: &mut Vec<&'a str>,
) {
    match (&spec.input, slot) {
        (AggInput::Rows, _) => st.add_row(),
        (AggInput::Field(FieldRef::Time), _) if matches!(st, crate::store::agg::AggState::Extreme { .. }) => {
            st.add_num(spec.func, secs as f64)
        }
        (AggInput::Field(FieldRef::Time), _) => {
            st.add(spec.func, decimal_i64(secs, &mut [0; DECIMAL_LEN + 1]), row.time);
        }
        (AggInput::Field(FieldRef::Column(_)), Some(slot)) => {
            texts.clear();
            row.texts(slot, texts);
            for s in texts.iter() {
                st.add(spec.func, s, row.time);
            }
        }
        _ => {}
    }
}

/// The error of a tstats scan with more than [`MAX_GROUPS`] groups.
pub(crate) fn too_many_tstats_groups() -> ExecError {
    ExecError(format!("tstats: more than {MAX_GROUPS} groups; narrow the search or group by fewer or less distinct fields"))
}

/// Whether a scan whose rows stand for `keys` keys (see [`Built::keys`]) could have passed
/// [`MAX_GROUPS`]: only then are all of its groups counted.
pub(crate) fn may_overflow(keys: u64) -> bool {
    keys > MAX_GROUPS as u64
}

#[cfg(test)]
#[path = "deferred_tests.rs"]
mod tests;
