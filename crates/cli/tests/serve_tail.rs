//! `[[inputs.directory]]` end to end: files appended in pieces while the server is killed
//! (SIGKILL) and restarted; every line is stored exactly once.

mod common;
mod serve_support;

use serve_support::{have_curl, start, stop, stored_events};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

fn line(file: usize, i: usize) -> String {
    format!("{{\"@timestamp\":\"2026-11-20T10:{:02}:{:02}Z\",\"test_id\":\"{file}-{i}\",\"msg\":\"tailed\"}}\n", i / 60 % 60, i % 60)
}

#[test]
fn tailed_files_are_stored_exactly_once_across_kills() {
    if !have_curl() {
        eprintln!("skipped: curl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let watched = dir.path().join("in");
    std::fs::create_dir_all(watched.join("sub")).unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[inputs]\npoll_ms = 20\n\n[[inputs.directory]]\npath = \"{}\"\npattern = \"*.json\"\nrecursive = true\nsourcetype = \"app:tail\"\n",
            watched.display()
        ),
    )
    .unwrap();
    let args = ["--now", "2026-11-20T11:00:00Z", "--config", config.to_str().unwrap()];
    let files = [watched.join("a.json"), watched.join("sub/b.json")];
    let per_file = 3000;
    let mut server = start(&data, &args, 0);
    let mut written = 0;
    let mut rounds: usize = 0;
    // Lines written in ragged pieces (a line often split across two writes); the server is
    // killed every few hundred lines and started again.
    while written < per_file {
        let upto = (written + 250).min(per_file);
        for (fi, f) in files.iter().enumerate() {
            let text: String = (written..upto).map(|i| line(fi, i)).collect();
            let mut out = std::fs::OpenOptions::new().create(true).append(true).open(f).unwrap();
            for piece in text.as_bytes().chunks(997) {
                out.write_all(piece).unwrap();
                out.flush().unwrap();
            }
        }
        written = upto;
        std::thread::sleep(Duration::from_millis(30 + 17 * (rounds as u64 % 4)));
        if rounds % 3 == 2 {
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
            server = start(&data, &args, rounds + 1);
        }
        rounds += 1;
    }
    // A partial last line is not stored until its line break comes.
    std::fs::OpenOptions::new().append(true).open(&files[0]).unwrap().write_all(b"{\"@timestamp\":\"2026-11-20T10:00:00Z\",").unwrap();
    let expected = 2 * per_file;
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored_events(&data).0.len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(server);

    let (events, bad) = stored_events(&data);
    assert_eq!(bad, 0, "unreadable records in the store");
    let mut count: HashMap<String, usize> = HashMap::new();
    for ev in &events {
        assert_eq!(ev.sourcetype, "app:tail");
        *count.entry(ev.get("test_id").expect("test_id").to_string()).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let missing: Vec<String> =
        (0..2).flat_map(|f| (0..per_file).map(move |i| format!("{f}-{i}"))).filter(|id| !count.contains_key(id)).take(5).collect();
    assert!(missing.is_empty(), "never stored: {missing:?}");
    assert_eq!(events.len(), expected);
    // How often a kill fell between storing a batch and saving its position (recovered).
    let recovered = (0..=rounds)
        .filter(|r| {
            std::fs::read_to_string(data.with_extension(format!("stderr{r}"))).is_ok_and(|t| t.contains("recovered from the store"))
        })
        .count();
    eprintln!(
        "{expected} lines in 2 files stored exactly once over {} kills ({recovered} restart(s) recovered positions from the store)",
        rounds / 3
    );
}
