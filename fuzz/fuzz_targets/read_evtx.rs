//! Binary EVTX: the input is given the `ElfFile\0` magic (so `sniff` routes it to the EVTX
//! reader) and read from memory, and every 16th input also through a real file (`read_file`
//! reads EVTX files chunk by chunk instead of buffering them).
//!
//! vigil-read catches panics inside the third-party `evtx` crate and counts them as
//! "EVTX parser panic"; libFuzzer's panic hook would abort on those even though Vigil handles
//! them, so the hook installed here only aborts for panics raised outside the evtx crate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use vigil_read::{read_file, read_stream, ReadOptions};

static N: AtomicU64 = AtomicU64::new(0);
static EVTX_PANIC_SEEN: AtomicBool = AtomicBool::new(false);

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|info| {
            let in_evtx = info.location().is_some_and(|l| l.file().contains("/evtx-"));
            if !in_evtx {
                eprintln!("{info}");
                std::process::abort();
            }
            // Tolerated (vigil-read counts it), but say so once per run for the record.
            if !EVTX_PANIC_SEEN.swap(true, Ordering::Relaxed) {
                eprintln!("note: panic inside the evtx crate, caught by vigil-read: {info}");
            }
        }));
    },
    |data: &[u8]| {
        let mut buf = Vec::with_capacity(data.len() + 8);
        if !data.starts_with(b"ElfFile\0") {
            buf.extend_from_slice(b"ElfFile\0");
        }
        buf.extend_from_slice(data);
        let opts = ReadOptions { max_buffer_bytes: 1 << 22, ..ReadOptions::default() };
        let mut events = 0u64;
        let report = read_stream("fuzz.evtx", buf.as_slice(), &opts, &mut |_ev| events += 1);
        assert_eq!(report.events, events);
        if N.fetch_add(1, Ordering::Relaxed) % 16 == 0 {
            let path = std::env::temp_dir().join(format!("vigil-fuzz-{}.evtx", std::process::id()));
            if std::fs::write(&path, &buf).is_ok() {
                let from_file = read_file(&path, &opts, &mut |_ev| {});
                assert_eq!(from_file.events, report.events, "file and buffer EVTX paths disagree");
            }
        }
    }
);
