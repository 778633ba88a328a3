//! Resource limits: one enormous record is skipped and reported, never loaded whole.

use std::io::{self, BufWriter, Read, Write};
use vigil_read::{read_file, read_stream, ReadOptions};

const EVENT: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:15:01.1234567Z'/><Computer>H1</Computer></System><EventData><Data Name='Image'>C:\\x.exe</Data></EventData></Event>";

/// `head`, then `len` filler bytes, then `tail`, generated on the fly.
struct Generated {
    head: Vec<u8>,
    filler: u8,
    left: u64,
    tail: Vec<u8>,
    pos: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        if self.left > 0 {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(self.filler);
            self.left -= n as u64;
            return Ok(n);
        }
        let at = self.pos - self.head.len();
        let n = buf.len().min(self.tail.len() - at);
        buf[..n].copy_from_slice(&self.tail[at..at + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Peak resident memory of this process so far, in bytes (Linux; 0 elsewhere).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn a_100_mb_line_is_skipped_without_loading_it() {
    let before = peak_rss();
    let input = Generated {
        head: format!("{EVENT}\n<Event ").into_bytes(),
        filler: b'x',
        left: 100 * 1024 * 1024,
        tail: format!("</Event>\n{EVENT}\n").into_bytes(),
        pos: 0,
    };
    let r = read_stream("big.log", input, &ReadOptions::default(), &mut |_| {});
    assert_eq!(r.events, 2, "{r:?}");
    assert_eq!(r.skipped_count("record too long"), 1, "{r:?}");
    let s = &r.skipped["record too long"];
    assert!(s.examples[0].starts_with("big.log:2"), "{:?}", s.examples);
    assert!(s.examples[0].contains("104857"), "the size is reported: {:?}", s.examples);
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 64 * 1024 * 1024, "peak memory grew by {grew} bytes reading a 100 MB line");
}

#[test]
fn a_20_mb_line_in_a_file_is_skipped_under_a_small_limit() {
    let dir = std::env::temp_dir().join(format!("vigil-read-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.log");
    let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(w, "{EVENT}").unwrap();
    w.write_all(b"<Event ").unwrap();
    let chunk = vec![b'y'; 1 << 20];
    for _ in 0..20 {
        w.write_all(&chunk).unwrap();
    }
    writeln!(w, "</Event>\n{EVENT}").unwrap();
    drop(w);
    let opts = ReadOptions { max_record_bytes: 1 << 20, ..ReadOptions::default() };
    let r = read_file(&path, &opts, &mut |_| {});
    assert_eq!(r.events, 2, "{r:?}");
    assert_eq!(r.skipped_count("record too long"), 1, "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_over_long_json_array_element_is_reported_not_parsed() {
    let input = Generated {
        head: b"[{\"a\": 1},\n {\"b\": \"".to_vec(),
        filler: b'z',
        left: 5 * 1024 * 1024,
        tail: b"\"}, {\"c\": 1}]".to_vec(),
        pos: 0,
    };
    let opts = ReadOptions { max_record_bytes: 64 * 1024, ..ReadOptions::default() };
    let r = read_stream("arr.json", input, &opts, &mut |_| {});
    assert_eq!(r.events, 1, "{r:?}");
    assert_eq!(r.skipped_count("record too long"), 1, "{r:?}");
    let s = &r.skipped["record too long"];
    assert!(s.examples[0].contains("65536 bytes"), "{:?}", s.examples);
    // Within the limit, every element is read.
    let ok = read_stream("ok.json", &b"[{\"a\": 1}, {\"b\": 2}, {\"c\": 3}]"[..], &opts, &mut |_| {});
    assert_eq!(ok.events, 3);
}
