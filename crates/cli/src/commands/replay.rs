//! `vigil replay FILE --source S --sourcetype T [--shift-to now|TIME] [-o OUT]`: a dataset
//! with its timestamps shifted so that its latest event is at the target time, every offset
//! kept, written in the input's own format.
//!
//! The latest event is found by reading the file as `vigil hunt` would (with the given source
//! and sourcetype). The rewrite is textual, line by line, so everything else in a record stays
//! byte for byte: in XML lines `SystemTime='...'` and Sysmon's `<Data Name='UtcTime'>`; in
//! JSON lines the time keys Vigil reads (`timestamp` and `ProcessStartTime`/`ContextTimeStamp`
//! for CrowdStrike, `fss`/`fes`/`fsms`/`fems` for Cisco NVM, `@timestamp`, `TimeCreated`,
//! `EventTime`, `UtcTime`, `SystemTime`, `time` for flat JSON), epoch values in their unit
//! (seconds, milliseconds, microseconds by magnitude) and ISO texts with their precision and
//! zone suffix. Only line-oriented text (XML or JSON lines) can be rewritten in place; an EVTX
//! file is written as XmlWinEventLog lines (each record's XML on one line, in file order, times
//! shifted likewise), the form attack_data ships; archives and JSON arrays are refused.

use crate::exit;
use clap::Args;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use vigil_model::calendar::{civil_from_days, days_from_civil};
use vigil_model::Micros;
use vigil_read::{Format, ReadOptions};

#[derive(Args)]
#[command(after_help = "Vigil has no continuous (streaming) mode yet, so replay writes to stdout or a file; \
sending to a running Vigil will come with that mode.")]
pub struct ReplayArgs {
    /// The dataset: XML or JSON lines (as attack_data ships them).
    pub file: PathBuf,
    /// The source the events are indexed with (e.g. XmlWinEventLog:Microsoft-Windows-Sysmon/Operational).
    #[arg(long)]
    pub source: String,
    /// The sourcetype (e.g. XmlWinEventLog, crowdstrike:events:sensor, cisco:nvm:flowdata).
    #[arg(long)]
    pub sourcetype: String,
    /// Where the latest event goes: `now`, an ISO 8601 time (2026-01-31T12:00:00Z) or epoch
    /// seconds.
    #[arg(long, value_name = "now|TIME", default_value = "now")]
    pub shift_to: String,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
}

pub fn run(args: ReplayArgs) -> u8 {
    let target = match parse_target(&args.shift_to) {
        Some(t) => t,
        None => {
            eprintln!("vigil: --shift-to: expected `now`, an ISO 8601 time or epoch seconds, got `{}`", args.shift_to);
            return exit::USAGE;
        }
    };
    let mut head = [0u8; 4096];
    let n = match std::fs::File::open(&args.file).and_then(|mut f| std::io::Read::read(&mut f, &mut head)) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("vigil: {}: {e}", args.file.display());
            return exit::USAGE;
        }
    };
    let evtx = match vigil_read::sniff(&head[..n]) {
        Format::XmlLines | Format::JsonLines | Format::Text | Format::Empty => false,
        Format::Evtx => true,
        other => {
            eprintln!(
                "vigil: {}: {other:?} input cannot be rewritten in place; replay supports XML and JSON lines, and EVTX",
                args.file.display()
            );
            return exit::USAGE;
        }
    };
    let opts = ReadOptions { source: Some(args.source.clone()), sourcetype: Some(args.sourcetype.clone()), ..ReadOptions::default() };
    let mut latest: Option<Micros> = None;
    // EVTX records become XML lines; text is rewritten from the file itself.
    let mut records: Vec<String> = Vec::new();
    let report = vigil_read::read_file(&args.file, &opts, &mut |ev| {
        if let Some(t) = ev.time {
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
        if evtx && !ev.raw.is_empty() {
            records.push(ev.raw.replace(['\r', '\n'], " "));
        }
    });
    let Some(latest) = latest else {
        eprintln!("vigil: {}: no event with a timestamp ({} events read)", args.file.display(), report.events);
        return exit::USAGE;
    };
    let delta = target - latest;
    let write = |out: &mut dyn Write| if evtx { write_records(&records, out, delta) } else { rewrite_file(&args.file, out, delta) };
    let result = match &args.output {
        Some(p) => std::fs::File::create(p).and_then(|f| write(&mut std::io::BufWriter::new(f))),
        None => write(&mut std::io::stdout().lock()),
    };
    match result {
        Ok(lines) => {
            eprintln!("vigil: {lines} lines, {} events, shifted by {:+.3} s", report.events, delta as f64 / 1e6);
            exit::OK
        }
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("vigil: replay: {e}");
            exit::USAGE
        }
    }
}

