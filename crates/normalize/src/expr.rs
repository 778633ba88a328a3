//! Field expressions of the mapping files: where one dataset field's value comes from.
//!
//! An expression has one *source* and optional post-processing, applied in this order:
//!
//! 1. source: `"Field"` (copy every value of a raw field), `{ from = "Field" }`,
//!    `{ first = ["A", "B", {...}] }` (the first item that yields a value),
//!    `{ join = ["A", "B"], sep = "\\" }` (the parts that have a value, joined),
//!    `{ const = "v" }` or `{ const = ["a", "b"] }`;
//! 2. `empty = ["-"]`: raw values treated as missing (case-insensitive); inherited by nested
//!    expressions that do not set their own;
//! 3. `op = ["basename", "lower", ...]`: per-value transforms, in order (see [`Op`]);
//! 4. `map = { "from" = "to" }`: per-value lookup, keys case-insensitive; values without an
//!    entry are kept unless `map_only = true`, which drops them.
//!
//! A field with several values (multivalue) is transformed value by value. No value at all is
//! null.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use vigil_model::Value;

use crate::hashers::Fnv;
use crate::items::Items;

/// A `map`'s table: lowercased raw values to values. Its keys come from the mapping files and
/// lookups never insert, so a short-text hash serves (see [`Fnv`]).
pub(crate) type ValueMap = HashMap<String, String, BuildHasherDefault<Fnv>>;

/// A per-value transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Last component of a Windows or POSIX path: `C:\a\b.exe` -> `b.exe`.
    Basename,
    Lower,
    Upper,
    Trim,
    /// `0x1b28` -> `6952`. Decimal input is kept; anything else is kept as is.
    HexToDec,
    /// `\Device\HarddiskVolume3\Windows\x.exe` -> `\Windows\x.exe`; `\??\C:\x` -> `C:\x`.
    StripDevicePrefix,
    /// Removes one pair of surrounding double quotes.
    Unquote,
    /// First token of a command line, honouring double quotes, without the quotes.
    FirstToken,
    /// First component of a path: `HKLM\System\x` -> `HKLM`.
    PathRoot,
    /// An IPv4-mapped IPv6 address as the IPv4 address: `::ffff:10.0.0.5` -> `10.0.0.5`.
    Ipv4Unmapped,
    /// One record of Sysmon's QueryResults as the answer: `type:  5 a.example.com` ->
    /// `a.example.com`, `::ffff:10.0.0.5` -> `10.0.0.5`.
    DnsAnswer,
    /// One hash of a Sysmon `Hashes` list (`MD5=..,SHA256=..,IMPHASH=..`); others give nothing.
    HashMd5,
    HashSha1,
    HashSha256,
    HashImphash,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "basename" => Op::Basename,
            "lower" => Op::Lower,
            "upper" => Op::Upper,
            "trim" => Op::Trim,
            "hex_to_dec" => Op::HexToDec,
            "strip_device_prefix" => Op::StripDevicePrefix,
            "unquote" => Op::Unquote,
            "first_token" => Op::FirstToken,
            "path_root" => Op::PathRoot,
            "ipv4_unmapped" => Op::Ipv4Unmapped,
            "dns_answer" => Op::DnsAnswer,
            "hash_md5" => Op::HashMd5,
            "hash_sha1" => Op::HashSha1,
            "hash_sha256" => Op::HashSha256,
            "hash_imphash" => Op::HashImphash,
            _ => return None,
        })
    }

    pub fn apply(self, v: &str) -> String {
        let mut out = String::new();
        self.apply_into(v, &mut out);
        out
    }

    /// Appends the transform of `v` to `out` (no allocation once `out` is large enough).
    pub fn apply_into(self, v: &str, out: &mut String) {
        match self {
            Op::Basename => out.push_str(basename(v)),
            Op::Lower => push_lowercase(v, out),
            Op::Upper if v.is_ascii() => {
                let at = out.len();
                out.push_str(v);
                out[at..].make_ascii_uppercase();
            }
            Op::Upper => out.push_str(&v.to_uppercase()),
            Op::Trim => out.push_str(v.trim()),
            Op::HexToDec => hex_to_dec_into(v, out),
            Op::StripDevicePrefix => out.push_str(strip_device_prefix(v)),
            Op::Unquote => {
                let t = v.trim();
                out.push_str(t.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(t))
            }
            Op::FirstToken => out.push_str(first_token(v)),
            Op::PathRoot => out.push_str(v.split(['\\', '/']).next().unwrap_or("")),
            Op::Ipv4Unmapped => out.push_str(ipv4_unmapped(v)),
            Op::DnsAnswer => {
                let t = v.trim();
                let t = match t.strip_prefix("type:") {
                    // `type:  5 name`: the record type number, then the name.
                    Some(rest) => rest.trim_start().split_once(' ').map_or("", |(_, name)| name.trim()),
                    None => t,
                };
                out.push_str(ipv4_unmapped(t))
            }
            Op::HashMd5 => out.push_str(hash_of(v, "MD5")),
            Op::HashSha1 => out.push_str(hash_of(v, "SHA1")),
            Op::HashSha256 => out.push_str(hash_of(v, "SHA256")),
            Op::HashImphash => out.push_str(hash_of(v, "IMPHASH")),
        }
    }
}

