//! A scan state as bytes: written after the scan phase, read in another process, merged
//! there (see [`Engine::merge`]) and finished.
//!
//! Format, version 4 (integers little-endian; a string is its byte length as u32, then its
//! UTF-8 bytes):
//!
//! ```text
//! magic        8 bytes  "VIGILSCN"
//! version      u16      4 (3 had no row logs, and is read by an engine without deferred
//!                       scans, whose bytes are the same; 2 had the checksum below byte by
//!                       byte, read as 3 is; 1 was before
//!                       scans identical to an earlier query's were shared: such a scan is
//!                       written empty, its groups are the earlier one's, so a version-1
//!                       reader would finish it with nothing)
//! fingerprint  u64      FNV-1a over the engine's queries (names, scan kinds, by-fields,
//!                       aggregation functions): a state is read only by an engine with
//!                       the same queries
//! body length  u64
//! checksum     u64      FNV-1a over the body's 8-byte little-endian words, then its last
//!                       0-7 bytes one by one (version 2: over every byte)
//! body:
//!   segments   u32      a state is one or more segments (parts of the input not yet merged)
//!   per segment: first u64, last u64 (input positions covered), touched u8,
//!     queries u32, and per query: scans u32, and per scan:
//!       0 (groups): overflow u8, runs u32; per run: groups u64, then each group in key
//!                   order: key parts u32 + strings, states u32 + aggregation states (the
//!                   spill run encoding, `store::spill::encode_state`). The last run is the
//!                   groups held in memory, the others were spilled to disk (oldest first).
//!       1 (events): events u64; per event: time i64, fields u32, then per field its name
//!                   and value (0 null, 1 string, 2 number f64, 3 multivalue: strings)
//!     then per dataset with deferred scans (`scan::deferred`), its row log: rows u64, and
//!       per row (oldest first) its length u32 and bytes: time i64, mask u64, then per
//!       logged column its item count u32 and texts (none: null)
//! ```
//!
//! Reading checks all of it (damaged, truncated or foreign bytes are an error, never a
//! panic); a reader of a later version refuses earlier ones it cannot read by number.

use super::{Engine, ScanAcc, ScanState};
use crate::error::StateError;
use crate::plan::{EventScan, Scan};
use crate::store::event_rows::EventRows;
use crate::store::groups::Groups;
use crate::store::spill::{get_u32, get_u64, get_u8, put_u32, put_u64};
use crate::store::symbols::Symbols;

const MAGIC: &[u8; 8] = b"VIGILSCN";

/// The scan state format this build writes (it also reads [`NO_LOG_VERSION`] and
/// [`BYTE_SUM_VERSION`]).
pub const FORMAT_VERSION: u16 = 4;

/// The format before row logs: the same bytes when the engine defers no scan.
const NO_LOG_VERSION: u16 = 3;

/// The format before that: the same bytes as 3, checksummed byte by byte (states in
/// checkpoints written before an upgrade).
const BYTE_SUM_VERSION: u16 = 2;

const HEADER_LEN: usize = 8 + 2 + 8 + 8 + 8;
/// Where the body length, then the checksum, are in the header.
const LEN_AT: usize = 8 + 2 + 8;

const FNV_PRIME: u64 = 0x100_0000_01b3;

