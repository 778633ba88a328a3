//! Value formats as contentctl's pydantic models read them (contentctl 4.4.7): integers, UUIDs,
//! dates, ATT&CK and CVE ids, URLs; and how a YAML value is shown in a message.

use serde_norway::Value;

/// A YAML value as messages show it.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("`{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// An integer as pydantic reads one: a whole number, or text of digits.
pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A UUID as Python's `uuid.UUID` reads one: 32 hex digits, hyphens anywhere, optional braces
/// or `urn:uuid:`.
pub fn is_uuid(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let hex: String = s.chars().filter(|&c| c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
        return false;
    }
    let month: u32 = s[5..7].parse().unwrap_or(0);
    let day: u32 = s[8..10].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// contentctl's pattern `^T\d{4}(.\d{3})?$` (its `.` matches any character).
pub fn is_attack_id(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    let digits = |r: std::ops::Range<usize>| c[r].iter().all(char::is_ascii_digit);
    match c.len() {
        5 => c[0] == 'T' && digits(1..5),
        9 => c[0] == 'T' && digits(1..5) && digits(6..9),
        _ => false,
    }
}

/// contentctl's pattern `^CVE-[1|2]\d{3}-\d+$`.
pub fn is_cve(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.starts_with(['1', '2', '|'])
        && year[1..].bytes().all(|b| b.is_ascii_digit())
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// pydantic's `HttpUrl`, roughly: http or https with a host.
pub fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.contains(char::is_whitespace)
    })
}
