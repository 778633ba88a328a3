//! The scan state is a value: input split into N shards (N = 1, 2, 7), each scanned by its
//! own engine, written to bytes, read back, merged in a shuffled order and finished, gives
//! byte-identical results to one engine over all of the input, for every ready ESCU
//! detection. Over the real logs of ../shared/data/real and a small corpus made by benchgen
//! (skipped with a message when ../shared is missing).

use std::path::{Path, PathBuf};
use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner, ScanState};
use vigil_model::Event;
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.join("escu").is_dir() && dir.join("data/real").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: ../shared (ESCU content and real data) not found");
        None
    }
}

/// An engine with every ESCU detection that plans.
fn engine(normalizer: &Normalizer, content: &ContentSet) -> Engine {
    let mut planner = Planner::new(normalizer.catalog(), content);
    let queries = content.detections().iter().filter_map(|d| planner.plan(&d.name, &d.search).ok()).collect::<Vec<_>>();
    assert!(queries.len() > 100, "only {} ESCU detections planned", queries.len());
    Engine::new(queries, normalizer.catalog())
}

/// Calls `f` with every event of the files under `dir`, in file order.
fn each_event(dir: &Path, f: &mut dyn FnMut(&Event)) {
    let (files, _) = vigil_read::discover(&[dir.to_path_buf()]);
    for file in files {
        vigil_read::read_file(&file, &ReadOptions::default(), f);
    }
}

/// Feeds the events with index in `range` (of the whole input, in order) to `state`.
fn scan(engine: &Engine, normalizer: &Normalizer, dir: &Path, state: &mut ScanState, range: std::ops::Range<usize>) {
    let mut rows = Vec::new();
    let mut i = 0usize;
    each_event(dir, &mut |ev| {
        if range.contains(&i) {
            rows.clear();
            normalizer.normalize_filtered(ev, &|d| engine.wants_dataset(d), &mut rows);
            if engine.wants_events() {
                engine.on_event(state, ev);
            }
            for row in &rows {
                engine.on_row(state, row);
            }
        }
        i += 1;
    });
}

/// Every query's result as text: its name, then its rows as JSON or its error.
fn results(engine: &Engine, state: ScanState) -> Vec<String> {
    let ctx = EvalContext { now: 1_700_000_000_000_000, tz: vigil_time::Tz::utc() };
    engine
        .finish(state, &ctx)
        .into_iter()
        .map(|o| match o.result {
            Ok(rows) => {
                format!("{}\n{}", o.name, rows.iter().map(|r| serde_json::to_string(r).unwrap_or_default()).collect::<Vec<_>>().join("\n"))
            }
            Err(e) => format!("{}\nerror: {e}", o.name),
        })
        .collect()
}

/// A fixed shuffle of 0..n (a different one for each n).
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ n as u64;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

fn check_shards(dir: &Path, normalizer: &Normalizer, engine: &Engine) {
    let mut total = 0usize;
    each_event(dir, &mut |_| total += 1);
    assert!(total > 0, "no events under {}", dir.display());
    let mut whole = engine.new_state();
    scan(engine, normalizer, dir, &mut whole, 0..total);
    let expected = results(engine, whole);
    let with_rows = expected.iter().filter(|r| r.contains('{')).count();
    eprintln!("{}: {total} events, {} queries, {with_rows} with rows", dir.display(), expected.len());
    for n in [1usize, 2, 7] {
        let bytes: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let mut state = engine.new_state_at(i as u64);
                scan(engine, normalizer, dir, &mut state, total * i / n..total * (i + 1) / n);
                engine.encode_state(&state).expect("encodes")
            })
            .collect();
        let order = shuffled(n);
        let mut merged = engine.decode_state(&bytes[order[0]]).expect("decodes");
        for &i in &order[1..] {
            engine.merge(&mut merged, engine.decode_state(&bytes[i]).expect("decodes"));
        }
        let got = results(engine, merged);
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert!(g == e, "{n} shards merged in order {order:?} differ from one engine:\n--- one engine\n{e}\n--- shards\n{g}");
        }
    }
}

#[test]
fn shards_merged_in_any_order_equal_one_engine() {
    let Some(shared) = shared() else { return };
    let normalizer = Normalizer::builtin().expect("built-in mappings");
    let mut content = ContentSet::builtin();
    content.load_dir(&shared.join("escu")).expect("ESCU content");
    let mut engine = engine(&normalizer, &content);
    // A small memory budget, so groups spill to disk and spilled runs travel in the bytes.
    engine.set_memory_budget(256 << 10);
    check_shards(&shared.join("data/real"), &normalizer, &engine);
    // A small generated corpus with a true positive every 500 events.
    let corpus = tempfile::tempdir().expect("temporary directory");
    for format in ["xml", "json"] {
        let out = corpus.path().join(format);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_benchgen"))
            .args(["--size-mb", "2", "--files", "3", "--tp-every", "500", "--format", format, "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("runs benchgen");
        assert!(status.success());
        check_shards(&out, &normalizer, &engine);
    }
}

#[test]
fn foreign_or_damaged_bytes_are_refused_with_a_reason() {
    let normalizer = Normalizer::builtin().expect("built-in mappings");
    let content = ContentSet::builtin();
    let engine = engine_of(&normalizer, &content);
    let state = engine.new_state();
    let bytes = engine.encode_state(&state).expect("encodes");
    assert!(engine.decode_state(&bytes).is_ok());
    let err = |b: &[u8]| engine.decode_state(b).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(b"hello").contains("not a Vigil scan state"));
    let mut later = bytes.clone();
    let version = vigil_engine::FORMAT_VERSION + 1;
    later[8..10].copy_from_slice(&version.to_le_bytes());
    assert!(err(&later).contains(&format!("format version {version}")), "{}", err(&later));
    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    assert!(err(&damaged).contains("checksum"), "{}", err(&damaged));
    assert!(err(&bytes[..bytes.len() - 3]).contains("header says"));
    // Another set of queries.
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let other = Engine::new(vec![planner.plan("x", "index=main | stats count by host").expect("plans")], normalizer.catalog());
    assert!(other.decode_state(&bytes).err().map(|e| e.to_string()).unwrap_or_default().contains("other queries"));
}

/// An engine with the built-in detections.
fn engine_of(normalizer: &Normalizer, content: &ContentSet) -> Engine {
    let mut planner = Planner::new(normalizer.catalog(), content);
    let queries = content.detections().iter().filter_map(|d| planner.plan(&d.name, &d.search).ok()).collect::<Vec<_>>();
    Engine::new(queries, normalizer.catalog())
}
