//! Value modifiers: one `field|mod|mod: values` entry of a selection to an [`Expr`].

use crate::expr::{Expr, NumOp, Shape, Test};
use crate::pattern::{has_wildcards, parse_sigma_string, plain, push_sigma_string, Glob, Tok};
use serde_norway::Value as Yaml;
use std::collections::HashMap;
use vigil_model::lazy_regex::{Flags, LazyRegex};

/// Placeholder values for `|expand` (`%Name%` -> values), from the mapping file.
pub type Placeholders = HashMap<String, Vec<String>>;

/// Most variants one value may expand into (`|windash` over many dashes).
const MAX_EXPANSION: usize = 4096;

/// Compiles `key: value` (the key with its modifiers) into a test tree. `field` is `None`
/// for keyword lists. Errors are messages for the rule's reader.
pub fn compile_entry(field: Option<&str>, mods: &[&str], values: &[Yaml], ph: &Placeholders) -> Result<Expr, String> {
    let m = Mods::parse(mods)?;
    let mut leaves = Vec::new();
    for v in values {
        for test in m.tests(v, ph)? {
            leaves.push(Expr::Leaf { field: field.map(str::to_string), test });
        }
    }
    if leaves.is_empty() {
        return Err("a field with an empty list of values".into());
    }
    let joined = if m.all { Expr::all(leaves) } else { Expr::any(leaves) };
    Ok(if m.neq { Expr::Not(Box::new(joined)) } else { joined })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transform {
    Windash,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16Bom,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Plain,
    Regex { i: bool, m: bool, s: bool },
    Cidr,
    Num(NumOp),
    Exists,
    FieldRef,
}

#[derive(Debug)]
struct Mods {
    shape: Shape,
    kind: Kind,
    transforms: Vec<Transform>,
    all: bool,
    neq: bool,
    cased: bool,
    expand: bool,
    /// A time modifier: the value is a date, compared by this part.
    date_part: Option<crate::datepart::DatePart>,
}

impl Mods {
    fn parse(mods: &[&str]) -> Result<Mods, String> {
        let mut m = Mods {
            shape: Shape::Equals,
            kind: Kind::Plain,
            transforms: Vec::new(),
            all: false,
            neq: false,
            cased: false,
            expand: false,
            date_part: None,
        };
        let set_kind = |m: &mut Mods, k: Kind| -> Result<(), String> {
            match (m.kind, k) {
                (Kind::Plain, _) => {
                    m.kind = k;
                    Ok(())
                }
                (Kind::Regex { .. }, Kind::Regex { .. }) => Ok(()),
                (a, b) => Err(format!("modifiers for {a:?} and {b:?} cannot be combined")),
            }
        };
        for &raw in mods {
            let name = raw.to_ascii_lowercase();
            match name.as_str() {
                "contains" => m.shape = Shape::Contains,
                "startswith" => m.shape = Shape::StartsWith,
                "endswith" => m.shape = Shape::EndsWith,
                "all" => m.all = true,
                "neq" => m.neq = true,
                "cased" => m.cased = true,
                "expand" => m.expand = true,
                "windash" => m.transforms.push(Transform::Windash),
                "base64" => m.transforms.push(Transform::Base64),
                "base64offset" => m.transforms.push(Transform::Base64Offset),
                "utf16le" | "wide" => m.transforms.push(Transform::Utf16Le),
                "utf16be" => m.transforms.push(Transform::Utf16Be),
                "utf16" => m.transforms.push(Transform::Utf16Bom),
                "re" => set_kind(&mut m, Kind::Regex { i: false, m: false, s: false })?,
                "i" | "m" | "s" => match &mut m.kind {
                    Kind::Regex { i, m: ml, s } => match name.as_str() {
                        "i" => *i = true,
                        "m" => *ml = true,
                        _ => *s = true,
                    },
                    _ => return Err(format!("`|{raw}` is a flag of `|re` and must follow it")),
                },
                "cidr" => set_kind(&mut m, Kind::Cidr)?,
                "gt" => set_kind(&mut m, Kind::Num(NumOp::Gt))?,
                "gte" => set_kind(&mut m, Kind::Num(NumOp::Gte))?,
                "lt" => set_kind(&mut m, Kind::Num(NumOp::Lt))?,
                "lte" => set_kind(&mut m, Kind::Num(NumOp::Lte))?,
                "exists" => set_kind(&mut m, Kind::Exists)?,
                "fieldref" => set_kind(&mut m, Kind::FieldRef)?,
                "minute" | "hour" | "day" | "week" | "month" | "year" => m.date_part = crate::datepart::DatePart::parse(&name),
                _ => return Err(format!("unknown modifier `|{raw}`")),
            }
        }
        if !matches!(m.kind, Kind::Plain | Kind::FieldRef) && (m.shape != Shape::Equals || !m.transforms.is_empty()) {
            return Err(format!("`|{}` cannot be combined with string modifiers", mods.join("|")));
        }
        let numeric = matches!(m.kind, Kind::Plain | Kind::Num(_)) && m.shape == Shape::Equals && m.transforms.is_empty() && !m.expand;
        if m.date_part.is_some() && !numeric {
            return Err(format!("`|{}`: a time modifier compares a number (alone or with gt, gte, lt, lte)", mods.join("|")));
        }
        Ok(m)
    }

    fn tests(&self, v: &Yaml, ph: &Placeholders) -> Result<Vec<Test>, String> {
        if v.is_null() {
            return Ok(vec![Test::Null]);
        }
        let text = scalar_text(v).ok_or("a value must be a string, number, boolean or null")?;
        if let Some(part) = self.date_part {
            let want = crate::expr::parse_number(&text).ok_or_else(|| format!("`{text}` is not a number"))?;
            let op = match self.kind {
                Kind::Num(op) => Some(op),
                _ => None,
            };
            return Ok(vec![Test::DatePart { part, op, want }]);
        }
        Ok(match self.kind {
            Kind::Exists => match v {
                Yaml::Bool(b) => vec![Test::Exists(*b)],
                _ => match text.to_ascii_lowercase().as_str() {
                    "true" => vec![Test::Exists(true)],
                    "false" => vec![Test::Exists(false)],
                    _ => return Err("`|exists` takes true or false".into()),
                },
            },
            Kind::Regex { i, m, s } => {
                // Checked now, compiled when a value is first matched: most rules' patterns
                // never meet an event they could match (~63 M instructions of SigmaHQ's load).
                let flags = Flags { case_insensitive: i, multi_line: m, dot_matches_new_line: s };
                let re = LazyRegex::for_existence(text.clone(), flags, build_regex).map_err(|e| regex_error(&text, &e))?;
                vec![Test::Regex(re)]
            }
            Kind::Cidr => vec![parse_cidr(&text)?],
            Kind::Num(op) => {
                let n = crate::expr::parse_number(&text).ok_or_else(|| format!("`{text}` is not a number"))?;
                vec![Test::Num(op, n)]
            }
            Kind::FieldRef => vec![Test::FieldRef { other: text, shape: self.shape, cased: self.cased }],
            Kind::Plain => self.strings(&text, ph)?,
        })
    }

    /// A plain value through expansion, transformations and its shape.
    fn strings(&self, text: &str, ph: &Placeholders) -> Result<Vec<Test>, String> {
        let star_first = matches!(self.shape, Shape::Contains | Shape::EndsWith);
        let star_last = matches!(self.shape, Shape::Contains | Shape::StartsWith);
        if !self.expand && self.transforms.is_empty() {
            // Most values: parsed once into a vector that has room for the stars.
            let mut toks = Vec::with_capacity(text.len() + 2);
            if star_first {
                toks.push(Tok::Star);
            }
            push_sigma_string(&mut toks, text);
            if star_last {
                toks.push(Tok::Star);
            }
            return Ok(vec![Test::Glob(Glob::new(toks, self.cased))]);
        }
        let mut values: Vec<Vec<Tok>> = if self.expand { expand(text, ph)? } else { vec![parse_sigma_string(text)] };
        for t in &self.transforms {
            values = apply(*t, values)?;
            if values.len() > MAX_EXPANSION {
                return Err(format!("a value expands into more than {MAX_EXPANSION} variants"));
            }
        }
        Ok(values
            .into_iter()
            .map(|mut toks| {
                if star_first {
                    toks.insert(0, Tok::Star);
                }
                if star_last {
                    toks.push(Tok::Star);
                }
                Test::Glob(Glob::new(toks, self.cased))
            })
            .collect())
    }
}

/// Compiles a `|re` value with its flags, under the engine's size limit for SPL patterns.
fn build_regex(text: &str, flags: Flags) -> Result<regex::Regex, regex::Error> {
    flags.builder(text).size_limit(vigil_model::lazy_regex::SIZE_LIMIT).build()
}

fn regex_error(text: &str, e: &regex::Error) -> String {
    let pcre = ["(?=", "(?!", "(?<=", "(?<!", "\\1", "(?>"];
    if pcre.iter().any(|p| text.contains(p)) {
        format!("unsupported: `|re` value `{text}` uses look-around, backreferences or atomic groups (PCRE only)")
    } else {
        format!("bad regular expression `{text}`: {}", e.to_string().lines().last().unwrap_or(""))
    }
}

/// The text of a YAML scalar (numbers and booleans as written).
pub fn scalar_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_cidr(text: &str) -> Result<Test, String> {
    let (addr, bits) = text.split_once('/').unwrap_or((text, ""));
    let net: std::net::IpAddr = addr.trim().parse().map_err(|_| format!("`{text}` is not a CIDR range"))?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let bits = if bits.is_empty() { max } else { bits.trim().parse::<u8>().map_err(|_| format!("`{text}` is not a CIDR range"))? };
    if bits > max {
        return Err(format!("`{text}`: prefix longer than the address"));
    }
    Ok(Test::Cidr { net, bits })
}

/// `%name%` placeholders replaced by each of their values (`\%` is a plain percent).
fn expand(text: &str, ph: &Placeholders) -> Result<Vec<Vec<Tok>>, String> {
    let mut out: Vec<Vec<Tok>> = vec![Vec::new()];
    let mut rest = text;
    while !rest.is_empty() {
        let Some(i) = rest.find('%').filter(|&i| i == 0 || !rest[..i].ends_with('\\')) else {
            let plain_part = rest.replace("\\%", "%");
            let toks = parse_sigma_string(&plain_part);
            out.iter_mut().for_each(|o| o.extend(toks.iter().cloned()));
            break;
        };
        let before = rest[..i].replace("\\%", "%");
        let toks = parse_sigma_string(&before);
        out.iter_mut().for_each(|o| o.extend(toks.iter().cloned()));
        let after = &rest[i + 1..];
        let Some(j) = after.find('%') else {
            return Err(format!("unterminated placeholder in `{text}`"));
        };
        let name = &after[..j];
        let values =
            ph.get(name).ok_or_else(|| format!("unsupported: placeholder `%{name}%` has no values in the placeholders configuration"))?;
        let mut next = Vec::new();
        for o in &out {
            for v in values {
                let mut x = o.clone();
                x.extend(parse_sigma_string(v));
                next.push(x);
            }
        }
        out = next;
        rest = &after[j + 1..];
    }
    Ok(out)
}

fn apply(t: Transform, values: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, String> {
    let mut out = Vec::new();
    for v in values {
        match t {
            Transform::Windash => out.extend(windash(&v)),
            _ => {
                if has_wildcards(&v) {
                    return Err(format!("{t:?} cannot encode a value with wildcards"));
                }
                let s: String = v.iter().filter_map(|t| if let Tok::Char(c) = t { Some(*c) } else { None }).collect();
                match t {
                    Transform::Base64 => out.push(plain(&base64(s_bytes(&s)))),
                    Transform::Base64Offset => out.extend(base64_offsets(s_bytes(&s)).iter().map(|x| plain(x))),
                    Transform::Utf16Le => out.push(bytes_as_text(&utf16(&s, false, false))),
                    Transform::Utf16Be => out.push(bytes_as_text(&utf16(&s, true, false))),
                    Transform::Utf16Bom => out.push(bytes_as_text(&utf16(&s, false, true))),
                    Transform::Windash => unreachable!("handled above"),
                }
            }
        }
    }
    Ok(out)
}

/// Text holding encoded bytes: bytes a UTF-16 step produced are kept one char per byte, so
/// that a following base64 step encodes the same bytes.
fn s_bytes(s: &str) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) < 256) && s.chars().any(|c| c == '\0') {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn bytes_as_text(b: &[u8]) -> Vec<Tok> {
    b.iter().map(|&x| Tok::Char(x as char)).collect()
}

fn utf16(s: &str, big: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend([0xff, 0xfe]);
    }
    for u in s.encode_utf16() {
        let b = if big { u.to_be_bytes() } else { u.to_le_bytes() };
        out.extend(b);
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64(data: Vec<u8>) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `data` at byte offsets 0, 1 and 2 of a longer base64 text, cut to
/// the characters that do not depend on the neighbouring bytes (as pySigma does).
fn base64_offsets(data: Vec<u8>) -> Vec<String> {
    let starts = [0usize, 2, 3];
    let ends = [0usize, 3, 2]; // characters cut from the end, by (len + shift) % 3
    (0..3)
        .map(|i| {
            let mut shifted = vec![b' '; i];
            shifted.extend(&data);
            let enc = base64(shifted);
            let cut = ends[(data.len() + i) % 3];
            enc.get(starts[i]..enc.len().saturating_sub(cut)).unwrap_or("").to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Every variant of a value with each `-` or `/` that starts a word replaced by each dash
/// (pySigma's rule: a dash not preceded by a word character and followed by one).
fn windash(v: &[Tok]) -> Vec<Vec<Tok>> {
    let word = |t: Option<&Tok>| matches!(t, Some(Tok::Char(c)) if c.is_alphanumeric() || *c == '_');
    let positions: Vec<usize> = (0..v.len())
        .filter(|&i| matches!(v[i], Tok::Char('-' | '/')) && !word(i.checked_sub(1).and_then(|p| v.get(p))) && word(v.get(i + 1)))
        .collect();
    let mut out = vec![v.to_vec()];
    for &p in &positions {
        let mut next = Vec::with_capacity(out.len() * DASHES.len());
        for o in &out {
            for d in DASHES {
                let mut x = o.clone();
                x[p] = Tok::Char(d);
                next.push(x);
            }
        }
        out = next;
        if out.len() > MAX_EXPANSION {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::to_text;

    #[test]
    fn base64_and_offsets_match_pysigma() {
        assert_eq!(base64(b"hello".to_vec()), "aGVsbG8=");
        // pySigma's base64offset of "/bin/sh"
        assert_eq!(base64_offsets(b"/bin/sh".to_vec()), vec!["L2Jpbi9za", "9iaW4vc2", "vYmluL3No"]);
    }

    #[test]
    fn windash_only_at_word_starts() {
        let v = windash(&parse_sigma_string("a -foo b-c /x"));
        assert_eq!(v.len(), 25);
        assert!(v.iter().any(|t| to_text(t) == "a \u{2013}foo b-c -x"));
        assert!(v.iter().all(|t| to_text(t).contains("b-c")));
    }

    #[test]
    fn utf16_then_base64() {
        let t = apply(Transform::Utf16Le, vec![plain("cmd")]).unwrap();
        let b = apply(Transform::Base64, t).unwrap();
        assert_eq!(to_text(&b[0]), "YwBtAGQA");
    }

    #[test]
    fn placeholders() {
        let mut ph = Placeholders::new();
        ph.insert("Admins".into(), vec!["adm*".into(), "root".into()]);
        let v = expand(r"x%Admins%\%y", &ph).unwrap();
        assert_eq!(v.iter().map(|t| to_text(t)).collect::<Vec<_>>(), vec!["xadm*%y", "xroot%y"]);
        assert!(expand("%Nope%", &ph).unwrap_err().starts_with("unsupported"));
    }
}
