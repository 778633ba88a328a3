use super::*;
use crate::store::{segments, store_dir, Store};
use std::io::Write;
use vigil_time::Window;

const NOW: Micros = 1_795_168_800_000_000;

struct Rig {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    watched: PathBuf,
    committer: Committer,
    clock: Clock,
}

fn rig() -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let watched = tmp.path().join("in");
    std::fs::create_dir_all(&watched).unwrap();
    let clock: Clock = Arc::new(|| NOW);
    let store = Store::open(&store_dir(&data), NOW).unwrap();
    let committer = Committer::start(store, 100_000, clock.clone(), i64::MAX / 4).unwrap();
    Rig { _tmp: tmp, data, watched, committer, clock }
}

impl Rig {
    fn tailer(&self, pattern: &str, settle_secs: u64) -> Tailer {
        let input = DirectoryInput {
            path: self.watched.clone(),
            pattern: pattern.into(),
            recursive: false,
            sourcetype: None,
            host: None,
            index: Some("lab".into()),
            settle_secs,
        };
        let config = InputsConfig { poll_ms: 10, directory: vec![input] };
        Tailer::new(config, &self.data, self.committer.clone(), self.clock.clone()).unwrap()
    }

    /// Every stored event read back through the readers (metadata applied).
    fn stored(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for f in segments(&store_dir(&self.data), Window::ALL).unwrap() {
            let report = vigil_read::read_file(&f, &vigil_read::ReadOptions::default(), &mut |ev| out.push(ev.clone()));
            assert_eq!(report.skipped_total() + report.repaired_total(), 0, "{report:?}");
        }
        out
    }

    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.stored().iter().map(|e| e.get("id").unwrap().parse().unwrap()).collect();
        ids.sort();
        ids
    }

    fn append(&self, name: &str, text: &str) {
        std::fs::OpenOptions::new().create(true).append(true).open(self.watched.join(name)).unwrap().write_all(text.as_bytes()).unwrap();
    }
}

fn line(id: u64) -> String {
    format!("{{\"@timestamp\":\"2026-11-20T10:{:02}:00Z\",\"id\":{id}}}\n", id % 60)
}

#[test]
fn appended_pieces_are_stored_once_across_restarts() {
    let r = rig();
    let mut t = r.tailer("*.json", 5);
    let third = line(3);
    let (first, second) = third.split_at(20);
    r.append("a.json", &format!("{}{}{}{first}", line(0), line(1), line(2)));
    r.append("ignored.txt", &line(99));
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2], "complete lines only, matching files only");
    drop(t);
    // Restarted: goes on where it was.
    let mut t = r.tailer("*.json", 5);
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2]);
    r.append("a.json", &format!("{second}{}", line(4)));
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2, 3, 4]);
    let ev = &r.stored()[0];
    assert_eq!((ev.index.as_str(), ev.sourcetype.as_str()), ("lab", "_json"));
    assert_eq!(ev.source, r.watched.join("a.json").to_string_lossy(), "a JSON event's source is its file");
    assert_eq!(ev.get("_indextime"), Some("1795168800"));
    assert_eq!(ev.time, vigil_time::parse_iso8601_utc("2026-11-20T10:00:00Z"));
}

#[test]
fn a_crash_between_storing_and_saving_positions_is_recovered() {
    let r = rig();
    let mut t = r.tailer("*.json", 5);
    r.append("a.json", &format!("{}{}", line(0), line(1)));
    t.poll();
    let saved = r.data.join("tail/positions.json");
    let before = std::fs::read(&saved).unwrap();
    let before_mtime = std::fs::metadata(&saved).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    r.append("a.json", &format!("{}{}", line(2), line(3)));
    t.poll();
    drop(t);
    // The second batch was stored, but its positions never saved (a crash in between).
    std::fs::write(&saved, before).unwrap();
    std::fs::File::options().write(true).open(&saved).unwrap().set_modified(before_mtime).unwrap();
    let mut t = r.tailer("*.json", 5);
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2, 3], "nothing stored twice");
    r.append("a.json", &line(4));
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2, 3, 4]);
}

#[test]
fn renamed_files_go_on_and_truncated_files_start_over() {
    let r = rig();
    let mut t = r.tailer("*.log", 5);
    r.append("a.log", &format!("{}{}", line(0), line(1)));
    t.poll();
    std::fs::rename(r.watched.join("a.log"), r.watched.join("a.1.log")).unwrap();
    r.append("a.1.log", &line(2));
    r.append("a.log", &line(3));
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2, 3], "the renamed file goes on; the new one is read from its start");
    std::fs::write(r.watched.join("a.1.log"), line(4)).unwrap();
    t.poll();
    assert_eq!(r.ids(), [0, 1, 2, 3, 4]);
    assert_eq!(t.stats.truncations.load(Ordering::Relaxed), 1);
}

#[test]
fn evtx_files_are_read_whole_once_settled() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/evtx/ID4688-BITS_transfer_initiated.evtx");
    if !real.exists() {
        eprintln!("skipped: {} not found", real.display());
        return;
    }
    let r = rig();
    let mut t = r.tailer("*.evtx", 0);
    std::fs::copy(&real, r.watched.join("Security-1.evtx")).unwrap();
    t.poll();
    let mut direct = Vec::new();
    vigil_read::read_file(&real, &vigil_read::ReadOptions::default(), &mut |ev| direct.push(ev.clone()));
    let stored = r.stored();
    assert!(!direct.is_empty());
    assert_eq!(stored.len(), direct.len());
    for (s, d) in stored.iter().zip(&direct) {
        assert_eq!((s.time, &s.sourcetype, &s.source, &s.host), (d.time, &d.sourcetype, &d.source, &d.host));
        let own = |e: &Event| e.fields.iter().filter(|(k, _)| k != "_indextime").cloned().collect::<Vec<_>>();
        assert_eq!(own(s), own(d), "an EVTX record stored as its XML reads back the same");
    }
    t.poll();
    assert_eq!(r.stored().len(), direct.len(), "read once");
}

#[test]
fn globs() {
    assert!(glob_match("*.xml", "sysmon.xml"));
    assert!(!glob_match("*.xml", "sysmon.xml.1"));
    assert!(glob_match("Archive-*-?.evtx", "Archive-Security-1.evtx"));
    assert!(glob_match("*", "x"));
    assert!(!glob_match("a?", "a"));
}
