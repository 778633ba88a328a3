//! Scans of one line or scalar: indicators, keys, plain and quoted scalars, flow sequences.

use serde_norway::Value;

/// Characters that give a node a meaning other than a plain scalar's where it starts. A match,
/// not a slice's `contains` (a memchr call, costly on every line).
pub(crate) fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`'
    )
}

/// `text.lines()` for a text whose every `\r` ends a CRLF, found with the memchr crate.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(Some(text.len()));
    ends.filter_map(move |end| {
        let line = text.get(start..end)?;
        start = end + 1;
        // The text's end after a final line break is no line.
        (end < text.len() || !line.is_empty()).then(|| line.strip_suffix('\r').unwrap_or(line))
    })
}

/// `- ` (or a lone `-`): a sequence entry.
pub(crate) fn is_entry(text: &str) -> bool {
    text.starts_with('-') && (text.len() == 1 || text.as_bytes()[1] == b' ')
}

/// Where a plain key ends: the first `:` followed by a space or the line's end, when the text
/// before it is a simple plain key (no indicator first, no comment, no trailing space).
pub(crate) fn key_end(text: &str) -> Option<usize> {
    if is_indicator(*text.as_bytes().first()?) {
        return None;
    }
    // Only `:` and `#` matter, found with memchr (vectorized; a loop over every byte cost ~8
    // instructions a byte over every line of every file): a comment (` #`) before the `:`
    // is no key.
    let bytes = text.as_bytes();
    let mut comment = false;
    let mut end = None;
    for i in memchr::memchr2_iter(b':', b'#', bytes) {
        if bytes[i] == b':' {
            if bytes.get(i + 1).is_none_or(|&n| n == b' ') {
                end = Some(i);
                break;
            }
        } else {
            comment |= i > 0 && bytes[i - 1] == b' ';
        }
    }
    let end = end?;
    let key = &text[..end];
    (!comment && !key.ends_with(' ') && key != "<<").then_some(end)
}

/// One line of a plain scalar without its comment and trailing spaces; `None` where the text
/// holds what a plain scalar cannot (`: `, a final `:`) or is empty.
pub(crate) fn plain_line(text: &str) -> Option<&str> {
    // The `:`s and `#`s up to the comment, found with memchr (as in `key_end`). A `: ` before
    // the comment is either inside the trimmed text or leaves it ending in `:`: `None` both ways.
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    for i in memchr::memchr2_iter(b':', b'#', bytes) {
        if bytes[i] == b':' {
            if bytes.get(i + 1) == Some(&b' ') {
                return None;
            }
        } else if i > 0 && bytes[i - 1] == b' ' {
            end = i - 1;
            break;
        }
    }
    let text = text[..end].trim_end();
    (!text.is_empty() && !text.ends_with(':')).then_some(text)
}

/// Folds a line break into `text`: a space, or one newline per empty line between.
pub(crate) fn fold(text: &mut String, empty_lines: usize) {
    if empty_lines == 0 {
        text.push(' ');
    } else {
        text.extend(std::iter::repeat_n('\n', empty_lines));
    }
}

/// A plain scalar's value as serde_norway resolves it: text that could be a null, a boolean or
/// a number is left to serde_norway, but for plain decimals and the usual words.
pub(crate) fn resolve_plain(text: &str) -> Option<Value> {
    let first = *text.as_bytes().first()?;
    if !(first.is_ascii_digit() || matches!(first, b'.' | b'+' | b'-' | b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F')) {
        return Some(Value::String(text.to_string()));
    }
    match text {
        "null" | "Null" | "NULL" | "~" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    if text.len() < 20 && text.bytes().all(|b| b.is_ascii_digit()) && (text.len() == 1 || first != b'0') {
        return text.parse::<u64>().ok().map(|n| Value::Number(n.into()));
    }
    if first.is_ascii_alphabetic() || never_a_number(text) {
        return Some(Value::String(text.to_string()));
    }
    match serde_norway::from_str::<Value>(text).ok()? {
        v @ (Value::Null | Value::Bool(_) | Value::Number(_)) => Some(v),
        Value::String(s) if s == text => Some(Value::String(s)),
        _ => None,
    }
}

/// Whether `text` (not a null or boolean word) can be no number serde_norway reads: decimal,
/// `0x`/`0o`/`0b`, floats with one `.` and an exponent, `.inf`/`.nan`, Rust's `inf`/`nan`.
/// Those hold only letters, digits, `+-._`, at most one `.`, and a sign only first or after an
/// exponent's `e`. Ids that start with a digit (`5fbd..-..`), versions (`1.2.3`), times and
/// sentences are thereby strings without asking libyaml (~12 k instructions a call).
pub(crate) fn never_a_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut dots = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let odd = match b {
            b'0'..=b'9' | b'_' => false,
            b'.' => {
                dots += 1;
                dots > 1
            }
            b'+' | b'-' => i > 0 && !matches!(bytes[i - 1], b'e' | b'E'),
            // Hex digits and the letters of `0x`, `0o`, `0b`, `inf`, `infinity`, `nan`.
            b'a'..=b'f' | b'A'..=b'F' | b'i' | b'I' | b'n' | b'N' | b't' | b'T' | b'y' | b'Y' | b'o' | b'O' | b'x' | b'X' => false,
            _ => true,
        };
        if odd {
            return true;
        }
    }
    false
}

