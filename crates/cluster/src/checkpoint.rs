//! A partition's checkpoint: its open windows and the offset they cover, one record per
//! partition in the (compacted) checkpoints topic, keyed `<events topic>/<partition>`.
//!
//! ```text
//! "VIGILCKP" | u32 LE header length | header JSON | state bytes, in the header's order
//! header: {"version":1, "partition", "next_offset", "watermark", "missed",
//!          "closed_through": {schedule id: tick}, "open": [[schedule id, tick, bytes], ...],
//!          "writer": the worker's client id (for `vigil cluster status`)}
//! ```
//!
//! A schedule the reader does not know (content or selection changed) is dropped with a
//! message: its windows restart empty from the checkpoint's offset on.

use crate::plan::Planned;
use crate::windows::PartitionWindows;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vigil_model::Micros;

const MAGIC: &[u8; 8] = b"VIGILCKP";

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    partition: i32,
    next_offset: i64,
    watermark: Option<Micros>,
    missed: u64,
    closed_through: BTreeMap<String, Micros>,
    open: Vec<(String, Micros, usize)>,
    #[serde(default)]
    writer: Option<String>,
}

pub fn key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// The partition of `topic` a checkpoint key is for.
pub fn partition_of_key(topic: &str, key: &[u8]) -> Option<i32> {
    std::str::from_utf8(key).ok()?.strip_prefix(topic)?.strip_prefix('/')?.parse().ok()
}

/// Buffers a worker keeps from one checkpoint to the next (a checkpoint is as large as its
/// open windows' states).
#[derive(Default)]
pub struct Buffers {
    state: Vec<u8>,
    states: Vec<u8>,
    out: Vec<u8>,
}

/// The checkpoint of `w`'s windows, in `bufs`.
pub fn encode<'b>(w: &PartitionWindows, schedules: &[Planned], writer: &str, bufs: &'b mut Buffers) -> Result<&'b [u8], String> {
    let Buffers { state, states, out } = bufs;
    states.clear();
    let mut open = Vec::new();
    for (si, s) in schedules.iter().enumerate() {
        for (tick, st) in &w.open[si] {
            s.group.engine.encode_state_into(st, state).map_err(|e| format!("checkpoint: {e}"))?;
            open.push((s.id.clone(), *tick, state.len()));
            states.extend_from_slice(state);
        }
    }
    let header = Header {
        version: 1,
        partition: w.partition,
        next_offset: w.next_offset,
        watermark: w.watermark,
        missed: w.missed,
        closed_through: schedules.iter().zip(&w.closed_through).map(|(s, t)| (s.id.clone(), *t)).collect(),
        open,
        writer: Some(writer.to_string()),
    };
    let json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    out.clear();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(json.len()).map_err(|_| "checkpoint header too large")?.to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(states);
    Ok(out)
}

/// The offset a checkpoint's states cover up to (where its partition is read from again).
pub fn next_offset(bytes: &[u8]) -> Result<i64, String> {
    Ok(read_header(bytes)?.0.next_offset)
}

/// What `vigil cluster status` shows of a checkpoint.
pub struct Summary {
    pub next_offset: i64,
    /// The oldest tick with an open window (any schedule).
    pub oldest_open: Option<Micros>,
    /// The client id of the worker that wrote it.
    pub writer: Option<String>,
}

pub fn summary(bytes: &[u8]) -> Result<Summary, String> {
    let header = read_header(bytes)?.0;
    let oldest_open = header.open.iter().map(|(_, tick, _)| *tick).min();
    Ok(Summary { next_offset: header.next_offset, oldest_open, writer: header.writer })
}

/// The header, its length, and the bytes after the length (header then states).
fn read_header(bytes: &[u8]) -> Result<(Header, usize, &[u8]), String> {
    let rest = bytes.strip_prefix(MAGIC).ok_or("not a vigil checkpoint")?;
    let (len, rest) = rest.split_first_chunk::<4>().ok_or("checkpoint cut short")?;
    let len = u32::from_le_bytes(*len) as usize;
    let json = rest.get(..len).ok_or("checkpoint header cut short")?;
    let header: Header = serde_json::from_slice(json).map_err(|e| format!("checkpoint header: {e}"))?;
    if header.version != 1 {
        return Err(format!("checkpoint version {} (this vigil reads 1)", header.version));
    }
    Ok((header, len, rest))
}

/// Restores a partition's windows; `from` is the cluster's first tick (for schedules the
/// checkpoint does not know).
pub fn decode(bytes: &[u8], schedules: &[Planned], from: Micros) -> Result<PartitionWindows, String> {
    let (header, len, rest) = read_header(bytes)?;
    let mut w = PartitionWindows::new(header.partition, schedules, from);
    w.next_offset = header.next_offset;
    w.watermark = header.watermark;
    w.missed = header.missed;
    for (si, s) in schedules.iter().enumerate() {
        if let Some(t) = header.closed_through.get(&s.id) {
            w.closed_through[si] = *t;
        }
    }
    let mut at = len;
    for (id, tick, n) in header.open {
        let state = rest.get(at..at.saturating_add(n)).ok_or("checkpoint state cut short")?;
        at += n;
        match schedules.iter().position(|s| s.id == id) {
            Some(si) => {
                let st = schedules[si].group.engine.decode_state(state).map_err(|e| format!("checkpoint state: {e}"))?;
                w.open[si].insert(tick, st);
            }
            None => {
                eprintln!("vigil cluster: checkpoint of partition {}: schedule {id} is no longer run; its open window dropped", w.partition)
            }
        }
    }
    Ok(w)
}
