//! JSON readers: JSON lines, pretty-printed documents gathered across lines, and top-level
//! arrays streamed element by element. The first byte selects which one, so every path is
//! reached whatever the corpus holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_read::{read_stream, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let mut buf = Vec::with_capacity(body.len() + 1);
    match mode % 4 {
        0 => {}
        1 => buf.push(b'['),
        2 => buf.push(b'{'),
        _ => buf.extend_from_slice(b"{\n"),
    }
    buf.extend_from_slice(body);
    let opts = ReadOptions { max_record_bytes: 8192, max_buffer_bytes: 1 << 20, ..ReadOptions::default() };
    let mut events = 0u64;
    let report = read_stream("fuzz.json", buf.as_slice(), &opts, &mut |_ev| events += 1);
    assert_eq!(report.events, events);
});