/// Appends `v` lowercased as `str::to_lowercase` does; ASCII (nearly every value) in place.
pub(crate) fn push_lowercase(v: &str, out: &mut String) {
    if v.is_ascii() {
        let at = out.len();
        out.push_str(v);
        out[at..].make_ascii_lowercase();
    } else {
        out.push_str(&v.to_lowercase());
    }
}

/// The value of `name` in a `NAME=value,NAME=value` list, or empty.
fn hash_of<'a>(list: &'a str, name: &str) -> &'a str {
    list.split(',').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v)
}

pub fn basename(v: &str) -> &str {
    // By bytes: both separators are ASCII, which no byte of another UTF-8 character is, and
    // a char pattern decodes every character (process paths in every process row).
    let bytes = v.as_bytes();
    let end = bytes.iter().rposition(|b| !matches!(b, b'\\' | b'/')).map_or(0, |i| i + 1);
    let start = memchr::memrchr2(b'\\', b'/', &bytes[..end]).map_or(0, |i| i + 1);
    v.get(start..end).unwrap_or_default()
}

pub fn ipv4_unmapped(v: &str) -> &str {
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("::ffff:") && v[7..].contains('.') => &v[7..],
        _ => v,
    }
}

pub fn hex_to_dec(v: &str) -> String {
    let mut out = String::new();
    hex_to_dec_into(v, &mut out);
    out
}

/// Appends [`hex_to_dec`] of `v` to `out` (process ids in every process row: no allocation).
fn hex_to_dec_into(v: &str, out: &mut String) {
    let t = v.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if let Ok(n) = u64::from_str_radix(h, 16) {
            out.push_str(vigil_model::value::decimal_u64(n, &mut [0; vigil_model::value::DECIMAL_LEN]));
            return;
        }
    }
    out.push_str(t)
}

pub fn strip_device_prefix(v: &str) -> &str {
    if let Some(rest) = v.strip_prefix("\\??\\") {
        return rest;
    }
    let lower_starts = v.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("\\Device\\"));
    if lower_starts {
        // \Device\<volume>\rest -> \rest
        if let Some(i) = v[8..].find('\\') {
            return &v[8 + i..];
        }
    }
    v
}

pub fn first_token(v: &str) -> &str {
    let t = v.trim_start();
    if let Some(rest) = t.strip_prefix('"') {
        return rest.find('"').map_or(rest, |i| &rest[..i]);
    }
    t.split([' ', '\t']).next().unwrap_or("")
}

/// Where an expression's values come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A field by name, with its id in the normalizer's [`crate::shape::Names`]
    /// ([`UNNAMED`] until one is given).
    Field(String, NameId),
    Const(Vec<String>),
    First(Vec<Expr>),
    Join {
        parts: Vec<Expr>,
        sep: String,
    },
}

/// A compiled field expression.
#[derive(Clone, Debug)]
pub struct Expr {
    pub source: Source,
    /// Lowercased raw values treated as missing.
    pub empty: Vec<String>,
    pub ops: Vec<Op>,
    /// Lowercased keys.
    pub map: Option<ValueMap>,
    pub map_only: bool,
    /// Splits each raw value at this separator (trimmed parts, empty ones dropped) before
    /// `ops`: `a;b;` -> `a`, `b`.
    pub split: Option<String>,
    /// Keep only the last value of the source (`last = true`): the event's own value of a
    /// field that a Windows event repeats in its data (`Channel` of a log-cleared event).
    pub last: bool,
}

impl Expr {
    pub fn field(name: &str) -> Expr {
        Expr {
            source: Source::Field(name.to_string(), UNNAMED),
            empty: Vec::new(),
            ops: Vec::new(),
            map: None,
            map_only: false,
            split: None,
            last: false,
        }
    }

