//! The row log of a dataset: the rows its deferred scans kept, each logged once.
//!
//! A tstats scan that an inner join's subsearch filters (see `physical::semi_join_first`)
//! grouped every process only for the join to drop nearly all groups after the scan; those
//! groups were a third of the scan's spilling. Such a scan builds nothing while the input is
//! read: a row that passes its filter is logged (once for all the deferred scans of its
//! dataset, with a bit per scan it passed), and after the scan each query builds only the
//! groups its subsearch's keys admit from the rows with its bit.
//!
//! A logged cell is the symbol id of the column's text (as `column_part` interns it),
//! [`NULL_CELL`], or, with [`MULTI`] set, the index of a multivalue's id list. Past the memory
//! budget the rows go to the state's spill file as texts, since their ids die with the symbol
//! table; they are read back first (oldest run first), then the rows in memory.

use crate::store::groups::KeyPart;
use crate::store::spill::{get_str, get_u32, get_u64, put_str, put_u32, put_u64, Run, SpillFile};
use crate::store::symbols::{Symbols, Translation};
use std::sync::Arc;
use vigil_model::Micros;

/// A null cell (a missing column, or an empty multivalue).
const NULL_CELL: u32 = u32::MAX;
/// Marks a multivalue cell; the other bits index `RowLog::multis`. Symbol ids stay far below
/// it (a table of 2^31 texts would not fit the memory budget).
const MULTI: u32 = 1 << 31;

/// Logged rows of one dataset, in input order.
#[derive(Debug, Default)]
pub(crate) struct RowLog {
    /// Cells per row: the dataset's logged columns (see `Engine`'s deferred scans).
    width: usize,
    cells: Vec<u32>,
    times: Vec<Micros>,
    /// Per row: which deferred scans' filters it passed (bit = the scan's place on its dataset).
    masks: Vec<u64>,
    multis: Vec<Box<[u32]>>,
    multi_bytes: usize,
    /// Per deferred scan (bit): the rows it kept, on disk and in memory.
    kept: Vec<u64>,
    /// Rows written to disk, oldest first.
    runs: Vec<Run>,
    spilled_rows: u64,
    /// Whether the dataset has deferred scans (only then is the log written in a state's bytes).
    in_use: bool,
}

/// A logged row as its finishing reads it: its time, mask and cells' texts.
pub(crate) struct LoggedRow<'a> {
    pub time: Micros,
    pub mask: u64,
    cells: Cells<'a>,
}

enum Cells<'a> {
    Ids { cells: &'a [u32], multis: &'a [Box<[u32]>], symbols: &'a Symbols },
    Texts(&'a [Vec<String>]),
}

impl LoggedRow<'_> {
    /// How many texts [`LoggedRow::texts`] gives for the cell at `slot`, without reading them.
    pub fn count(&self, slot: usize) -> usize {
        match &self.cells {
            Cells::Ids { cells, multis, .. } => match cells.get(slot).copied() {
                None | Some(NULL_CELL) => 0,
                Some(c) if c & MULTI != 0 => multis.get((c & !MULTI) as usize).map_or(0, |ids| ids.len()),
                Some(_) => 1,
            },
            Cells::Texts(cells) => cells.get(slot).map_or(0, Vec::len),
        }
    }

    /// Appends the texts of the cell at `slot` to `out`: none for null, one, or a
    /// multivalue's items.
    pub fn texts<'s>(&'s self, slot: usize, out: &mut Vec<&'s str>) {
        match &self.cells {
            Cells::Ids { cells, multis, symbols } => match cells.get(slot).copied() {
                None | Some(NULL_CELL) => {}
                Some(c) if c & MULTI != 0 => {
                    out.extend(multis.get((c & !MULTI) as usize).into_iter().flat_map(|ids| ids.iter().map(|&id| symbols.text(id))))
                }
                Some(id) => out.push(symbols.text(id)),
            },
            Cells::Texts(cells) => out.extend(cells.get(slot).into_iter().flatten().map(String::as_str)),
        }
    }
}

impl RowLog {
    /// The log of a dataset whose deferred scans read `width` columns.
    pub fn new(width: usize) -> RowLog {
        RowLog { width, in_use: true, ..RowLog::default() }
    }