/// How a line of a double-quoted scalar ended.
pub(crate) enum Quoted<'a> {
    /// At the closing quote; the text after it.
    Closed(&'a str),
    /// At an escaped line break.
    Joined,
    /// At the line's end; `kept` bytes of the output may not be trimmed (escapes).
    Open { kept: usize },
}

/// One line of a double-quoted scalar (after the opening quote, or a continuation line)
/// appended to `out`; unknown escapes: `None`.
pub(crate) fn double_quoted_line<'a>(text: &'a str, out: &mut String) -> Option<Quoted<'a>> {
    let mut kept = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(Quoted::Closed(&text[i + 1..])),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Some(Quoted::Joined);
                };
                let unescaped = match e {
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex = text.get(i + 2..i + 2 + len)?;
                        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return None;
                        }
                        chars.nth(len - 1);
                        char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                    }
                    _ => simple_escape(e)?,
                };
                out.push(unescaped);
                kept = out.len();
            }
            _ => out.push(c),
        }
    }
    Some(Quoted::Open { kept })
}

/// The character a one-letter escape of a double-quoted scalar stands for.
fn simple_escape(e: char) -> Option<char> {
    Some(match e {
        '0' => '\0',
        'a' => '\x07',
        'b' => '\x08',
        't' => '\t',
        'n' => '\n',
        'v' => '\x0b',
        'f' => '\x0c',
        'r' => '\r',
        'e' => '\x1b',
        ' ' => ' ',
        '"' => '"',
        '/' => '/',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        _ => return None,
    })
}

/// A flow sequence of scalars closed on its line (`[]`, `[a, 'b', "c"]`), nothing but a
/// comment after it.
pub(crate) fn flow_sequence(text: &str) -> Option<Value> {
    let mut items = Vec::new();
    let mut rest = text[1..].trim_start_matches(' ');
    if let Some(after) = rest.strip_prefix(']') {
        return flow_end(after, items);
    }
    loop {
        let (item, after) = match rest.as_bytes().first()? {
            b'\'' => {
                let mut out = String::new();
                let mut from = 1;
                loop {
                    let i = rest[from..].find('\'')? + from;
                    out.push_str(&rest[from..i]);
                    if rest[i + 1..].starts_with('\'') {
                        out.push('\'');
                        from = i + 2;
                    } else {
                        break (Value::String(out), &rest[i + 1..]);
                    }
                }
            }
            b'"' => {
                let mut out = String::new();
                match double_quoted_line(&rest[1..], &mut out)? {
                    Quoted::Closed(after) => (Value::String(out), after),
                    _ => return None,
                }
            }
            _ => {
                let end = rest.find([',', ']'])?;
                let plain = rest[..end].trim_end_matches(' ');
                if plain.is_empty() || is_indicator(plain.as_bytes()[0]) || plain.contains([':', '#', '[', '{', '}', '\'', '"']) {
                    return None;
                }
                (resolve_plain(plain)?, &rest[end..])
            }
        };
        items.push(item);
        let after = after.trim_start_matches(' ');
        if let Some(more) = after.strip_prefix(',') {
            rest = more.trim_start_matches(' ');
            if rest.starts_with(']') {
                return None; // a trailing comma
            }
        } else {
            return flow_end(after.strip_prefix(']')?, items);
        }
    }
}

/// What follows a flow sequence on its line must be nothing or a comment.
fn flow_end(after: &str, items: Vec<Value>) -> Option<Value> {
    nothing_but_comment(after).then_some(Value::Sequence(items))
}

/// Whether `after` (the rest of a line after a node) is spaces, then maybe a comment (`#`
/// after at least one space).
pub(crate) fn nothing_but_comment(after: &str) -> bool {
    let t = after.trim_start_matches(' ');
    t.is_empty() || (t.len() < after.len() && t.starts_with('#'))
}
