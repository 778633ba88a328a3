//! Records written to temporary files in compressed blocks.
//!
//! Spilled groups are mostly key texts (command lines, paths, user and host names), each
//! group repeating texts its neighbours in key order share: written plainly, spilling all
//! ready ESCU detections' groups at a 32 MiB budget wrote about as many bytes as the input
//! had. Records are gathered into blocks of [`BLOCK_BYTES`] and each block is compressed on
//! its own with zstd, so a reader holds one block at a time (runs are read
//! side by side in a merge) and needs no compression window beyond it. Rows waiting on disk
//! (`store::row_store`) are written the same way.

use std::cell::RefCell;
use std::io::{Read, Write};

/// Uncompressed bytes gathered before a block is written (a larger record makes its own
/// block). Small enough that a merge of many runs holds little; large enough for zstd to
/// find the repeats between neighbouring groups.
pub(crate) const BLOCK_BYTES: usize = 32 << 10;

/// zstd's default level: against level 1 (and 16 KiB blocks), 14 % fewer bytes on the
/// bench corpora at no CPU cost measurable under the machine's noise.
const LEVEL: i32 = 3;

/// The level of spilled groups' runs (`store::spill`). Level 1 took a quarter fewer
/// instructions compressing all ready ESCU detections' groups of 100 MB of the diverse mix
/// (callgrind), for 6 % more bytes (8.4 % of the input instead of 7.9 %); with SigmaHQ's rules
/// as well that mix already writes 11.5 % at level 3, over issue 21's 10 %, so runs stay at 3.
pub(crate) const RUN_LEVEL: i32 = LEVEL;

/// Block kinds (first header byte).
const STORED: u8 = 0;
const ZSTD: u8 = 1;

thread_local! {
    // Contexts are reused: creating one per block would cost more than the block. With the
    // level they were last set to.
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Writes length-prefixed records into compressed blocks.
pub(crate) struct BlockWriter<W: Write> {
    out: W,
    block: Vec<u8>,
    /// Bytes written to `out` so far.
    written: u64,
    /// Told the bytes of every block written (the temporary-file counters).
    count: fn(u64),
    /// Uncompressed bytes gathered before a block is written.
    block_bytes: usize,
    /// zstd's compression level.
    level: i32,
}

impl<W: Write> BlockWriter<W> {
    pub fn new(out: W, count: fn(u64)) -> BlockWriter<W> {
        BlockWriter::with_block_bytes(out, count, BLOCK_BYTES)
    }

    /// A writer of blocks of about `block_bytes` (uncompressed) instead of [`BLOCK_BYTES`].
    pub fn with_block_bytes(out: W, count: fn(u64), block_bytes: usize) -> BlockWriter<W> {
        BlockWriter { out, block: Vec::with_capacity(block_bytes + 1024), written: 0, count, block_bytes, level: LEVEL }
    }

    /// Compresses at `level` instead of [`LEVEL`].
    pub fn at_level(self, level: i32) -> BlockWriter<W> {
        BlockWriter { level, ..self }
    }

    /// Adds one record.
    pub fn push(&mut self, record: &[u8]) -> std::io::Result<()> {
        push_record(&mut self.block, record);
        if self.block.len() >= self.block_bytes {
            self.write_block()?;
        }
        Ok(())
    }

    /// Writes what is left and flushes; returns the output and the bytes written in all.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.write_block()?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }

    fn write_block(&mut self) -> std::io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let n = write_block_at(&mut self.out, &self.block, self.level)?;
        self.written += n;
        (self.count)(n);
        self.block.clear();
        Ok(())
    }
}

/// Appends one record to a block being gathered: its length, then its bytes.
fn push_record(block: &mut Vec<u8>, record: &[u8]) {
    block.extend_from_slice(&(record.len() as u32).to_le_bytes());
    block.extend_from_slice(record);
}

/// Writes a gathered block (records of [`push_record`]), compressed when that makes it
/// smaller; returns the bytes written.
pub(crate) fn write_block(out: &mut impl Write, block: &[u8]) -> std::io::Result<u64> {
    write_block_at(out, block, LEVEL)
}

/// [`write_block`] at zstd level `level`.
fn write_block_at(out: &mut impl Write, block: &[u8], level: i32) -> std::io::Result<u64> {
    let packed = COMPRESSOR.with(|c| -> std::io::Result<Vec<u8>> {
        let mut c = c.borrow_mut();
        let (at, c) = match c.as_mut() {
            Some(c) => c,
            None => c.insert((level, zstd::bulk::Compressor::new(level)?)),
        };
        if *at != level {
            c.set_compression_level(level)?;
            *at = level;
        }
        c.compress(block)
    })?;
    let (kind, body) = if packed.len() < block.len() { (ZSTD, packed.as_slice()) } else { (STORED, block) };
    write_framed(out, kind, block.len(), body)
}

/// Writes a gathered block as it is (no compression); returns the bytes written.
pub(crate) fn write_stored_block(out: &mut impl Write, block: &[u8]) -> std::io::Result<u64> {
    write_framed(out, STORED, block.len(), block)
}

fn write_framed(out: &mut impl Write, kind: u8, raw: usize, body: &[u8]) -> std::io::Result<u64> {
    out.write_all(&[kind])?;
    out.write_all(&(raw as u32).to_le_bytes())?;
    out.write_all(&(body.len() as u32).to_le_bytes())?;
    out.write_all(body)?;
    Ok(9 + body.len() as u64)
}

