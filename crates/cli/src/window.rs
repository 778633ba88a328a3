//! Time ranges over the one-pass scan: `hunt/search --earliest/--latest` and the per-run
//! windows of `backtest`.
//!
//! Both are [`Consumer`] wrappers in front of the engine (the range one is
//! [`vigil_scan::Windowed`]), so the engine never learns about
//! time ranges: an event outside a range simply never reaches it.
//!
//! Decisions:
//! - A window is `earliest <= _time < latest` (Splunk).
//! - An event and all the dataset rows normalized from it share one `_time` (the normalizer
//!   stamps each row with the event's time), so routing is decided once per event.
//! - Events without `_time` (the reader found no timestamp) pass only when no range is set.
//!   Splunk would give them their index time, which a file does not have; rather than guess,
//!   they are dropped from any time-restricted run and counted on stderr.

use clap::Args;
use vigil_engine::EvalContext;
use vigil_model::Micros;
use vigil_scan::RunOutput;
// The scheduled-run windowing lives in the scan library (backtest and serve share it).
pub use vigil_scan::schedule::*;
use vigil_time::{parse_modifier, resolve, TimeSpec, Tz, Window};

/// `--earliest/--latest/--now` for `hunt` and `search`.
#[derive(Args, Clone, Debug, Default)]
pub struct WindowArgs {
    /// Only events with _time >= this: a Splunk time modifier (`-24h@h`, `@d`, `-7d@w1`),
    /// epoch seconds or ISO 8601 (`2026-11-20T10:00:00Z`). Relative times use --now.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub earliest: Option<String>,
    /// Only events with _time < this (same forms as --earliest).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub latest: Option<String>,
    /// The search's "now" for relative times and now(): epoch seconds or ISO 8601
    /// (default: the wall clock).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub now: Option<String>,
}

impl WindowArgs {
    /// Resolves the range against `--now` (which also becomes `ctx.now`). `None` when neither
    /// bound is given: every event passes.
    pub fn resolve(&self, ctx: &mut EvalContext) -> Result<Option<Window>, String> {
        if let Some(now) = &self.now {
            ctx.now = parse_now("--now", now, &ctx.tz)?;
        }
        if self.earliest.is_none() && self.latest.is_none() {
            return Ok(None);
        }
        let earliest = match &self.earliest {
            Some(s) => parse_time("--earliest", s, ctx.now, &ctx.tz)?,
            None => Micros::MIN,
        };
        let latest = match &self.latest {
            Some(s) => parse_time("--latest", s, ctx.now, &ctx.tz)?,
            None => Micros::MAX,
        };
        if earliest > latest {
            return Err(format!("--earliest ({}) is after --latest ({})", iso(earliest), iso(latest)));
        }
        Ok(Some(Window::new(earliest, latest)))
    }
}

/// A time in any Splunk form, relative ones resolved against `now` in `tz`.
pub fn parse_time(flag: &str, text: &str, now: Micros, tz: &Tz) -> Result<Micros, String> {
    let spec = parse_modifier(text).map_err(|e| format!("{flag}: {e}"))?;
    Ok(resolve(&spec, now, tz))
}

/// An absolute time (epoch seconds, ISO 8601, a wall-clock date in `tz`) or `now`.
pub fn parse_now(flag: &str, text: &str, tz: &Tz) -> Result<Micros, String> {
    let spec = parse_modifier(text).map_err(|e| format!("{flag}: {e}"))?;
    match spec {
        TimeSpec::Relative(_) => {
            Err(format!("{flag}: `{text}` is relative; give an absolute time (epoch seconds or ISO 8601, e.g. 2026-11-20T12:00:00Z)"))
        }
        other => Ok(resolve(&other, vigil_time::now_micros(), tz)),
    }
}

/// Prints how many events the time range dropped, if one was set.
pub fn report_dropped(window: Option<Window>, out: &RunOutput) {
    let (Some(window), Some(d)) = (window, out.dropped) else { return };
    let outside = d.before + d.after;
    let span = match d.span {
        Some((lo, hi)) if outside > 0 => format!("; the events span {} .. {}", iso(lo), iso(hi)),
        _ => String::new(),
    };
    eprintln!(
        "vigil: time range {} .. {} (latest exclusive): {outside} event{} outside it ({} before, {} at or after), {} without _time, dropped{span}",
        iso(window.earliest),
        iso(window.latest),
        if outside == 1 { "" } else { "s" },
        d.before,
        d.after,
        d.untimed
    );
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
