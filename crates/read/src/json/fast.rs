//! Fast path for a JSON object on one line: a byte scanner that writes the flattened fields
//! straight into the event (strings recycled from earlier events), without building a
//! `serde_json::Value`.
//!
//! It produces exactly what [`crate::json`]'s full path (serde_json `Value`, then flatten)
//! produces: keys joined with dots, arrays as repeated fields, `null` and `""` dropped, `true`
//! / `false` and integers as their text, string escapes decoded; other numbers (fractions,
//! exponents, more than 18 digits, `-0`) are rendered by serde_json itself. The classification
//! keys ([`crate::json::classify`]) are noted on the way. Anything it is unsure of makes it
//! give up (`None`): a duplicate key in an object (serde_json keeps the last value at the first
//! position), a lone surrogate escape, a control character in a string, invalid syntax, deep
//! nesting, or an incomplete line. The caller then runs the full path on the same line, which
//! stays the definition of the output and of what is an error (a differential test checks both
//! agree on every real and generated JSON line, and on randomly mutated ones).

use vigil_model::Event;

use crate::fields::Spare;

/// What a JSON object is, judged from its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonKind {
    CrowdStrike,
    Nvm,
    Windows,
    Other,
}

/// Nesting deeper than this is left to the full path.
const MAX_DEPTH: usize = 32;

/// Reused buffers of the scanner (kept in the reading context).
#[derive(Default)]
pub(crate) struct Scratch {
    /// The flattened name of the value being read.
    path: String,
    /// Keys of the objects being read (one frame per open object), and their text.
    keys: Vec<Key>,
    names: String,
    /// Fields added for Windows JSON, before they are put in front.
    pub(crate) extra: Vec<(String, String)>,
}

/// A key of an object being read: its hash, its text in `names`, and the fields its value
/// produced.
struct Key {
    hash: u64,
    name: (usize, usize),
    start: usize,
    end: usize,
}

/// Which object is being read, for classification.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Obj {
    Top,
    /// The top-level `winlog` object.
    Winlog,
    /// The top-level `Event` object.
    Event,
    /// `Event.System`.
    EventSystem,
    Other,
}

#[derive(Default)]
struct Flags {
    simple_name: bool,
    fv_nvz: bool,
    pn: bool,
    pid_or_ppath: bool,
    event_id: bool,
    winlog_event_id: bool,
    system_event_id: bool,
}

/// Bytes that end the plain run of a JSON string: `"`, `\` and control characters.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

struct Scan<'a, 'e> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    fields: &'e mut Vec<(String, String)>,
    spare: &'e mut Spare,
    path: &'e mut String,
    keys: &'e mut Vec<Key>,
    names: &'e mut String,
    flags: Flags,
}

/// Parses `line` (starting with `{`) into `ev.fields` (empty on entry) and returns its kind,
/// or `None` (fields then left for the caller to recycle) when the full path must decide.
pub(crate) fn parse_line(line: &str, ev: &mut Event, spare: &mut Spare, scratch: &mut Scratch) -> Option<JsonKind> {
    scratch.path.clear();
    scratch.keys.clear();
    scratch.names.clear();
    let mut sc = Scan {
        s: line,
        b: line.as_bytes(),
        i: 0,
        fields: &mut ev.fields,
        spare,
        path: &mut scratch.path,
        keys: &mut scratch.keys,
        names: &mut scratch.names,
        flags: Flags::default(),
    };
    sc.object(Obj::Top, 0)?;
    sc.ws();
    if sc.i != sc.b.len() {
        return None;
    }
    let f = &sc.flags;
    Some(if f.simple_name {
        JsonKind::CrowdStrike
    } else if f.fv_nvz || (f.pn && f.pid_or_ppath) {
        JsonKind::Nvm
    } else if f.event_id || f.winlog_event_id || f.system_event_id {
        JsonKind::Windows
    } else {
        JsonKind::Other
    })
}

/// Does any byte of `w` end a plain string run (`"`, `\\`, below 0x20)? Exact: the
/// zero-byte test `(x - 0x01..) & !x & 0x80..` has no false negatives.
fn has_stop(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let q = w ^ (LO * b'"' as u64);
    let bs = w ^ (LO * b'\\' as u64);
    ((q.wrapping_sub(LO) & !q) | (bs.wrapping_sub(LO) & !bs) | (w.wrapping_sub(LO * 0x20) & !w)) & HI != 0
}