/// Reads the records of a [`BlockWriter`] back, one block in memory at a time.
pub(crate) struct BlockReader<R: Read> {
    input: R,
    /// The current block, uncompressed, and the position of the next record in it.
    block: Vec<u8>,
    pos: usize,
    packed: Vec<u8>,
}

fn damaged() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged temporary file block")
}

impl<R: Read> BlockReader<R> {
    pub fn new(input: R) -> BlockReader<R> {
        BlockReader { input, block: Vec::new(), pos: 0, packed: Vec::new() }
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> std::io::Result<Option<&[u8]>> {
        if self.pos >= self.block.len() && !self.read_block()? {
            return Ok(None);
        }
        let rest = &self.block[self.pos..];
        let len = rest.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).ok_or_else(damaged)?;
        let start = self.pos + 4;
        let end = start.checked_add(len).filter(|&e| e <= self.block.len()).ok_or_else(damaged)?;
        self.pos = end;
        Ok(Some(&self.block[start..end]))
    }

    /// Reads and unpacks the next block; false at the end of the input.
    fn read_block(&mut self) -> std::io::Result<bool> {
        let mut header = [0u8; 9];
        match self.input.read_exact(&mut header[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        self.input.read_exact(&mut header[1..])?;
        let raw = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let stored = u32::from_le_bytes([header[5], header[6], header[7], header[8]]) as usize;
        self.pos = 0;
        match header[0] {
            STORED if stored == raw => {
                self.block.resize(raw, 0);
                self.input.read_exact(&mut self.block)?;
            }
            ZSTD => {
                self.packed.resize(stored, 0);
                self.input.read_exact(&mut self.packed)?;
                self.block.clear();
                self.block.reserve(raw);
                let n = DECOMPRESSOR.with(|d| -> std::io::Result<usize> {
                    let mut d = d.borrow_mut();
                    let d = match d.as_mut() {
                        Some(d) => d,
                        None => d.insert(zstd::bulk::Decompressor::new()?),
                    };
                    d.decompress_to_buffer(&self.packed, &mut self.block)
                })?;
                if n != raw {
                    return Err(damaged());
                }
            }
            _ => return Err(damaged()),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(records: &[Vec<u8>]) -> (u64, Vec<Vec<u8>>) {
        let mut file = Vec::new();
        let mut w = BlockWriter::new(&mut file, |_| {});
        for r in records {
            w.push(r).expect("push");
        }
        let (_, written) = w.finish().expect("finish");
        assert_eq!(written, file.len() as u64);
        let mut reader = BlockReader::new(file.as_slice());
        let mut back = Vec::new();
        while let Some(r) = reader.next_record().expect("read") {
            back.push(r.to_vec());
        }
        (written, back)
    }

    #[test]
    fn records_come_back_in_order_across_blocks_and_repeats_shrink() {
        let records: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("host-{:03}|C:\\Windows\\System32\\cmd.exe /c echo {}|user{}", i % 40, i, i % 7).into_bytes())
            .chain([Vec::new(), vec![0xff; 3 * BLOCK_BYTES]])
            .collect();
        let raw: usize = records.iter().map(|r| r.len() + 4).sum();
        let (written, back) = round_trip(&records);
        assert_eq!(back, records);
        assert!((written as usize) < raw / 3, "{written} bytes for {raw}");
    }

    #[test]
    fn a_writer_at_another_level_reads_back_and_the_next_is_at_the_default_again() {
        let records: Vec<Vec<u8>> = (0..3000).map(|i| format!("host-{} cmd {}", i % 50, i * 7919 % 1000).into_bytes()).collect();
        let write = |level: Option<i32>| {
            let mut file = Vec::new();
            let w = BlockWriter::new(&mut file, |_| {});
            let mut w = match level {
                Some(l) => w.at_level(l),
                None => w,
            };
            records.iter().for_each(|r| w.push(r).expect("push"));
            w.finish().expect("finish");
            file
        };
        let default = write(None);
        let fast = write(Some(1));
        assert_ne!(fast, default, "another level, other bytes");
        let mut reader = BlockReader::new(fast.as_slice());
        let mut back = Vec::new();
        while let Some(r) = reader.next_record().expect("read") {
            back.push(r.to_vec());
        }
        assert_eq!(back, records);
        assert_eq!(write(None), default);
    }

    #[test]
    fn incompressible_blocks_are_stored_and_nothing_is_nothing() {
        // A deterministic pseudo-random block zstd cannot shrink.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..BLOCK_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let (written, back) = round_trip(std::slice::from_ref(&noise));
        assert_eq!(back, [noise]);
        assert_eq!(written, 9 + 4 + BLOCK_BYTES as u64);
        assert_eq!(round_trip(&[]), (0, Vec::new()));
    }

    #[test]
    fn a_cut_or_damaged_file_is_an_error() {
        let mut file = Vec::new();
        let mut w = BlockWriter::new(&mut file, |_| {});
        w.push(&[b'a'; 100]).expect("push");
        w.finish().expect("finish");
        let mut cut = BlockReader::new(&file[..file.len() - 1]);
        assert!(cut.next_record().is_err());
        let mut bad = file.clone();
        bad[0] = 7;
        assert!(BlockReader::new(bad.as_slice()).next_record().is_err());
    }
}
