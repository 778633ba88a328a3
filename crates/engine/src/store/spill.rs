//! Group states written to disk when a scan's groups outgrow the memory budget.
//!
//! Hunting detections group every process by its command line, so their groups grow with
//! the input. When a scan state's groups pass the budget, every table is written out as a
//! *run*: its groups sorted by key text, with their aggregation states. The tables and the
//! symbol texts are then dropped, and the scan goes on. At the end a query merges its runs
//! and what is left in memory in key order (the order its result rows have anyway), combining
//! the states of a key found in several runs, earliest run first. Runs are written in
//! compressed blocks (`store::blocks`).

use crate::store::agg::{AggSpec, AggState};
use crate::store::blocks::{BlockReader, BlockWriter, RUN_LEVEL};
use crate::store::key_bytes::KeyBytes;
use crate::store::run_codec;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

/// A temporary file that runs are appended to (deleted when the last run is dropped).
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: Mutex<tempfile::NamedTempFile>,
}

/// One sorted run of groups inside a spill file.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    file: Arc<SpillFile>,
    offset: u64,
    len: u64,
}

impl SpillFile {
    pub fn new() -> std::io::Result<Arc<SpillFile>> {
        Ok(Arc::new(SpillFile { file: Mutex::new(tempfile::NamedTempFile::new()?) }))
    }

