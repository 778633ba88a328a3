//! Splunk time semantics, as pure functions over [`Micros`] (microseconds since the epoch, UTC).
//!
//! - [`Tz`]: a time zone (IANA name, `UTC`, or a fixed offset such as `+02:00`).
//! - [`format_time`] / [`parse_time`]: Splunk's `strftime`/`strptime` directives, used by
//!   `convert ctime()`, `eval strftime()`, `eval strptime()` and `convert mktime()`.
//! - [`parse_modifier`] / [`resolve`]: relative time modifiers such as `-70m@m`, `@w1`, `-1d@d+6h`,
//!   used by `earliest=`/`latest=`, scheduled-search windows and `relative_time()`.
//! - [`Schedule`]: Splunk's 5-field cron (`cron_schedule`).
//! - [`Window`]: a search time range, `earliest <= t < latest`.
//! - [`parse_iso8601_utc`]: a hand-written, allocation-free parser for event timestamps (EVTX
//!   `SystemTime` with 7 fractional digits, Sysmon `UtcTime`).
//!
//! Nothing here panics on any input: parsers return `None`/`Err`, arithmetic saturates.

mod cron;
mod error;
mod iso;
mod modifier;
mod strftime;
mod strptime;
mod tz;
mod window;

pub use cron::Schedule;
pub use error::TimeError;
pub use iso::{micros_from_secs, now_micros, parse_iso8601_utc, parse_sysmon_utctime};
pub use modifier::{parse_modifier, relative_time, resolve, LocalDateTime, SnapUnit, Step, TimeSpec, Unit};
pub use strftime::{format_time, CONVERT_DEFAULT_FORMAT, ESCU_CTIME_FORMAT};
pub use strptime::parse_time;
pub use tz::Tz;
pub use vigil_model::Micros;
pub use window::Window;
