//! Result rows kept in memory up to a budget and on disk past it.
//!
//! A join subsearch that runs ahead of its join (see `physical::semi_join_first`) yields rows the join needs
//! only where an outer row has the same key, and the outer rows are known only afterwards.
//! Held in memory, those rows grew with the input (one detection held 90 000 process rows,
//! about 200 MB, at 4 GB of events, to join them with no outer row at all). Past its budget a
//! store appends its rows to an unnamed temporary file and reads them back in order when the
//! join asks for the ones it can use.

use crate::error::ExecError;
use crate::store::blocks::{BlockReader, BlockWriter};
use crate::store::spill::{get_f64, get_str, get_strs, get_u32, get_u8, put_f64, put_str, put_strs, put_u32};
use std::io::{BufReader, BufWriter, Seek, SeekFrom};
use vigil_model::{Record, Value};

/// Where rows built one at a time go.
pub(crate) trait RowSink {
    fn put(&mut self, row: Record);
}

impl RowSink for Vec<Record> {
    fn put(&mut self, row: Record) {
        self.push(row);
    }
}

/// Rows in their order, the older ones on disk once the newer ones passed the budget.
pub(crate) struct RowStore {
    memory: Vec<Record>,
    bytes: usize,
    budget: usize,
    disk: Option<Disk>,
    /// Spilling failed (no temporary directory): rows stay in memory.
    in_memory_only: bool,
}

struct Disk {
    /// Rows in compressed blocks (see `store::blocks`): the rows of Sigma rules' matches
    /// are whole events, and most of their text repeats from event to event.
    out: BlockWriter<BufWriter<std::fs::File>>,
    rows: usize,
}

impl RowSink for RowStore {
    fn put(&mut self, row: Record) {
        self.bytes += row_bytes(&row);
        self.memory.push(row);
        if self.bytes > self.budget && !self.in_memory_only {
            if let Err(e) = self.spill() {
                crate::store::spill::spill_warning(&e);
                self.in_memory_only = true;
            }
        }
    }
}

impl RowStore {
    /// A store that keeps about `budget` bytes of rows in memory.
    pub fn new(budget: usize) -> RowStore {
        RowStore { memory: Vec::new(), bytes: 0, budget, disk: None, in_memory_only: false }
    }

    /// Rows already built, those past `budget` bytes moved to disk.
    pub fn with_rows(rows: Vec<Record>, budget: usize) -> RowStore {
        let mut store = RowStore::new(budget);
        rows.into_iter().for_each(|r| store.put(r));
        store
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.memory.len() + self.disk.as_ref().map_or(0, |d| d.rows)
    }

    /// Estimated heap bytes of the rows held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.bytes
    }

    /// Whether putting `row` would take the rows in memory past the budget (and to disk).
    pub fn full_before(&self, row: &Record) -> bool {
        self.bytes + row_bytes(row) > self.budget
    }

    pub fn is_spilled(&self) -> bool {
        self.disk.is_some()
    }

    /// Appends the rows in memory to the file (created on first use).
    fn spill(&mut self) -> std::io::Result<()> {
        let disk = match &mut self.disk {
            Some(d) => d,
            None => {
                let file = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
                self.disk.insert(Disk { out: BlockWriter::new(file, crate::store::spill::count_temp_row_bytes), rows: 0 })
            }
        };
        let mut buf = Vec::new();
        for row in &self.memory {
            buf.clear();
            encode_row(row, &mut buf);
            disk.out.push(&buf)?;
        }
        disk.rows += self.memory.len();
        self.memory.clear();
        self.bytes = 0;
        Ok(())
    }

    /// The rows `keep` accepts, in order (those on disk read back).
    pub fn into_rows_where(self, mut keep: impl FnMut(&Record) -> bool) -> Result<Vec<Record>, ExecError> {
        let mut out = Vec::new();
        self.for_each(|row| {
            if keep(&row) {
                out.push(row);
            }
        })?;
        Ok(out)
    }

    /// Hands the rows on in order, `n` at a time (the last chunk may be shorter; no rows, no
    /// chunk).
    pub fn for_each_chunk(self, n: usize, f: impl FnMut(Vec<Record>)) -> Result<(), ExecError> {
        self.for_each_chunk_within(n, usize::MAX, f)
    }

    /// As [`RowStore::for_each_chunk`], a chunk also ending once its rows' estimated heap
    /// bytes reach `bytes` (rows of whole events are a few KB each).
    pub fn for_each_chunk_within(self, n: usize, bytes: usize, mut f: impl FnMut(Vec<Record>)) -> Result<(), ExecError> {
        let mut chunk = Vec::new();
        let mut held = 0usize;
        self.for_each(|row| {
            held = held.saturating_add(row_bytes(&row));
            chunk.push(row);
            if chunk.len() >= n.max(1) || held >= bytes {
                f(std::mem::take(&mut chunk));
                held = 0;
            }
        })?;
        if !chunk.is_empty() {
            f(chunk);
        }
        Ok(())
    }

    /// Every row in order, those on disk read back first.
    fn for_each(self, mut f: impl FnMut(Record)) -> Result<(), ExecError> {
        if let Some(disk) = self.disk {
            let fail = |e: std::io::Error| ExecError(format!("reading back rows spilled to disk: {e}"));
            let (file, _) = disk.out.finish().map_err(fail)?;
            let mut file = file.into_inner().map_err(|e| fail(e.into_error()))?;
            file.seek(SeekFrom::Start(0)).map_err(fail)?;
            let mut input = BlockReader::new(BufReader::with_capacity(1 << 16, file));
            for _ in 0..disk.rows {
                let damaged = || fail(std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged row"));
                let mut record = input.next_record().map_err(fail)?.ok_or_else(damaged)?;
                let row = decode_row(&mut record).ok_or_else(damaged)?;
                f(row);
            }
        }
        self.memory.into_iter().for_each(f);
        Ok(())
    }
}