    /// Whether the dataset has deferred scans.
    pub fn in_use(&self) -> bool {
        self.in_use
    }

    /// Rows the deferred scan of this `bit` kept.
    pub fn kept(&self, bit: u32) -> u64 {
        self.kept.get(bit as usize).copied().unwrap_or(0)
    }

    fn count_kept(&mut self, mask: u64) {
        let mut rest = mask;
        while rest != 0 {
            let bit = rest.trailing_zeros() as usize;
            if self.kept.len() <= bit {
                self.kept.resize(bit + 1, 0);
            }
            self.kept[bit] += 1;
            rest &= rest - 1;
        }
    }

    /// Rows logged, on disk and in memory.
    pub fn rows(&self) -> u64 {
        self.spilled_rows + self.masks.len() as u64
    }

    #[cfg(test)]
    pub fn spilled_rows(&self) -> u64 {
        self.spilled_rows
    }

    /// Estimated heap bytes of the rows in memory.
    pub fn bytes(&self) -> usize {
        self.cells.len() * 4 + self.times.len() * 8 + self.masks.len() * 8 + self.multi_bytes
    }

    /// Empties the log for reuse, keeping its allocations.
    pub fn clear_for_reuse(&mut self) {
        self.cells.clear();
        self.times.clear();
        self.masks.clear();
        self.multis.clear();
        self.multi_bytes = 0;
        self.runs.clear();
        self.spilled_rows = 0;
        self.kept.clear();
    }

    /// Logs a row: its logged columns as key parts (as `column_part` makes them; `None`:
    /// null), its time, and the deferred scans it passed.
    pub fn push(&mut self, cells: impl Iterator<Item = Option<KeyPart>>, time: Micros, mask: u64) {
        for part in cells {
            let cell = match part {
                None => NULL_CELL,
                Some(KeyPart::One(id)) => id,
                Some(KeyPart::Many(ids)) => self.push_multi(ids.into_boxed_slice()),
            };
            self.cells.push(cell);
        }
        self.times.push(time);
        self.masks.push(mask);
        self.count_kept(mask);
    }

    fn push_multi(&mut self, ids: Box<[u32]>) -> u32 {
        self.multi_bytes += 16 + ids.len() * 4;
        self.multis.push(ids);
        (self.multis.len() - 1) as u32 | MULTI
    }

    /// Adds the rows of another state's log (which come after these), whose ids `tr`
    /// translates into `symbols`.
    pub fn append(&mut self, other: RowLog, tr: &mut Translation, symbols: &mut Symbols) {
        self.runs.extend(other.runs);
        self.spilled_rows += other.spilled_rows;
        if self.kept.len() < other.kept.len() {
            self.kept.resize(other.kept.len(), 0);
        }
        self.kept.iter_mut().zip(&other.kept).for_each(|(k, o)| *k += o);
        for cell in other.cells {
            let mine = match cell {
                NULL_CELL => NULL_CELL,
                c if c & MULTI != 0 => {
                    let items = other.multis.get((c & !MULTI) as usize).map_or(&[][..], |b| &b[..]);
                    let ids: Box<[u32]> = items.iter().map(|&id| tr.id(symbols, id)).collect();
                    self.push_multi(ids)
                }
                id => tr.id(symbols, id),
            };
            self.cells.push(mine);
        }
        self.times.extend(other.times);
        self.masks.extend(other.masks);
    }

    /// Writes the rows in memory to `file` as texts and forgets them; returns the bytes written.
    pub fn spill(&mut self, symbols: &Symbols, file: &Arc<SpillFile>) -> std::io::Result<u64> {
        if self.masks.is_empty() {
            return Ok(0);
        }
        let mut buf = Vec::new();
        let run = file.write_records(|put| {
            self.for_each_in_memory(symbols, |row| {
                encode_row(row, self.width, &mut buf);
                put(&buf)
            })
        })?;
        let written = run.len();
        self.runs.push(run);
        self.spilled_rows += self.masks.len() as u64;
        let (runs, kept) = (std::mem::take(&mut self.runs), std::mem::take(&mut self.kept));
        let rows = self.spilled_rows;
        self.clear_for_reuse();
        (self.runs, self.spilled_rows, self.kept) = (runs, rows, kept);
        Ok(written)
    }

