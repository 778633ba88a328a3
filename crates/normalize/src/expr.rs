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
use vigil_model::{Event, Value};

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
        match self {
            Op::Basename => basename(v).to_string(),
            Op::Lower => v.to_lowercase(),
            Op::Upper => v.to_uppercase(),
            Op::Trim => v.trim().to_string(),
            Op::HexToDec => hex_to_dec(v),
            Op::StripDevicePrefix => strip_device_prefix(v).to_string(),
            Op::Unquote => {
                let t = v.trim();
                t.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(t).to_string()
            }
            Op::FirstToken => first_token(v).to_string(),
            Op::PathRoot => v.split(['\\', '/']).next().unwrap_or("").to_string(),
            Op::Ipv4Unmapped => ipv4_unmapped(v).to_string(),
            Op::DnsAnswer => {
                let t = v.trim();
                let t = match t.strip_prefix("type:") {
                    // `type:  5 name`: the record type number, then the name.
                    Some(rest) => rest.trim_start().split_once(' ').map_or("", |(_, name)| name.trim()),
                    None => t,
                };
                ipv4_unmapped(t).to_string()
            }
            Op::HashMd5 => hash_of(v, "MD5"),
            Op::HashSha1 => hash_of(v, "SHA1"),
            Op::HashSha256 => hash_of(v, "SHA256"),
            Op::HashImphash => hash_of(v, "IMPHASH"),
        }
    }
}

/// The value of `name` in a `NAME=value,NAME=value` list, or empty.
fn hash_of(list: &str, name: &str) -> String {
    list.split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or(String::new(), |(_, v)| v.to_string())
}

pub fn basename(v: &str) -> &str {
    let t = v.trim_end_matches(['\\', '/']);
    match t.rfind(['\\', '/']) {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

pub fn ipv4_unmapped(v: &str) -> &str {
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("::ffff:") && v[7..].contains('.') => &v[7..],
        _ => v,
    }
}

pub fn hex_to_dec(v: &str) -> String {
    let t = v.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if let Ok(n) = u64::from_str_radix(h, 16) {
            return n.to_string();
        }
    }
    t.to_string()
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
    Field(String),
    Const(Vec<String>),
    First(Vec<Expr>),
    Join { parts: Vec<Expr>, sep: String },
}