/// Estimated heap bytes of a row: its field slots plus the text it owns.
fn row_bytes(row: &Record) -> usize {
    row.iter()
        .map(|(name, v)| {
            let name = if name.len() > 24 { name.len() } else { 0 };
            let value = match v {
                Value::Str(s) => s.len(),
                Value::Multi(items) => items.iter().map(|s| s.len() + 24).sum(),
                Value::Null | Value::Num(_) => 0,
            };
            56 + name + value
        })
        .sum::<usize>()
        + 24
}

pub(crate) fn encode_row(row: &Record, buf: &mut Vec<u8>) {
    put_u32(buf, row.len() as u32);
    for (name, v) in row.iter() {
        put_str(buf, name);
        match v {
            Value::Null => buf.push(0),
            Value::Str(s) => {
                buf.push(1);
                put_str(buf, s);
            }
            Value::Num(n) => {
                buf.push(2);
                put_f64(buf, *n);
            }
            Value::Multi(items) => {
                buf.push(3);
                put_strs(buf, items.len(), items.iter());
            }
        }
    }
}

/// Reads a row written by [`encode_row`]; `None` for damaged bytes (a repeated field name too).
pub(crate) fn decode_row(cur: &mut &[u8]) -> Option<Record> {
    let n = get_u32(cur)? as usize;
    let mut row = Record::with_capacity(n.min(256));
    for _ in 0..n {
        let name = get_str(cur)?;
        let value = match get_u8(cur)? {
            0 => Value::Null,
            1 => Value::Str(get_str(cur)?),
            2 => Value::Num(get_f64(cur)?),
            3 => Value::Multi(get_strs(cur)?),
            _ => return None,
        };
        if row.get(&name).is_some() {
            return None;
        }
        row.push_new(name, value);
    }
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize) -> Record {
        let mut r = Record::new();
        r.push_new("dest".into(), Value::str(format!("host{}", i % 7)));
        r.push_new("count".into(), Value::Num(i as f64 + 0.5));
        r.push_new("empty".into(), Value::Null);
        r.push_new("a_rather_long_field_name_over_24".into(), Value::Multi(vec![format!("x{i}"), String::new()]));
        r
    }

    #[test]
    fn rows_come_back_in_order_whatever_the_budget() {
        let rows: Vec<Record> = (0..1000).map(row).collect();
        for budget in [0, 1, 500, 10_000, 1 << 20, usize::MAX] {
            let mut store = RowStore::new(budget);
            rows.iter().cloned().for_each(|r| store.put(r));
            assert_eq!(store.len(), rows.len());
            assert_eq!(store.is_spilled(), budget <= 10_000, "budget {budget}");
            assert_eq!(store.into_rows_where(|_| true).expect("reads back"), rows, "budget {budget}");
        }
    }

    #[test]
    fn chunks_cover_every_row_once_in_order() {
        for (budget, n) in [(0, 7), (3000, 100), (usize::MAX, 1000), (0, 0)] {
            let mut store = RowStore::new(budget);
            (0..250).map(row).for_each(|r| store.put(r));
            let mut chunks = Vec::new();
            store.for_each_chunk(n, |c| chunks.push(c)).expect("reads");
            assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= n.max(1)));
            assert_eq!(chunks.concat(), (0..250).map(row).collect::<Vec<_>>(), "budget {budget}, n {n}");
        }
    }

    #[test]
    fn chunks_within_bytes_end_early_and_keep_every_row() {
        let mut store = RowStore::new(0);
        (0..250).map(row).for_each(|r| store.put(r));
        let one = row_bytes(&row(0));
        let mut chunks = Vec::new();
        store.for_each_chunk_within(100, one * 10, |c| chunks.push(c)).expect("reads");
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 11), "{:?}", chunks.iter().map(Vec::len).collect::<Vec<_>>());
        assert!(chunks.len() >= 250 / 11);
        assert_eq!(chunks.concat(), (0..250).map(row).collect::<Vec<_>>());
    }

    #[test]
    fn keeps_only_what_the_filter_accepts() {
        let mut store = RowStore::new(0);
        (0..100).map(row).for_each(|r| store.put(r));
        let kept = store.into_rows_where(|r| r.get("dest").and_then(Value::as_text).is_some_and(|t| t == "host3")).expect("reads");
        let expected: Vec<Record> = (0..100).map(row).filter(|r| r.value("dest").to_string() == "host3").collect();
        assert_eq!(kept, expected);
        assert_eq!(kept.len(), 14);
    }

    #[test]
    fn a_damaged_row_is_refused_not_misread() {
        let mut buf = Vec::new();
        encode_row(&row(3), &mut buf);
        for cut in 0..buf.len() {
            assert!(decode_row(&mut &buf[..cut]).is_none(), "cut at {cut}");
        }
        assert_eq!(decode_row(&mut buf.as_slice()), Some(row(3)));
    }
}