    /// Writes the value into `slot`: null for no item, a scalar for one, a multivalue
    /// otherwise (as [`Value::from_items`] of [`Expr::eval`]). The common forms (a field copied
    /// or given one op, a constant) write the value directly; `scratch` is reused by the
    /// others, and a string `slot` keeps its buffer.
    pub fn eval_into<F: FieldValues + ?Sized>(&self, fields: &F, scratch: &mut Items, slot: &mut Value) {
        let plain = self.ops.is_empty() && self.map.is_none() && self.split.is_none() && !self.last;
        match &self.source {
            Source::Field(..) if self.is_direct() => match (self.single_value(fields), self.ops.first()) {
                (Some(v), None) => return set_str(slot, v),
                (Some(v), Some(op)) => return apply_into_slot(*op, v, slot),
                (None, _) => {}
            },
            Source::Const(items) if plain && items.len() == 1 => return set_str(slot, &items[0]),
            _ => {}
        }
        scratch.clear();
        self.eval(fields, scratch);
        match scratch.as_slice() {
            [] => *slot = Value::Null,
            [one] => set_str(slot, one),
            many => set_multi(slot, many),
        }
    }

    /// Whether the expression is a field, given at most one op: its one value can be written
    /// where it goes without going through [`Items`].
    pub(crate) fn is_direct(&self) -> bool {
        self.ops.len() <= 1 && self.map.is_none() && self.split.is_none() && !self.last
    }

    /// The one value of the field a [direct](Expr::is_direct) expression reads (before its op),
    /// or `None` when it has none or several.
    pub(crate) fn single_value<'a, F: FieldValues + ?Sized>(&'a self, fields: &'a F) -> Option<&'a str> {
        let Source::Field(name, id) = &self.source else { return None };
        // Multivalue (several kept values) is rare: the general path takes it.
        fields.single(name, *id, |v| !v.is_empty() && !self.empty.iter().any(|e| v.eq_ignore_ascii_case(e)))
    }

    /// Writes the value of a [direct](Expr::is_direct) expression whose field's one value is
    /// `v` into `out` (cleared first): false when it is empty, which [`Expr::eval`] drops.
    pub(crate) fn direct_into(&self, v: &str, out: &mut String) -> bool {
        out.clear();
        match self.ops.first() {
            Some(op) => op.apply_into(v, out),
            None => out.push_str(v),
        }
        !out.is_empty()
    }

    /// Appends the expression's items for an event of these `fields` to `out`; none means null.
    pub fn eval<F: FieldValues + ?Sized>(&self, fields: &F, out: &mut Items) {
        let base = out.len();
        match &self.source {
            Source::Field(name, id) => {
                for v in fields.values(name, *id) {
                    if v.is_empty() || self.empty.iter().any(|e| v.eq_ignore_ascii_case(e)) {
                        continue;
                    }
                    out.push_str(v);
                }
            }
            Source::Const(items) => items.iter().for_each(|i| out.push_str(i)),
            Source::First(alts) => {
                for alt in alts {
                    out.truncate(base);
                    alt.eval(fields, out);
                    if out.len() > base {
                        break;
                    }
                }
            }
            Source::Join { parts, sep } => join(parts, sep, fields, out),
        }
        if self.last && out.len() > base + 1 {
            out.remove_range(base, out.len() - 1);
        }
        if self.ops.is_empty() && self.map.is_none() && self.split.is_none() {
            return;
        }
        if let Some(sep) = &self.split {
            split_items(out, base, sep);
        }
        let mut kept = base;
        for i in base..out.len() {
            for op in &self.ops {
                let mut tmp = std::mem::take(&mut out.tmp);
                tmp.clear();
                op.apply_into(&out.as_slice()[i], &mut tmp);
                out.swap_out(i, &mut tmp);
                out.tmp = tmp;
            }
            if let Some(map) = &self.map {
                let mut key = std::mem::take(&mut out.tmp);
                key.clear();
                push_lowercase(&out.as_slice()[i], &mut key);
                let to = map.get(&key);
                out.tmp = key;
                match to {
                    Some(m) => {
                        let v = out.get_mut(i);
                        v.clear();
                        v.push_str(m);
                    }
                    None if self.map_only => continue,
                    None => {}
                }
            }
            if !out.as_slice()[i].is_empty() {
                out.swap(kept, i);
                kept += 1;
            }
        }
        out.truncate(kept);
    }

