//! Differential test of the JSON line scanner: every JSON line read (the real files, including
//! zipped ones, the samples, and a generated corpus) is read again by the full serde_json path,
//! which defines the output; the reader's event must be identical (fields in order, time,
//! source, sourcetype, host, raw). A deterministic random-mutation test then requires that
//! whenever the fast path accepts a line, the full path gives the same event.
//!
//! The generated corpus is read from `$VIGIL_JSON_CORPUS` (default `/tmp/j`), made with
//! `cargo run --release -p vigil-benchgen --bin benchgen -- --out /tmp/j --size-mb 5 --format json`;
//! it is skipped with a note when absent.

use std::path::{Path, PathBuf};
use vigil_model::Event;
use vigil_read::json::{line_fast, line_full};
use vigil_read::{discover, read_file, ReadOptions};

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("../../samples")];
    let real = root.join("../../../shared/data/real");
    if real.exists() {
        dirs.push(real);
    } else {
        eprintln!("note: {} absent", real.display());
    }
    let corpus = PathBuf::from(std::env::var("VIGIL_JSON_CORPUS").unwrap_or_else(|_| "/tmp/j".into()));
    if corpus.exists() {
        dirs.push(corpus);
    } else {
        eprintln!("note: generated corpus {} absent", corpus.display());
    }
    discover(&dirs).0
}

fn same(a: &Event, b: &Event) -> bool {
    a.fields == b.fields && a.time == b.time && a.source == b.source && a.sourcetype == b.sourcetype && a.host == b.host && a.raw == b.raw
}

#[test]
fn fast_and_full_json_paths_agree() {
    let (mut checked, mut fast) = (0u64, 0u64);
    for file in inputs() {
        read_file(&file, &ReadOptions::default(), &mut |ev: &Event| {
            // JSON lines only (array elements have line 0; XML events start with `<`).
            if !ev.raw.starts_with('{') || ev.origin.line == 0 {
                return;
            }
            let file = &ev.origin.file;
            let full = line_full(file, &ev.raw).unwrap_or_else(|| panic!("{file}: full path rejects an emitted line: {}", ev.raw));
            assert!(same(ev, &full), "{file}:{}\nread: {ev:?}\nfull: {full:?}", ev.origin.line);
            if let Some(f) = line_fast(file, &ev.raw) {
                assert!(same(&f, &full), "{file}:{}\nfast: {f:?}\nfull: {full:?}", ev.origin.line);
                fast += 1;
            } else if std::env::var("JDBG").is_ok() {
                eprintln!("DECLINED {file}: {}", &ev.raw[..ev.raw.len().min(300)]);
            }
            checked += 1;
        });
    }
    eprintln!("{checked} JSON lines compared, {fast} taken by the fast path");
    assert!(checked > 0);
    assert!(fast * 100 >= checked * 99, "fast path took only {fast} of {checked} lines");
}