/// A compiled field expression.
#[derive(Clone, Debug)]
pub struct Expr {
    pub source: Source,
    /// Lowercased raw values treated as missing.
    pub empty: Vec<String>,
    pub ops: Vec<Op>,
    /// Lowercased keys.
    pub map: Option<HashMap<String, String>>,
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
            source: Source::Field(name.to_string()),
            empty: Vec::new(),
            ops: Vec::new(),
            map: None,
            map_only: false,
            split: None,
            last: false,
        }
    }

    /// Evaluates to a value: null for no item, a scalar for one, a multivalue otherwise (as
    /// [`Value::from_items`] of [`Expr::eval`]). The common forms (a plain field copy, a
    /// constant) build the value directly; `scratch` is reused by the others.
    pub fn eval_value(&self, ev: &Event, scratch: &mut Vec<String>) -> Value {
        let plain = self.ops.is_empty() && self.map.is_none() && self.split.is_none() && !self.last;
        match &self.source {
            Source::Field(name) if plain => {
                let mut found: Option<&str> = None;
                for v in ev.get_all(name) {
                    if v.is_empty() || self.empty.iter().any(|e| v.eq_ignore_ascii_case(e)) {
                        continue;
                    }
                    if found.is_some() {
                        // Multivalue: rare, take the general path.
                        found = None;
                        break;
                    }
                    found = Some(v);
                }
                if let Some(v) = found {
                    return Value::Str(v.to_string());
                }
            }
            Source::Const(items) if plain && items.len() == 1 => return Value::Str(items[0].clone()),
            _ => {}
        }
        self.eval(ev, scratch);
        match scratch.len() {
            0 => Value::Null,
            1 => scratch.pop().map_or(Value::Null, Value::Str),
            _ => Value::Multi(std::mem::take(scratch)),
        }
    }

    /// Evaluates into `out` (cleared first). Empty output means null.
    pub fn eval(&self, ev: &Event, out: &mut Vec<String>) {
        out.clear();
        match &self.source {
            Source::Field(name) => {
                for v in ev.get_all(name) {
                    if v.is_empty() || self.empty.iter().any(|e| v.eq_ignore_ascii_case(e)) {
                        continue;
                    }
                    out.push(v.to_string());
                }
            }
            Source::Const(items) => out.extend(items.iter().cloned()),
            Source::First(alts) => {
                for alt in alts {
                    alt.eval(ev, out);
                    if !out.is_empty() {
                        break;
                    }
                }
            }
            Source::Join { parts, sep } => {
                let mut tmp = Vec::new();
                let mut joined: Option<String> = None;
                for p in parts {
                    p.eval(ev, &mut tmp);
                    if let Some(first) = tmp.first() {
                        match joined.as_mut() {
                            Some(j) => {
                                j.push_str(sep);
                                j.push_str(first);
                            }
                            None => joined = Some(first.clone()),
                        }
                    }
                }
                out.extend(joined);
            }
        }
        if self.last && out.len() > 1 {
            out.drain(..out.len() - 1);
        }
        if self.ops.is_empty() && self.map.is_none() && self.split.is_none() {
            return;
        }
        let mut items = std::mem::take(out);
        if let Some(sep) = &self.split {
            items = items.iter().flat_map(|i| i.split(sep.as_str())).map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect();
        }
        for item in items {
            let mut v = item;
            for op in &self.ops {
                v = op.apply(&v);
            }
            if let Some(map) = &self.map {
                match map.get(&v.to_lowercase()) {
                    Some(m) => v = m.clone(),
                    None if self.map_only => continue,
                    None => {}
                }
            }
            if !v.is_empty() {
                out.push(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(fields: &[(&str, &str)]) -> Event {
        let mut e = Event::default();
        for (k, v) in fields {
            e.push(*k, *v);
        }
        e
    }

    fn run(x: &Expr, e: &Event) -> Vec<String> {
        let mut out = Vec::new();
        x.eval(e, &mut out);
        // The direct path agrees with the general one.
        assert_eq!(x.eval_value(e, &mut Vec::new()), Value::from_items(out.clone()));
        out
    }

    #[test]
    fn hashes_and_last() {
        let h = "SHA1=AA,MD5=BB,SHA256=CC,IMPHASH=DD";
        assert_eq!(Op::HashMd5.apply(h), "BB");
        assert_eq!(Op::HashImphash.apply(h), "DD");
        assert_eq!(Op::HashSha256.apply("MD5=BB"), "");
        let e = ev(&[("Channel", "System"), ("Channel", "Application")]);
        let mut x = Expr::field("Channel");
        x.last = true;
        assert_eq!(run(&x, &e), ["Application"]);
        assert_eq!(x.eval_value(&e, &mut Vec::new()), Value::str("Application"));
    }

    #[test]
    fn ops() {
        assert_eq!(basename("C:\\Windows\\System32\\msiexec.exe"), "msiexec.exe");
        assert_eq!(basename("/usr/bin/curl"), "curl");
        assert_eq!(basename("msiexec.exe"), "msiexec.exe");
        assert_eq!(hex_to_dec("0x1b28"), "6952");
        assert_eq!(hex_to_dec("0XF84"), "3972");
        assert_eq!(hex_to_dec("6952"), "6952");
        assert_eq!(hex_to_dec("0xzz"), "0xzz");
        assert_eq!(strip_device_prefix("\\Device\\HarddiskVolume1\\Windows\\x.exe"), "\\Windows\\x.exe");
        assert_eq!(strip_device_prefix("\\??\\C:\\x.exe"), "C:\\x.exe");
        assert_eq!(strip_device_prefix("C:\\x.exe"), "C:\\x.exe");
        assert_eq!(first_token("\"C:\\Program Files\\a b.exe\" -x"), "C:\\Program Files\\a b.exe");
        assert_eq!(first_token("msiexec.exe /i http://x"), "msiexec.exe");
        assert_eq!(first_token("\"unterminated"), "unterminated");
        assert_eq!(Op::Unquote.apply("\"a\""), "a");
        assert_eq!(Op::PathRoot.apply("HKLM\\System\\x"), "HKLM");
        assert_eq!(Op::Ipv4Unmapped.apply("::ffff:10.0.0.5"), "10.0.0.5");
        assert_eq!(Op::Ipv4Unmapped.apply("::1"), "::1");
        assert_eq!(Op::DnsAnswer.apply("type:  5 edge.example.net"), "edge.example.net");
        assert_eq!(Op::DnsAnswer.apply("::ffff:93.184.216.34"), "93.184.216.34");
        let e = ev(&[("Q", "type:  5 a.example;::ffff:1.2.3.4;")]);
        let split = Expr { split: Some(";".into()), ops: vec![Op::DnsAnswer], ..Expr::field("Q") };
        assert_eq!(run(&split, &e), ["a.example", "1.2.3.4"]);
    }

    #[test]
    fn sources() {
        let e = ev(&[("A", "-"), ("B", "x"), ("D", "DOM"), ("N", "bob"), ("M", "1"), ("M", "2")]);
        let mut first = Expr::field("A");
        first.source = Source::First(vec![Expr { empty: vec!["-".into()], ..Expr::field("A") }, Expr::field("B")]);
        assert_eq!(run(&first, &e), ["x"]);
        let join = Expr {
            source: Source::Join { parts: vec![Expr::field("D"), Expr::field("Z"), Expr::field("N")], sep: "\\".into() },
            ..Expr::field("")
        };
        assert_eq!(run(&join, &e), ["DOM\\bob"]);
        assert_eq!(run(&Expr::field("M"), &e), ["1", "2"]);
        assert!(run(&Expr::field("Z"), &e).is_empty());
        let mut mapped = Expr::field("M");
        mapped.map = Some([("1".to_string(), "one".to_string())].into_iter().collect());
        assert_eq!(run(&mapped, &e), ["one", "2"]);
        mapped.map_only = true;
        assert_eq!(run(&mapped, &e), ["one"]);
    }
}