fn parse_target(s: &str) -> Option<Micros> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Some(vigil_time::now_micros());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return vigil_time::micros_from_secs(secs);
    }
    vigil_time::parse_iso8601_utc(s)
}

fn rewrite_file(path: &PathBuf, out: &mut dyn Write, delta: Micros) -> std::io::Result<u64> {
    let mut r = BufReader::new(std::fs::File::open(path)?);
    let mut buf = Vec::new();
    let mut lines = 0;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        lines += 1;
        match std::str::from_utf8(&buf) {
            Ok(text) => out.write_all(rewrite_line(text, delta).as_bytes())?,
            Err(_) => out.write_all(&buf)?,
        }
    }
    out.flush()?;
    Ok(lines)
}

/// EVTX records as XML lines, times shifted.
fn write_records(records: &[String], out: &mut dyn Write, delta: Micros) -> std::io::Result<u64> {
    for r in records {
        out.write_all(rewrite_line(r, delta).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(records.len() as u64)
}

/// JSON keys holding times, as the readers take them.
const JSON_TIME_KEYS: &[&str] = &[
    "timestamp",
    "ProcessStartTime",
    "ContextTimeStamp",
    "fss",
    "fes",
    "fsms",
    "fems",
    "@timestamp",
    "TimeCreated",
    "EventTime",
    "UtcTime",
    "SystemTime",
    "time",
];

/// Shifts every timestamp Vigil reads in one line by `delta`.
pub fn rewrite_line(line: &str, delta: Micros) -> String {
    if line.trim_start().starts_with('{') {
        let mut s = line.to_string();
        for key in JSON_TIME_KEYS {
            s = rewrite_after(&s, &format!("\"{key}\""), delta, true);
        }
        return s;
    }
    if line.contains("<Event") {
        let mut s = line.to_string();
        for pat in ["SystemTime='", "SystemTime=\"", "Name='UtcTime'>", "Name=\"UtcTime\">"] {
            s = rewrite_after(&s, pat, delta, false);
        }
        return s;
    }
    line.to_string()
}

/// Rewrites the value after each occurrence of `marker`: for JSON, after `"key"` comes `:` and
/// a number or a quoted string; for XML the value runs to the next quote or `<`.
fn rewrite_after(s: &str, marker: &str, delta: Micros, json: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(i) = rest.find(marker) {
        let (before, after) = rest.split_at(i + marker.len());
        out.push_str(before);
        rest = after;
        let (prefix_len, quoted) = if json {
            let trimmed = rest.trim_start();
            let Some(colon) = trimmed.strip_prefix(':') else { continue };
            let value = colon.trim_start();
            (rest.len() - value.len(), value.starts_with('"'))
        } else {
            (0, false)
        };
        out.push_str(&rest[..prefix_len]);
        rest = &rest[prefix_len..];
        let body_start = usize::from(quoted);
        let body = &rest[body_start..];
        let end = if json && !quoted {
            body.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(body.len())
        } else {
            body.find(['"', '\'', '<']).unwrap_or(body.len())
        };
        let value = &body[..end];
        out.push_str(&rest[..body_start]);
        match shift_value(value, delta) {
            Some(v) => out.push_str(&v),
            None => out.push_str(value),
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// A shifted timestamp in the same notation: epoch number (unit by magnitude, decimals kept)
/// or ISO-like date-time (separator, precision and zone suffix kept).
pub fn shift_value(v: &str, delta: Micros) -> Option<String> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') && v.bytes().filter(|&b| b == b'.').count() <= 1 {
        return shift_epoch(v, delta);
    }
    shift_iso(v, delta)
}

fn shift_epoch(v: &str, delta: Micros) -> Option<String> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    // Unit from the magnitude of the integer part: s (10 digits), ms (13), µs (16).
    let unit: i128 = match int.len() {
        0..=11 => 1_000_000,
        12..=14 => 1_000,
        _ => 1,
    };
    let frac_digits = frac.len() as u32;
    let scale = 10i128.checked_pow(frac_digits)?;
    let value: i128 = format!("{int}{frac}").parse().ok()?; // in unit / scale
                                                            // delta in the value's own resolution, rounded to it.
    let step = (delta as i128) * scale / unit;
    let shifted = value.checked_add(step)?;
    if shifted < 0 {
        return None;
    }
    let text = shifted.to_string();
    if frac_digits == 0 {
        return Some(text);
    }
    let text = format!("{text:0>width$}", width = frac_digits as usize + 1);
    let (i, f) = text.split_at(text.len() - frac_digits as usize);
    Some(format!("{i}.{f}"))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff...][suffix]`: the wall-clock part is shifted, the suffix (Z,
/// +01:00, nothing) kept; fractional digits beyond microseconds are kept as they were.
fn shift_iso(v: &str, delta: Micros) -> Option<String> {
    let b = v.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| v.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut pos = 19;
    let mut frac = "";
    if b.get(19) == Some(&b'.') {
        let digits = v[20..].bytes().take_while(u8::is_ascii_digit).count();
        frac = &v[20..20 + digits];
        pos = 20 + digits;
    }
    let suffix = &v[pos..];
    let micros_frac: i64 = format!("{:0<6}", frac.get(..frac.len().min(6)).unwrap_or("")).parse().ok()?;
    let total = ((days_from_civil(y, mo as u32, d as u32) * 86400 + h * 3600 + mi * 60 + s) as i128) * 1_000_000
        + micros_frac as i128
        + delta as i128;
    let secs = total.div_euclid(1_000_000) as i64;
    let us = total.rem_euclid(1_000_000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let sod = secs.rem_euclid(86400);
    let mut out = format!("{y:04}-{mo:02}-{d:02}{}{:02}:{:02}:{:02}", b[10] as char, sod / 3600, sod % 3600 / 60, sod % 60);
    if !frac.is_empty() {
        let six = format!("{us:06}");
        out.push('.');
        if frac.len() <= 6 {
            out.push_str(&six[..frac.len()]);
        } else {
            out.push_str(&six);
            out.push_str(&frac[6..]);
        }
    }
    out.push_str(suffix);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Micros = 3_600_000_000;

    #[test]
    fn epoch_values_keep_their_unit() {
        assert_eq!(shift_value("1795169701", HOUR).as_deref(), Some("1795173301"));
        assert_eq!(shift_value("1795169701123", HOUR).as_deref(), Some("1795173301123"));
        assert_eq!(shift_value("1795169701.500", -HOUR).as_deref(), Some("1795166101.500"));
        assert_eq!(shift_value("1795169701123456", 1).as_deref(), Some("1795169701123457"));
    }

    #[test]
    fn iso_values_keep_precision_and_suffix() {
        assert_eq!(shift_value("2026-11-20T10:15:01.1234567Z", HOUR).as_deref(), Some("2026-11-20T11:15:01.1234567Z"));
        assert_eq!(shift_value("2026-12-31T23:30:00.123Z", HOUR).as_deref(), Some("2027-01-01T00:30:00.123Z"));
        assert_eq!(shift_value("2024-02-28 23:59:59.999", 1_000).as_deref(), Some("2024-02-29 00:00:00.000"));
        assert_eq!(shift_value("2026-11-20T10:15:01+01:00", -24 * HOUR).as_deref(), Some("2026-11-19T10:15:01+01:00"));
        assert_eq!(shift_value("not a time", HOUR), None);
    }

    #[test]
    fn lines_are_rewritten_in_place() {
        let xml = "<Event><System><TimeCreated SystemTime='2026-11-20T10:15:01.1234567Z'/></System><EventData><Data Name='UtcTime'>2026-11-20 10:15:01.123</Data></EventData></Event>\r\n";
        assert_eq!(
            rewrite_line(xml, HOUR),
            "<Event><System><TimeCreated SystemTime='2026-11-20T11:15:01.1234567Z'/></System><EventData><Data Name='UtcTime'>2026-11-20 11:15:01.123</Data></EventData></Event>\r\n"
        );
        let cs = "{\"a\":\"x\",\"timestamp\":\"1795169701123\",\"ProcessStartTime\": 1795169701.100}\n";
        assert_eq!(rewrite_line(cs, HOUR), "{\"a\":\"x\",\"timestamp\":\"1795173301123\",\"ProcessStartTime\": 1795173301.100}\n");
        let nvm = "{\"fss\": \"1795169701\", \"fes\": \"1795169703\", \"fsms\": 1795169701000}";
        assert_eq!(rewrite_line(nvm, HOUR), "{\"fss\": \"1795173301\", \"fes\": \"1795173303\", \"fsms\": 1795173301000}");
        let flat = "{\"@timestamp\":\"2026-11-20T10:15:01.123Z\",\"TimeCreated\":\"2026-11-20T10:15:01.123Z\",\"x\":\"timestamp\"}";
        assert_eq!(
            rewrite_line(flat, HOUR),
            "{\"@timestamp\":\"2026-11-20T11:15:01.123Z\",\"TimeCreated\":\"2026-11-20T11:15:01.123Z\",\"x\":\"timestamp\"}"
        );
        assert_eq!(rewrite_line("junk line\n", HOUR), "junk line\n");
    }
}