    /// Whether every field the expression reads is one `fixed` accepts (then its value
    /// depends on theirs only).
    pub(crate) fn reads_only(&self, fixed: &dyn Fn(&str) -> bool) -> bool {
        match &self.source {
            Source::Field(name, _) => fixed(name),
            Source::Const(_) => true,
            Source::First(parts) | Source::Join { parts, .. } => parts.iter().all(|p| p.reads_only(fixed)),
        }
    }

    /// Calls `f` with every field name the expression reads, to be given its id.
    pub(crate) fn for_each_field_mut(&mut self, f: &mut dyn FnMut(&str, &mut NameId)) {
        match &mut self.source {
            Source::Field(name, id) => f(name, id),
            Source::Const(_) => {}
            Source::First(parts) | Source::Join { parts, .. } => parts.iter_mut().for_each(|p| p.for_each_field_mut(f)),
        }
    }
}

/// A field name's id in the normalizer's [`crate::shape::Names`].
pub(crate) type NameId = u16;

/// The id of a name no [`crate::shape::Names`] has numbered.
pub(crate) const UNNAMED: NameId = NameId::MAX;

/// Where expressions read the values of fields: an event's fields by name, or by the
/// positions worked out once per event shape ([`crate::shape`]).
pub trait FieldValues {
    /// Every value of the field `name` (numbered `id`), in event order.
    fn values<'a>(&'a self, name: &'a str, id: NameId) -> impl Iterator<Item = &'a str> + 'a;

    /// The field's one value that `keep` accepts; `None` when it has none or several.
    fn single<'a>(&'a self, name: &'a str, id: NameId, keep: impl Fn(&str) -> bool) -> Option<&'a str> {
        only_one(self.values(name, id), keep)
    }
}

/// The one item of `values` that `keep` accepts; `None` when there are none or several.
#[inline]
pub(crate) fn only_one<'a>(values: impl Iterator<Item = &'a str>, keep: impl Fn(&str) -> bool) -> Option<&'a str> {
    // A plain loop: as a `filter`, the search is not inlined and costs a call per value.
    let mut found = None;
    for v in values {
        if !keep(v) {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(v);
    }
    found
}

impl FieldValues for [(String, String)] {
    fn values<'a>(&'a self, name: &'a str, _: NameId) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Sets `slot` to `op` of `v`, in its own buffer when it has one; null when that is empty
/// (as [`Expr::eval`] drops empty items).
fn apply_into_slot(op: Op, v: &str, slot: &mut Value) {
    if !matches!(slot, Value::Str(_)) {
        *slot = Value::Str(String::new());
    }
    if let Value::Str(s) = slot {
        s.clear();
        op.apply_into(v, s);
        if s.is_empty() {
            *slot = Value::Null;
        }
    }
}

/// Sets `slot` to the string `v`, in its own buffer when it has one.
pub(crate) fn set_str(slot: &mut Value, v: &str) {
    match slot {
        Value::Str(s) => {
            s.clear();
            s.push_str(v);
        }
        _ => *slot = Value::Str(v.to_string()),
    }
}

/// Sets `slot` to the multivalue `items`, in its own strings when it is one already (a row
/// buffer of the same mapping's last row).
fn set_multi(slot: &mut Value, items: &[String]) {
    let Value::Multi(v) = slot else {
        *slot = Value::Multi(items.to_vec());
        return;
    };
    v.truncate(items.len());
    v.iter_mut().zip(items).for_each(|(to, from)| to.clone_from(from));
    let kept = v.len();
    v.extend(items[kept..].iter().cloned());
}

/// `Source::Join`: the first item of each part that has one, joined by `sep`, as one item.
fn join<F: FieldValues + ?Sized>(parts: &[Expr], sep: &str, fields: &F, out: &mut Items) {
    let base = out.len();
    for p in parts {
        let at = out.len();
        p.eval(fields, out);
        out.truncate(at + 1);
    }
    if out.len() <= base + 1 {
        return;
    }
    let mut joined = std::mem::take(out.get_mut(base));
    for part in &out.as_slice()[base + 1..] {
        joined.push_str(sep);
        joined.push_str(part);
    }
    *out.get_mut(base) = joined;
    out.truncate(base + 1);
}

/// Replaces the items from `base` on by their parts at `sep` (trimmed, empty ones dropped).
fn split_items(out: &mut Items, base: usize, sep: &str) {
    let end = out.len();
    for i in base..end {
        let item = std::mem::take(out.get_mut(i));
        for part in item.split(sep).map(str::trim).filter(|p| !p.is_empty()) {
            out.push_str(part);
        }
        *out.get_mut(i) = item;
    }
    out.remove_range(base, end);
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
