//! Time spans as written in SPL (`bin span=1h`, `tstats ... span=10m`).

use vigil_model::Micros;

/// Parses a bin/tstats span such as `1h`, `10m`, `30s`, `1d`, `1w` into microseconds.
pub(crate) fn parse_span(s: &str) -> Option<Micros> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = if num.is_empty() { 1.0 } else { num.parse().ok()? };
    let secs = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "week" | "weeks" => 604800.0,
        _ => return None,
    };
    let micros = n * secs * 1e6;
    (micros >= 1.0 && micros.is_finite()).then_some(micros as Micros)
}