fn hash(k: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in k {
        h = (h ^ c as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Scan<'_, '_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// Reads an object at `self.i` (`{`), its fields under `self.path`.
    ///
    /// A repeated key is handled as serde_json's order-preserving map does: the last value
    /// wins, at the position of the first (its fields replace the first one's fields).
    fn object(&mut self, kind: Obj, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let frame = self.keys.len();
        let names_base = self.names.len();
        let mut seen = [0u64; 4];
        loop {
            self.eat(b'"')?;
            let base = self.path.len();
            if base != 0 {
                self.path.push('.');
            }
            let key_at = self.path.len();
            let mut path = std::mem::take(self.path);
            let ok = self.string(&mut path);
            *self.path = path;
            ok?;
            let key = self.path.get(key_at..)?;
            let h = hash(key.as_bytes());
            let bit = 1u64 << (h & 63);
            let slot = ((h >> 6) & 3) as usize;
            let mut dup = None;
            if seen[slot] & bit != 0 {
                let names = &*self.names;
                dup = self.keys[frame..].iter().position(|k| k.hash == h && names.get(k.name.0..k.name.1) == Some(key)).map(|j| frame + j);
            }
            seen[slot] |= bit;
            let child = match (kind, key) {
                (Obj::Top, "winlog") => Obj::Winlog,
                (Obj::Top, "Event") => Obj::Event,
                (Obj::Event, "System") => Obj::EventSystem,
                _ => Obj::Other,
            };
            if dup.is_some() && child != Obj::Other {
                return None; // a repeated classification object: left to the full path
            }
            let mut fv = false;
            match (kind, key) {
                (Obj::Top, "event_simpleName") => self.flags.simple_name = true,
                (Obj::Top, "pn") => self.flags.pn = true,
                (Obj::Top, "pid" | "ppath") => self.flags.pid_or_ppath = true,
                (Obj::Top, "EventID" | "EventCode") => self.flags.event_id = true,
                (Obj::Top, "fv") => fv = true,
                (Obj::Winlog, "event_id") => self.flags.winlog_event_id = true,
                (Obj::EventSystem, "EventID") => self.flags.system_event_id = true,
                _ => {}
            }
            if dup.is_none() {
                let n0 = self.names.len();
                self.names.push_str(key);
                let at = self.fields.len();
                self.keys.push(Key { hash: h, name: (n0, self.names.len()), start: at, end: at });
            }
            self.ws();
            self.eat(b':')?;
            self.ws();
            let before = self.fields.len();
            let is_str = self.peek()? == b'"';
            self.value(child, depth + 1)?;
            let after = self.fields.len();
            if fv {
                self.flags.fv_nvz = is_str && after > before && self.fields.last().is_some_and(|(_, v)| v.starts_with("nvzFlow"));
            }
            match dup {
                None => {
                    if let Some(k) = self.keys.last_mut() {
                        k.end = after;
                    }
                }
                Some(j) => self.replace(j, before, after)?,
            }
            self.path.truncate(base);
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    self.keys.truncate(frame);
                    self.names.truncate(names_base);
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Puts the fields `new_start..new_end` (the last ones) in place of those of key `j`.
    fn replace(&mut self, j: usize, new_start: usize, new_end: usize) -> Option<()> {
        let (os, oe) = (self.keys.get(j)?.start, self.keys.get(j)?.end);
        let (old_len, new_len) = (oe - os, new_end - new_start);
        // [old][middle][new] -> [new][old][middle] -> drop old.
        self.fields.get_mut(os..new_end)?.rotate_right(new_len);
        for pair in self.fields.drain(os + new_len..os + new_len + old_len) {
            self.spare.push(pair);
        }
        if let Some(k) = self.keys.get_mut(j) {
            k.end = os + new_len;
        }
        for k in self.keys.get_mut(j + 1..)? {
            k.start = k.start + new_len - old_len;
            k.end = k.end + new_len - old_len;
        }
        Some(())
    }

    /// Reads any value at `self.i`; objects directly here are of kind `kind` (arrays pass
    /// `Other` to their elements).
    fn value(&mut self, kind: Obj, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                let (mut k, mut v) = self.spare.pop().unwrap_or_default();
                v.clear();
                let ok = self.string(&mut v);
                if ok.is_none() || v.is_empty() {
                    self.spare.push((k, v));
                    return ok;
                }
                k.clear();
                k.push_str(self.path);
                self.fields.push((k, v));
                Some(())
            }
            b'{' => self.object(kind, depth),
            b'[' => {
                if depth > MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.value(Obj::Other, depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal("true", true),
            b'f' => self.literal("false", true),
            b'n' => self.literal("null", false),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, keep: bool) -> Option<()> {
        if !self.b.get(self.i..)?.starts_with(word.as_bytes()) {
            return None;
        }
        self.i += word.len();
        if keep {
            self.push_text(word);
        }
        Some(())
    }

    fn push_text(&mut self, text: &str) {
        let (mut k, mut v) = self.spare.pop().unwrap_or_default();
        k.clear();
        k.push_str(self.path);
        v.clear();
        v.push_str(text);
        self.fields.push((k, v));
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        let start = self.i;
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let int_at = self.i;
        let n = self.digits();
        if n == 0 {
            return None;
        }
        let lead_zero = self.b.get(int_at) == Some(&b'0');
        if lead_zero && n > 1 {
            return None; // invalid JSON: the full path reports it
        }
        let mut simple = n <= 18 && !(neg && lead_zero);
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
            simple = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
            simple = false;
        }
        let tok = self.s.get(start..self.i)?;
        if simple {
            self.push_text(tok);
            return Some(());
        }
        // Fractions, exponents, long integers and -0: rendered as serde_json renders them.
        match serde_json::from_str::<serde_json::Value>(tok).ok()? {
            serde_json::Value::Number(num) => self.push_text(&num.to_string()),
            _ => return None,
        }
        Some(())
    }

    /// Reads the rest of a string (after its `"`) into `out`, escapes decoded.
    fn string(&mut self, out: &mut String) -> Option<()> {
        loop {
            let start = self.i;
            // Eight bytes at a time while none of them ends the plain run.
            while let Some(w) = self.b.get(self.i..self.i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
                if has_stop(u64::from_le_bytes(w)) {
                    break;
                }
                self.i += 8;
            }
            while let Some(&c) = self.b.get(self.i) {
                if STOP[c as usize] {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.s.get(start..self.i)?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = match hi {
                                0xD800..=0xDBFF => {
                                    self.eat(b'\\')?;
                                    self.eat(b'u')?;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return None;
                                    }
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                                }
                                0xDC00..=0xDFFF => return None,
                                _ => char::from_u32(hi)?,
                            };
                            out.push(c);
                        }
                        _ => return None,
                    }
                }
                _ => return None, // control character or end of line
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut v = 0u32;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }
}