/// Lines exercising the corners: nesting, arrays, escapes, numbers, classification keys.
const SEEDS: &[&str] = &[
    r##"{"a":{"b":1,"c":[true,"x",null,""]},"d":null,"e":"","f":1.5,"g":-0,"h":1e3,"i":12345678901234567890,"j":-42}"##,
    r##"{"EventID":4688,"Hostname":"H","Channel":"Security","SourceName":"S","winlog":{"event_data":{"CommandLine":"c"}}}"##,
    r##"{"winlog":{"event_id":1,"channel":"Sec","computer_name":"PC","provider_name":"P","record_id":7},"@timestamp":"2024-01-02T03:04:05Z"}"##,
    r##"{"Event":{"System":{"EventID":1,"Channel":"C","Computer":"X","TimeCreated":{"#attributes":{"SystemTime":"2024-01-01T00:00:00Z"}}},"EventData":{"Image":"a.exe"}}}"##,
    r##"{"event_simpleName":"ProcessRollup2","timestamp":"1700000000123","aid_computer_name":"W","CommandLine":"a \"b\" \\c\/d\u00e9\ud83d\ude00\n\t"}"##,
    r##"{"fv":"nvzFlow_v11","fss":"1700000000","pn":"a.exe","pid":"1","ppath":"C:\\x"}"##,
    r##"{"pn":"a.exe","ppath":"p","fsms":1700000000000}"##,
    r##"{ "a" : [ { "b" : [ 1 , [ 2 , { "c" : "d" } ] ] } , "e" ] , "" : { "x" : 1 , "" : { "" : 2 } } }  "##,
    r##"{"a":1,"a":2,"b":{"c":1,"c":{}}}"##,
    r##"{"a":1,"b":2,"a":[3,{"x":4,"y":5,"x":6}],"c":{"d":1,"e":2,"d":null},"a":"","b":{"f":[7,8]},"g":9}"##,
    r##"{"fv":"nvzFlow_v11","pn":"a","fv":1,"EventType":"INFO","EventID":1,"EventType":"x"}"##,
    r##"{"winlog":{"event_id":1},"winlog":{"x":1}}"##,
    r##"{"time":"2024-05-06T07:08:09.123+02:00","x":"\u0000\u001f\u007f","y":[[],{}],"z":false}"##,
    r##"{"EventCode":"4624","event_data":{"TargetUserName":"u","SubjectUserName":"s"},"event.created":"2024-01-01T00:00:00Z"}"##,
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(line: &str, rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"{}[]\":,\\/ \t\r\n0123456789-+.eEtfnulrsabu\x00\x1f\x7f";
    const UNITS: &[&str] = &[
        "\\u",
        "\\ud83d",
        "\\ude00",
        "\\u00e9",
        "\u{e9}",
        "\u{1f600}",
        "\"a\":1",
        "null",
        "-0",
        "1e400",
        "0.1",
        "00",
        "{}",
        "[]",
        "\"event_simpleName\":1,",
    ];
    let mut b = line.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if at < b.len() => b[at] = ALPHABET[rng.below(ALPHABET.len())],
            1 if at < b.len() => {
                b.remove(at);
            }
            2 => b.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            3 => {
                let u = UNITS[rng.below(UNITS.len())];
                b.splice(at..at, u.bytes());
            }
            4 if at < b.len() => {
                let end = (at + 1 + rng.below(20)).min(b.len());
                let piece = b[at..end].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, piece);
            }
            _ => b.truncate(at.max(1)),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn mutated_lines_agree_when_fast_path_accepts() {
    let mut lines: Vec<String> = SEEDS.iter().map(|s| s.to_string()).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["cisco_nvm_msiexec.json", "crowdstrike_msiexec.json", "flat_json_msiexec.json"] {
        if let Ok(text) = std::fs::read_to_string(root.join("../../samples").join(f)) {
            lines.extend(text.lines().filter(|l| l.starts_with('{')).take(5).map(String::from));
        }
    }
    let n: usize = std::env::var("VIGIL_MUTATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let seed: u64 = std::env::var("VIGIL_MUTATION_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed);
    let mut accepted = 0u64;
    // Unmutated seeds first: they must all be accepted and agree.
    for line in &lines {
        let full = line_full("f.json", line);
        let fast = line_fast("f.json", line);
        if line.contains("\"winlog\":{\"x\"") {
            assert!(fast.is_none(), "a repeated classification object goes to the full path");
            continue;
        }
        let (Some(fast), Some(full)) = (fast, full) else { panic!("seed not accepted by both paths: {line}") };
        assert!(same(&fast, &full), "{line}\nfast: {fast:?}\nfull: {full:?}");
    }
    for k in 0..n {
        let line = mutate(&lines[k % lines.len()], &mut rng);
        let Some(fast) = line_fast("f.json", &line) else { continue };
        accepted += 1;
        match line_full("f.json", &line) {
            Some(full) => assert!(same(&fast, &full), "{line:?}\nfast: {fast:?}\nfull: {full:?}"),
            None => panic!("fast path accepts a line the full path rejects: {line:?}"),
        }
    }
    eprintln!("{n} mutated lines, {accepted} accepted by the fast path and equal to the full path");
    assert!(accepted > 0);
}
