//! Splunk 5-field cron: parsing, and the next ticks from a few instants (bounded).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_time::{Schedule, Tz};

fuzz_target!(|text: &str| {
    let Ok(s) = Schedule::parse(text) else { return };
    let _ = s.as_str();
    let tz = Tz::utc();
    for t in [0, 1_700_000_000_000_000, -62_135_596_800_000_000, 253_402_300_799_000_000] {
        let _ = s.next_after(t, &tz);
    }
    let day = 86_400_000_000;
    let _ = s.ticks(1_700_000_000_000_000, 1_700_000_000_000_000 + day, &tz).take(2000).count();
});
