use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::fmt;

/// A field value as SPL sees it.
///
/// Splunk stores everything as text and interprets numbers on demand; `Num` exists for the
/// results of arithmetic and aggregations (count, min(_time)) so that they keep their type
/// until rendered. Multivalue fields hold text items (Splunk renders each item as text).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Str(String),
    Num(f64),
    Multi(Vec<String>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's items: none for null, one for a scalar, each item of a multivalue.
    pub fn items(&self) -> Vec<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Value::Null => Vec::new(),
            Value::Str(s) => vec![Cow::Borrowed(s.as_str())],
            Value::Num(n) => vec![Cow::Owned(format_num(*n))],
            Value::Multi(v) => v.iter().map(|s| Cow::Borrowed(s.as_str())).collect(),
        }
    }

    /// Numeric interpretation, as Splunk does for comparisons and arithmetic: a number, or a
    /// string that parses completely as one (leading/trailing spaces allowed).
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => parse_num(s),
            Value::Multi(v) if v.len() == 1 => parse_num(&v[0]),
            _ => None,
        }
    }

    /// Text form of a scalar (first item of a multivalue); `None` for null.
    pub fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Value::Null => None,
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Num(n) => Some(Cow::Owned(format_num(*n))),
            Value::Multi(v) => v.first().map(|s| Cow::Borrowed(s.as_str())),
        }
    }

    /// Builds a value from items: null for none, a scalar for one, a multivalue otherwise.
    pub fn from_items(mut items: Vec<String>) -> Value {
        match items.len() {
            0 => Value::Null,
            1 => Value::Str(items.pop().unwrap_or_default()),
            _ => Value::Multi(items),
        }
    }
}

/// Parses a number the way Splunk's eval does: decimal or exponent form, optionally signed.
pub fn parse_num(s: &str) -> Option<f64> {
    // Most texts asked are words or paths: one starting with a letter (never white space,
    // never a number's first character) is no number, without trimming it first.
    if s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let b = t.as_bytes();
    // Reject forms Rust accepts but Splunk does not treat as numbers ("inf", "nan", "0x10").
    let first = b[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if b.iter().any(|c| c.is_ascii_alphabetic() && *c != b'e' && *c != b'E') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Room for any `i64` or `u64` in decimal.
pub const DECIMAL_LEN: usize = 20;

/// `n` in decimal, written into the end of `buf` (for hot paths that must not allocate).
pub fn decimal_u64(n: u64, buf: &mut [u8; DECIMAL_LEN]) -> &str {
    let start = write_digits(n, buf);
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

/// `n` in decimal with its sign, written into the end of `buf` (no allocation).
pub fn decimal_i64(n: i64, buf: &mut [u8; DECIMAL_LEN + 1]) -> &str {
    let mut digits = [0u8; DECIMAL_LEN];
    let start = write_digits(n.unsigned_abs(), &mut digits);
    let at = buf.len() - (DECIMAL_LEN - start);
    buf[at..].copy_from_slice(&digits[start..]);
    let begin = if n < 0 {
        buf[at - 1] = b'-';
        at - 1
    } else {
        at
    };
    std::str::from_utf8(&buf[begin..]).unwrap_or_default()
}

/// Writes the digits of `n` at the end of `buf`; returns where they start.
fn write_digits(mut n: u64, buf: &mut [u8; DECIMAL_LEN]) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Renders a number as Splunk does: integers without a fraction, others in shortest form.
pub fn format_num(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e16 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Str(s) => f.write_str(s),
            Value::Num(n) => f.write_str(&format_num(*n)),
            Value::Multi(v) => f.write_str(&v.join("\n")),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Str(v) => s.serialize_str(v),
            // Splunk returns every field as text; keep that so outputs compare to Splunk's.
            Value::Num(n) => s.serialize_str(&format_num(*n)),
            Value::Multi(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for item in v {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Num(n)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_match_to_string() {
        for n in [0i64, 7, -7, 10, -10, 1_700_000_000, i64::MAX, i64::MIN, -1] {
            assert_eq!(decimal_i64(n, &mut [0; DECIMAL_LEN + 1]), n.to_string());
        }
        for n in [0u64, 9, 10, u64::MAX] {
            assert_eq!(decimal_u64(n, &mut [0; DECIMAL_LEN]), n.to_string());
        }
    }

    use super::*;

    #[test]
    fn numbers_render_like_splunk() {
        assert_eq!(format_num(3.0), "3");
        assert_eq!(format_num(1700000000.0), "1700000000");
        assert_eq!(format_num(0.5), "0.5");
        assert_eq!(format_num(-2.0), "-2");
    }

    #[test]
    fn only_plain_numbers_parse() {
        assert_eq!(parse_num(" 42 "), Some(42.0));
        assert_eq!(parse_num("-1.5e3"), Some(-1500.0));
        assert_eq!(parse_num("0x1b28"), None);
        assert_eq!(parse_num("inf"), None);
        assert_eq!(parse_num(""), None);
        assert_eq!(parse_num("12abc"), None);
        // A leading letter is no number, whatever follows; leading white space is trimmed.
        assert_eq!(parse_num("e5"), None);
        assert_eq!(parse_num("E5 "), None);
        assert_eq!(parse_num("credui.dll"), None);
        assert_eq!(parse_num("\u{b}7"), Some(7.0));
        assert_eq!(parse_num("\u{a0}-2"), Some(-2.0));
    }

    #[test]
    fn items_of_values() {
        assert!(Value::Null.items().is_empty());
        assert_eq!(Value::from_items(vec!["a".into()]), Value::str("a"));
        assert_eq!(Value::from_items(vec!["a".into(), "b".into()]).items().len(), 2);
    }
}