    /// Appends groups (already sorted by key) as one run.
    pub fn write_run<'a>(self: &Arc<Self>, groups: impl Iterator<Item = (Vec<&'a str>, &'a [AggState])>) -> std::io::Result<Run> {
        self.write_run_with(|put| groups.into_iter().try_for_each(|(key, states)| put(&key, states)))
    }

    /// Appends one run of the groups `fill` hands to its argument (in key order).
    fn write_run_with<K: AsRef<[u8]>>(
        self: &Arc<Self>,
        fill: impl FnOnce(&mut dyn FnMut(&[K], &[AggState]) -> std::io::Result<()>) -> std::io::Result<()>,
    ) -> std::io::Result<Run> {
        self.append_run(|out| {
            let (mut batch, mut buf) = (run_codec::BatchWriter::default(), Vec::new());
            fill(&mut |key, states| {
                if !batch.fits(key.len()) {
                    buf.clear();
                    batch.take(&mut buf);
                    out.push(&buf)?;
                }
                batch.push(key, states);
                if batch.bytes() >= run_codec::BATCH_BYTES {
                    buf.clear();
                    batch.take(&mut buf);
                    out.push(&buf)?;
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                buf.clear();
                batch.take(&mut buf);
                out.push(&buf)?;
            }
            Ok(())
        })
    }

    /// Appends the records `fill` hands to its argument, in order, as one run of compressed
    /// blocks (read back with [`Run::for_each_record`]): rows of a scan's row log.
    pub fn write_records(
        self: &Arc<Self>,
        fill: impl FnOnce(&mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()>,
    ) -> std::io::Result<Run> {
        self.append_run(|out| fill(&mut |record| out.push(record)))
    }

    /// Appends one run of compressed blocks, written by `write`, at the end of the file.
    fn append_run(
        self: &Arc<Self>,
        write: impl FnOnce(&mut BlockWriter<BufWriter<&mut std::fs::File>>) -> std::io::Result<()>,
    ) -> std::io::Result<Run> {
        let mut guard = self.file.lock().map_err(|_| std::io::Error::other("spill file lock poisoned"))?;
        let file = guard.as_file_mut();
        let offset = file.seek(SeekFrom::End(0))?;
        let mut out =
            BlockWriter::with_block_bytes(BufWriter::with_capacity(1 << 16, file), count_temp_bytes, RUN_BLOCK_BYTES).at_level(RUN_LEVEL);
        write(&mut out)?;
        let (_, len) = out.finish()?;
        Ok(Run { file: self.clone(), offset, len })
    }
}

/// Bytes written to temporary files by this process: spilled groups (and their merges), and
/// rows (join subsearches, outputs waiting to be printed).
static GROUP_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ROW_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn count_temp_bytes(n: u64) {
    GROUP_BYTES.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn count_temp_row_bytes(n: u64) {
    ROW_BYTES.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// Bytes written to temporary files so far: (groups, rows), for `--verbose`.
pub fn temp_bytes_written() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (GROUP_BYTES.load(Relaxed), ROW_BYTES.load(Relaxed))
}

/// Uncompressed bytes of a run's blocks: sixteen times the rows' blocks, as zstd finds more
/// repeats among more key texts of a kind (see `store::run_codec`), while a merge holds one
/// block per run it reads ([`FAN_IN`] is lower to match).
const RUN_BLOCK_BYTES: usize = 512 << 10;

/// Memory for the read buffers of one merge (each run gets a share, 4 to 64 KiB; each reader
/// also holds one block of `RUN_BLOCK_BYTES` uncompressed, see `store::blocks`).
const READ_BUFFERS: usize = 4 << 20;

/// Most runs merged at once. A table spilled a thousand times (8 GB of events) held a 64 KiB
/// buffer per run in every merge before buffers shared [`READ_BUFFERS`]; past this many runs
/// even 4 KiB each adds up, and runs are first merged into longer ones. Each reader also
/// holds a block of [`RUN_BLOCK_BYTES`] (and its compressed form and a batch): 64 readers
/// hold about 55 MiB at most.
pub(crate) const FAN_IN: usize = 64;

/// Merges neighbouring runs, oldest first and at most [`FAN_IN`] at a time (each into a new
/// temporary file), until at most `FAN_IN` are left, rewriting no more than that takes.
/// Neighbouring runs merge in order, so states still combine earliest run first, as one merge
/// of all would. A merged run is not merged again in the same pass, so every group is
/// rewritten about log(runs) / log(FAN_IN) times, not once per `FAN_IN` runs.
pub(crate) fn compact(mut runs: Vec<Run>, aggs: &[AggSpec]) -> std::io::Result<Vec<Run>> {
    while runs.len() > FAN_IN {
        let mut merged: Vec<Run> = Vec::new();
        let mut at = 0;
        while at < runs.len() {
            let excess = (merged.len() + runs.len() - at).saturating_sub(FAN_IN);
            if excess == 0 {
                break;
            }
            // Merging n runs into one leaves n - 1 fewer.
            let take = (excess + 1).min(FAN_IN).min(runs.len() - at);
            merged.push(merge_into_one(&runs[at..at + take], aggs)?);
            at += take;
        }
        merged.extend(runs.drain(at..));
        runs = merged;
    }
    Ok(runs)
}

/// Merges `runs` into one run in a new temporary file.
fn merge_into_one(runs: &[Run], aggs: &[AggSpec]) -> std::io::Result<Run> {
    // A new file each time: the runs read may include one written in this file before, and a
    // file is locked while a run is written to it.
    let file = SpillFile::new()?;
    file.write_run_with(|put| {
        merge(runs, Vec::new(), aggs, |key, states| {
            // Owned: the writer's part type outlives each key (runs are compacted rarely).
            let parts: Vec<Vec<u8>> = key.parts().map(<[u8]>::to_vec).collect();
            put(&parts, &states)
        })
    })
}

impl Run {
    /// Bytes of the run on disk.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads the run's groups back, in key order, until `f` fails.
    pub(crate) fn for_each_group(&self, mut f: impl FnMut(KeyBytes, Vec<AggState>) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut reader = self.reader(64 << 10)?;
        while let Some((key, states)) = reader.next_group()? {
            f(key, states)?;
        }
        Ok(())
    }

    /// Reads back the records of a run written by [`SpillFile::write_records`], in order.
    pub(crate) fn for_each_record(&self, mut f: impl FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut reader = self.reader(64 << 10)?;
        while let Some(record) = reader.blocks.next_record()? {
            f(record)?;
        }
        Ok(())
    }

    fn reader(&self, buffer: usize) -> std::io::Result<RunReader> {
        let guard = self.file.file.lock().map_err(|_| std::io::Error::other("spill file lock poisoned"))?;
        // An independent handle, so runs of one file are read side by side.
        let mut f = guard.reopen()?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(RunReader { blocks: BlockReader::new(BufReader::with_capacity(buffer, f).take(self.len)), batch: Default::default() })
    }
}

struct RunReader {
    blocks: BlockReader<std::io::Take<BufReader<std::fs::File>>>,
    /// The batch of groups being read (see `store::run_codec`).
    batch: run_codec::BatchReader,
}

/// A group read back: key texts and states.
type Group = run_codec::SpilledGroup;

impl RunReader {
    fn next_group(&mut self) -> std::io::Result<Option<Group>> {
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged spill run");
        loop {
            if let Some(group) = self.batch.next().map_err(|()| bad())? {
                return Ok(Some(group));
            }
            let Some(record) = self.blocks.next_record()? else { return Ok(None) };
            self.batch.start(record).ok_or_else(bad)?;
        }
    }
}

/// One source in the merge: its current group and its rank (earlier runs merge first).
struct Head {
    group: Group,
    rank: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    // Reversed: BinaryHeap pops the greatest, the merge wants the smallest key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.group.0.cmp(&self.group.0).then(other.rank.cmp(&self.rank))
    }
}

/// Says once per run that data stays in memory because no temporary file can be written.
pub(crate) fn spill_warning(e: &std::io::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| eprintln!("vigil: cannot spill to a temporary file ({e}); continuing in memory"));
}

/// Merges runs and sorted in-memory groups (ranked after the runs) in key order, calling `f`
/// once per distinct key with the combined states, until `f` fails.
pub(crate) fn merge(
    runs: &[Run],
    memory: Vec<Group>,
    aggs: &[AggSpec],
    mut f: impl FnMut(KeyBytes, Vec<AggState>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // The read buffers of one merge share a fixed amount of memory, whatever the run count.
    let buffer = (READ_BUFFERS / runs.len().max(1)).clamp(4 << 10, 64 << 10);
    let mut readers = runs.iter().map(|r| r.reader(buffer)).collect::<std::io::Result<Vec<_>>>()?;
    let mut memory = memory.into_iter();
    let mut heap = BinaryHeap::new();
    let mut next = |rank: usize, readers: &mut Vec<RunReader>| -> std::io::Result<Option<Head>> {
        let group = match readers.get_mut(rank) {
            Some(r) => r.next_group()?,
            None => memory.next(),
        };
        Ok(group.map(|group| Head { group, rank }))
    };
    for rank in 0..=readers.len() {
        if let Some(h) = next(rank, &mut readers)? {
            heap.push(h);
        }
    }
    while let Some(Head { group: (key, mut states), rank }) = heap.pop() {
        if let Some(h) = next(rank, &mut readers)? {
            heap.push(h);
        }
        while heap.peek().is_some_and(|h| h.group.0 == key) {
            let Some(Head { group: (_, other), rank }) = heap.pop() else { break };
            for ((mine, theirs), spec) in states.iter_mut().zip(other).zip(aggs) {
                mine.merge(spec.func, theirs);
            }
            if let Some(h) = next(rank, &mut readers)? {
                heap.push(h);
            }
        }
        f(key, states)?;
    }
    Ok(())
}

pub(crate) fn put_u32(buf: &mut Vec<u8>, n: u32) {
    buf.extend_from_slice(&n.to_le_bytes());
}

pub(crate) fn put_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&n.to_le_bytes());
}