/// FNV-1a, 64 bits: stable across builds and platforms.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The body's checksum: FNV-1a over 8-byte little-endian words (a byte at a time costs a
/// multiply per byte, ~4 % of a cluster worker's CPU with every ESCU detection), then the
/// remaining bytes. Any one changed word changes it (a multiply by an odd number is a
/// bijection).
fn checksum(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut h = FNV_START;
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h ^= u64::from_le_bytes(word);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fnv(words.remainder(), h)
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

impl Engine {
    /// What a state must have been made by: the queries' names and scan shapes.
    fn fingerprint(&self) -> u64 {
        *self.fingerprint.get_or_init(|| self.compute_fingerprint())
    }

    fn compute_fingerprint(&self) -> u64 {
        let mut h = FNV_START;
        for q in &self.queries {
            h = fnv(q.name.as_bytes(), h);
            h = fnv(&[0xff], h);
            for scan in &q.scans {
                let (kind, by, aggs) = match scan {
                    Scan::Tstats(t) => (0u8, t.by.len(), t.aggs.as_slice()),
                    Scan::Events(EventScan { stats: Some(s), .. }) => (1, s.by.len(), s.aggs.as_slice()),
                    Scan::Events(_) => (2, 0, &[][..]),
                };
                h = fnv(&[kind, by as u8], h);
                for a in aggs {
                    h = fnv(format!("{:?}", a.func).as_bytes(), h);
                }
            }
        }
        h
    }

    /// The state as bytes (format: see this module). Groups spilled to disk are read back
    /// into the bytes, which is the only way this fails.
    pub fn encode_state(&self, state: &ScanState) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_state_into(state, &mut out)?;
        Ok(out)
    }

    /// [`Engine::encode_state`] into `out` (cleared first): a caller encoding many states
    /// reuses one buffer instead of fresh pages for each.
    pub fn encode_state_into(&self, state: &ScanState, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.clear();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        put_u64(out, self.fingerprint());
        // Length and checksum, filled in once the body is written after them.
        out.resize(HEADER_LEN, 0);
        put_u32(out, 1 + state.later.len() as u32);
        for segment in std::iter::once(state).chain(&state.later) {
            encode_segment(segment, out)?;
        }
        let body = &out[HEADER_LEN..];
        let (len, sum) = ((body.len() as u64).to_le_bytes(), checksum(body).to_le_bytes());
        out[LEN_AT..LEN_AT + 8].copy_from_slice(&len);
        out[LEN_AT + 8..HEADER_LEN].copy_from_slice(&sum);
        Ok(())
    }

    /// Reads a state written by [`Engine::encode_state`] of an engine with the same queries.
    pub fn decode_state(&self, bytes: &[u8]) -> Result<ScanState, StateError> {
        let err = |m: &str| StateError(m.to_string());
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(err("not a Vigil scan state (no VIGILSCN header)"));
        }
        let mut cur = &bytes[8..];
        let version = u16::from_le_bytes([cur[0], cur[1]]);
        cur = &cur[2..];
        let sum_of = match version {
            FORMAT_VERSION | NO_LOG_VERSION => checksum,
            BYTE_SUM_VERSION => |body: &[u8]| fnv(body, FNV_START),
            _ => {
                return Err(StateError(format!(
                    "format version {version}; this build reads versions {BYTE_SUM_VERSION} to {FORMAT_VERSION}"
                )))
            }
        };
        let uses_logs = self.deferred.readers.iter().any(|r| !r.is_empty());
        if version != FORMAT_VERSION && uses_logs {
            return Err(StateError(format!("format version {version} has no row logs, which this engine's deferred scans need")));
        }
        let (fingerprint, len, sum) = (get_u64(&mut cur), get_u64(&mut cur), get_u64(&mut cur));
        if fingerprint != Some(self.fingerprint()) {
            return Err(err("made by an engine with other queries (a different content set or Vigil build)"));
        }
        if len != Some(cur.len() as u64) {
            return Err(StateError(format!("{} body bytes, the header says {}", cur.len(), len.unwrap_or(0))));
        }
        if sum != Some(sum_of(cur)) {
            return Err(err("checksum mismatch: the bytes are damaged"));
        }
        let segments = get_u32(&mut cur).ok_or_else(|| err("truncated"))?;
        let mut states = Vec::new();
        for i in 0..segments {
            let at = bytes.len() - cur.len();
            let state = self.decode_segment(&mut cur).map_err(|m| StateError(format!("segment {i} at byte {at}: {m}")))?;
            states.push(state);
        }
        if !cur.is_empty() {
            return Err(StateError(format!("{} bytes after the last segment", cur.len())));
        }
        let mut states = states.into_iter();
        let mut state = states.next().ok_or_else(|| err("no segments"))?;
        states.for_each(|s| self.merge(&mut state, s));
        Ok(state)
    }

    fn decode_segment(&self, cur: &mut &[u8]) -> Result<ScanState, String> {
        let (first, last) = (get_u64(cur).ok_or("truncated")?, get_u64(cur).ok_or("truncated")?);
        if first > last {
            return Err(format!("positions {first}..={last}"));
        }
        let mut state = self.new_state_at(first);
        state.last = last;
        state.touched = get_u8(cur).ok_or("truncated")? != 0;
        let queries = get_u32(cur).ok_or("truncated")? as usize;
        if queries != self.queries.len() {
            return Err(format!("{queries} queries, the engine has {}", self.queries.len()));
        }
        let mut symbols = Symbols::default();
        let mut file = None;
        for (q, accs) in self.queries.iter().zip(&mut state.accs) {
            let scans = get_u32(cur).ok_or("truncated")? as usize;
            if scans != q.scans.len() {
                return Err(format!("{scans} scans for `{}`, which has {}", q.name, q.scans.len()));
            }
            for (scan, acc) in q.scans.iter().zip(accs.iter_mut()) {
                *acc = match (get_u8(cur).ok_or("truncated")?, scan) {
                    (0, Scan::Tstats(t)) => ScanAcc::Groups(Groups::decode(cur, t.by.len(), &t.aggs, &mut symbols, &mut file)?),
                    (0, Scan::Events(EventScan { stats: Some(s), .. })) => {
                        ScanAcc::Groups(Groups::decode(cur, s.by.len(), &s.aggs, &mut symbols, &mut file)?)
                    }
                    (1, Scan::Events(EventScan { stats: None, .. })) => ScanAcc::Events(EventRows::decode(cur).ok_or("damaged events")?),
                    (tag, _) => return Err(format!("scan of kind {tag} where `{}` has another", q.name)),
                };
            }
        }
        for log in state.logs.iter_mut().filter(|l| l.in_use()) {
            log.decode(cur, &mut symbols)?;
        }
        state.symbols = symbols;
        state.spill_file = file;
        Ok(state)
    }
}

fn encode_segment(state: &ScanState, buf: &mut Vec<u8>) -> std::io::Result<()> {
    put_u64(buf, state.first);
    put_u64(buf, state.last);
    buf.push(u8::from(state.touched));
    put_u32(buf, state.accs.len() as u32);
    for accs in &state.accs {
        put_u32(buf, accs.len() as u32);
        for acc in accs {
            match acc {
                ScanAcc::Groups(g) => {
                    buf.push(0);
                    g.encode(&state.symbols, buf)?;
                }
                ScanAcc::Events(events) => {
                    buf.push(1);
                    events.encode(buf);
                }
            }
        }
    }
    for log in state.logs.iter().filter(|l| l.in_use()) {
        log.encode(&state.symbols, buf)?;
    }
    Ok(())
}