    fn for_each_in_memory<'a>(
        &'a self,
        symbols: &'a Symbols,
        mut f: impl FnMut(&LoggedRow<'a>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let width = self.width;
        for (i, (&time, &mask)) in self.times.iter().zip(&self.masks).enumerate() {
            let cells = self.cells.get(i * width..(i + 1) * width).unwrap_or_default();
            f(&LoggedRow { time, mask, cells: Cells::Ids { cells, multis: &self.multis, symbols } })?;
        }
        Ok(())
    }

    /// Calls `f` with every row, in input order: those on disk first, then those in memory.
    pub fn for_each_row(&self, symbols: &Symbols, mut f: impl FnMut(&LoggedRow) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut texts: Vec<Vec<String>> = Vec::new();
        for run in &self.runs {
            run.for_each_record(|mut record| {
                let (time, mask) = decode_row(&mut record, self.width, &mut texts).ok_or_else(damaged)?;
                f(&LoggedRow { time, mask, cells: Cells::Texts(&texts) })
            })?;
        }
        self.for_each_in_memory(symbols, |row| f(row))
    }

    /// Appends every row as texts (rows u64, then each row as in a spill run): the scan state
    /// format (`scan::codec`).
    pub fn encode(&self, symbols: &Symbols, buf: &mut Vec<u8>) -> std::io::Result<()> {
        put_u64(buf, self.rows());
        let mut row_buf = Vec::new();
        self.for_each_row(symbols, |row| {
            encode_row(row, self.width, &mut row_buf);
            put_u32(buf, row_buf.len() as u32);
            buf.extend_from_slice(&row_buf);
            Ok(())
        })
    }

    /// Reads rows written by [`RowLog::encode`] into this (empty) log, interning their texts
    /// into `symbols`.
    pub fn decode(&mut self, cur: &mut &[u8], symbols: &mut Symbols) -> Result<(), String> {
        let n = get_u64(cur).ok_or("truncated row log")?;
        let mut texts: Vec<Vec<String>> = Vec::new();
        for _ in 0..n {
            let len = get_u32(cur).ok_or("truncated row log")? as usize;
            let mut record = cur.get(..len).ok_or("truncated row log")?;
            *cur = &cur[len..];
            let (time, mask) = decode_row(&mut record, self.width, &mut texts).ok_or("damaged logged row")?;
            for cell in &texts {
                let id = match cell.as_slice() {
                    [] => NULL_CELL,
                    [one] => symbols.intern(one),
                    items => {
                        let ids: Box<[u32]> = items.iter().map(|t| symbols.intern(t)).collect();
                        self.push_multi(ids)
                    }
                };
                self.cells.push(id);
            }
            self.times.push(time);
            self.masks.push(mask);
            self.count_kept(mask);
        }
        Ok(())
    }
}

fn damaged() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged logged row")
}

/// A row as bytes: time, mask, then per cell its item count and texts. A single-item
/// multivalue comes back as one text, which groups and aggregates alike (see `column_part`
/// and `feed_row_agg`: items count, not their wrapping).
fn encode_row(row: &LoggedRow, width: usize, buf: &mut Vec<u8>) {
    buf.clear();
    put_u64(buf, row.time as u64);
    put_u64(buf, row.mask);
    let mut items = Vec::new();
    for slot in 0..width {
        items.clear();
        row.texts(slot, &mut items);
        put_u32(buf, items.len() as u32);
        items.iter().for_each(|t| put_str(buf, t));
    }
}

fn decode_row(cur: &mut &[u8], width: usize, texts: &mut Vec<Vec<String>>) -> Option<(Micros, u64)> {
    let (time, mask) = (get_u64(cur)? as Micros, get_u64(cur)?);
    texts.resize_with(width, Vec::new);
    for cell in texts.iter_mut() {
        cell.clear();
        let n = get_u32(cur)?;
        for _ in 0..n {
            cell.push(get_str(cur)?);
        }
    }
    Some((time, mask))
}