pub(crate) fn put_f64(buf: &mut Vec<u8>, x: f64) {
    put_u64(buf, x.to_bits());
}

pub(crate) fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_u32(buf, s.len() as u32);
    buf.extend_from_slice(s.as_bytes());
}

pub(crate) fn put_strs<'a>(buf: &mut Vec<u8>, n: usize, items: impl Iterator<Item = &'a String>) {
    put_u32(buf, n as u32);
    items.for_each(|s| put_str(buf, s));
}

fn take<'a>(cur: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if cur.len() < n {
        return None;
    }
    let (head, rest) = cur.split_at(n);
    *cur = rest;
    Some(head)
}

pub(crate) fn get_u8(cur: &mut &[u8]) -> Option<u8> {
    take(cur, 1).map(|b| b[0])
}

pub(crate) fn get_u32(cur: &mut &[u8]) -> Option<u32> {
    take(cur, 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
}

pub(crate) fn get_u64(cur: &mut &[u8]) -> Option<u64> {
    take(cur, 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
}

pub(crate) fn get_f64(cur: &mut &[u8]) -> Option<f64> {
    get_u64(cur).map(f64::from_bits)
}

pub(crate) fn get_str(cur: &mut &[u8]) -> Option<String> {
    let n = get_u32(cur)? as usize;
    String::from_utf8(take(cur, n)?.to_vec()).ok()
}

pub(crate) fn get_strs(cur: &mut &[u8]) -> Option<Vec<String>> {
    let n = get_u32(cur)?;
    (0..n).map(|_| get_str(cur)).collect()
}

pub(crate) fn encode_state(st: &AggState, buf: &mut Vec<u8>) {
    match st {
        AggState::Count(c) => {
            buf.push(0);
            put_u64(buf, *c);
        }
        AggState::Distinct(s) => {
            buf.push(1);
            let s = s.as_deref();
            put_strs(buf, s.map_or(0, crate::store::agg::TextSet::len), s.into_iter().flatten());
        }
        AggState::Values(v) => {
            buf.push(2);
            put_strs(buf, v.len(), v.iter());
        }
        AggState::ValuesBig(s) => {
            buf.push(2);
            put_strs(buf, s.len(), crate::store::agg::sorted_refs(s).into_iter());
        }
        AggState::List(v) => {
            buf.push(3);
            put_strs(buf, v.len(), v.iter());
        }
        AggState::Extreme { num, has_num, any_text, text } => {
            buf.push(4);
            buf.push(u8::from(*has_num) | u8::from(text.is_some()) << 1 | u8::from(*any_text) << 2);
            put_f64(buf, if *has_num { *num } else { 0.0 });
            put_str(buf, text.as_deref().unwrap_or(""));
        }
        AggState::Sum { sum, n } => {
            buf.push(5);
            put_f64(buf, *sum);
            put_u64(buf, *n);
        }
        AggState::Range { min, max, n } => {
            buf.push(6);
            put_f64(buf, *min);
            put_f64(buf, *max);
            put_u64(buf, *n);
        }
        AggState::Timed(v) => {
            buf.push(7);
            buf.push(u8::from(v.is_some()));
            let (t, s) = v.as_ref().map(|(t, s)| (*t, &**s)).unwrap_or((0, ""));
            put_u64(buf, t as u64);
            put_str(buf, s);
        }
        AggState::Stdev { n, mean, m2 } => {
            buf.push(8);
            put_u64(buf, *n);
            put_f64(buf, *mean);
            put_f64(buf, *m2);
        }
    }
}

pub(crate) fn decode_state(cur: &mut &[u8]) -> Option<AggState> {
    Some(match get_u8(cur)? {
        0 => AggState::Count(get_u64(cur)?),
        1 => AggState::distinct_of(get_strs(cur)?),
        2 => AggState::values_of(get_strs(cur)?),
        3 => AggState::List(get_strs(cur)?),
        4 => {
            let flags = get_u8(cur)?;
            let num = get_f64(cur)?;
            let text = get_str(cur)?;
            let has_num = flags & 1 != 0;
            let text = (flags & 2 != 0).then(|| text.into_boxed_str());
            AggState::Extreme { num: if has_num { num } else { 0.0 }, has_num, any_text: flags & 4 != 0, text }
        }
        5 => AggState::Sum { sum: get_f64(cur)?, n: get_u64(cur)? },
        6 => AggState::Range { min: get_f64(cur)?, max: get_f64(cur)?, n: get_u64(cur)? },
        7 => {
            let some = get_u8(cur)? != 0;
            let t = get_u64(cur)? as i64;
            let s = get_str(cur)?;
            AggState::Timed(some.then(|| (t, s.into_boxed_str())))
        }
        8 => AggState::Stdev { n: get_u64(cur)?, mean: get_f64(cur)?, m2: get_f64(cur)? },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::agg::{AggFunc, AggInput};

    fn spec(func: AggFunc) -> AggSpec {
        AggSpec { func, input: AggInput::Rows, name: "x".into() }
    }

    #[test]
    fn every_state_survives_the_round_trip() {
        let funcs = [
            AggFunc::Count,
            AggFunc::Dc,
            AggFunc::Values,
            AggFunc::List,
            AggFunc::Min,
            AggFunc::Max,
            AggFunc::Avg,
            AggFunc::Range,
            AggFunc::Latest,
            AggFunc::First,
            AggFunc::Stdev,
        ];
        for f in funcs {
            let mut st = AggState::new(f);
            for (i, item) in ["3", "b", "1.5", "a", "3"].iter().enumerate() {
                st.add(f, item, i as i64 * 10);
            }
            let mut buf = Vec::new();
            encode_state(&st, &mut buf);
            let back = decode_state(&mut buf.as_slice()).expect("decodes");
            assert_eq!(format!("{:?}", back.finish(f)), format!("{:?}", st.clone().finish(f)), "{f:?}");
            // The compact form of runs.
            let mut buf = Vec::new();
            run_codec::put_state(&mut buf, &st);
            let mut cur = buf.as_slice();
            let back = run_codec::get_state(&mut cur).expect("decodes");
            assert!(cur.is_empty(), "{f:?}");
            assert_eq!(format!("{:?}", back.finish(f)), format!("{:?}", st.clone().finish(f)), "{f:?}");
            for cut in 0..buf.len() {
                assert!(run_codec::get_state(&mut &buf[..cut]).is_none(), "{f:?} cut at {cut}");
            }
        }
        assert!(decode_state(&mut [9u8].as_slice()).is_none());
        assert!(decode_state(&mut [0u8, 1].as_slice()).is_none());
    }

    #[test]
    fn compacted_runs_merge_like_the_runs_they_replace() {
        let file = SpillFile::new().expect("temp file");
        let aggs = [spec(AggFunc::Count), spec(AggFunc::List)];
        // More runs than one merge takes: key k{i % 7} in run i, so every key is in many runs.
        let runs: Vec<Run> = (0..2 * FAN_IN + 100)
            .map(|i| {
                let mut count = AggState::new(AggFunc::Count);
                count.add_row();
                let mut list = AggState::new(AggFunc::List);
                list.add(AggFunc::List, &format!("v{i}"), 0);
                let key = format!("k{:02}", i % 7);
                let states = [count, list];
                file.write_run(std::iter::once((vec![key.as_str()], &states[..]))).expect("write")
            })
            .collect();
        let collect = |runs: &[Run]| {
            let mut out = Vec::new();
            merge(runs, Vec::new(), &aggs, |k, s| {
                out.push((k.texts()?.join("|"), s[0].clone().finish(AggFunc::Count), s[1].clone().finish(AggFunc::List)));
                Ok(())
            })
            .expect("merge");
            out
        };
        let compacted = compact(runs.clone(), &aggs).expect("compact");
        assert_eq!(compacted.len(), FAN_IN);
        assert_eq!(collect(&compacted), collect(&runs));
        assert_eq!(collect(&runs).len(), 7);
    }

    #[test]
    fn runs_merge_in_key_order_combining_states() {
        let file = SpillFile::new().expect("temp file");
        let aggs = [spec(AggFunc::Count)];
        let count = |n| vec![AggState::Count(n)];
        let (a, b, c) = (count(1), count(2), count(4));
        let run1 = file.write_run([(vec!["a", "x"], a.as_slice()), (vec!["c", "x"], b.as_slice())].into_iter()).expect("run");
        let run2 = file.write_run([(vec!["a", "x"], c.as_slice()), (vec!["b", "y"], a.as_slice())].into_iter()).expect("run");
        let memory = vec![(KeyBytes::of_texts(["b", "y"].into_iter()), count(10)), (KeyBytes::of_texts(["d", "z"].into_iter()), count(1))];
        let mut out = Vec::new();
        merge(&[run1, run2], memory, &aggs, |k, s| {
            out.push((k.texts()?.join("|"), s[0].clone().finish(AggFunc::Count)));
            Ok(())
        })
        .expect("merge");
        let got: Vec<String> = out.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(got, ["a|x=5", "b|y=11", "c|x=2", "d|z=1"]);
    }
}
