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
pub use strftime::{format_export_time, format_time, CONVERT_DEFAULT_FORMAT, ESCU_CTIME_FORMAT};
pub use strptime::parse_time;
pub use tz::Tz;
pub use vigil_model::Micros;
pub use window::Window;

#[cfg(test)]
mod fuzzish {
    //! Property-style smoke test: random strings built from each parser's alphabet never panic.
    use super::*;

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn string(&mut self, alphabet: &[&str], max_len: u64) -> String {
            let len = self.next() % (max_len + 1);
            (0..len).map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize]).collect()
        }
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let paris = Tz::parse("Europe/Paris").unwrap_or_default();
        let modifier = [
            "+",
            "-",
            "@",
            "1",
            "0",
            "7",
            "9",
            "99999999999",
            "m",
            "mon",
            "w",
            "w1",
            "d",
            "q",
            "y",
            "s",
            "ms",
            ".",
            ":",
            "/",
            "T",
            "Z",
            "é",
            " ",
            "now",
            "rt",
            "2026-11-29",
            "x",
        ];
        let fmt =
            ["%", "Y", "m", "d", "H", "M", "S", "3", "9", "N", "Q", "s", "z", "Z", "p", "j", "a", "b", "T", "-", " ", ":", "é", "%%", "99"];
        let input =
            ["0", "1", "2", "9", "12", "2026", "-", "+", ":", " ", ".", "Z", "PM", "Jan", "Sun", "UTC", "é", "99999999999999999999"];
        let iso = ["0", "1", "2", "9", "-", ":", "T", " ", ".", "Z", "+", "2026-11-29T10:00:00", "é", "60"];
        let cron = ["*", "/", ",", "-", "0", "5", "59", "60", "99999", "mon", "jan", "L", "#", "?", " ", "é", "@hourly", "7"];
        for _ in 0..20_000 {
            let s = rng.string(&modifier, 8);
            if let Ok(spec) = parse_modifier(&s) {
                let now = rng.next() as i64;
                let _ = resolve(&spec, now, &paris);
                let _ = resolve(&spec, 1_795_961_137_000_000, &Tz::utc());
            }
            let f = rng.string(&fmt, 10);
            let i = rng.string(&input, 10);
            let _ = parse_time(&i, &f, &paris);
            let _ = format_time(rng.next() as i64, &f, &paris);
            let _ = parse_iso8601_utc(&rng.string(&iso, 12));
            if let Ok(s) = Schedule::parse(&rng.string(&cron, 9)) {
                let _ = s.next_after(1_795_961_137_000_000, &paris);
            }
            let _ = Tz::parse(&rng.string(&input, 3));
        }
    }
}
