//! Scan state bytes: `Engine::decode_state` on the raw input, and on the input as the body of
//! a well-formed header (right magic, version, fingerprint and checksum), so the fuzzer gets
//! past the checksum into the segment, group and event decoding. A state that decodes must
//! merge, encode again and finish without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::Catalog;

const SEARCHES: [&str; 3] = [
    "index=main | stats count list(n) first(n) values(n) dc(n) min(n) max(n) avg(n) stdev(n) latest(n) by host",
    "index=main n=*",
    "index=main | stats count",
];

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fuzz_target!(|data: &[u8]| {
    let catalog = Catalog::default();
    let content = ContentSet::empty();
    let mut planner = Planner::new(&catalog, &content);
    let queries = SEARCHES.iter().filter_map(|s| planner.plan(s, s).ok()).collect();
    let engine = Engine::new(queries, &catalog);
    let empty = engine.encode_state(&engine.new_state()).expect("encodes");
    let mut framed = empty[..18].to_vec(); // magic, version, fingerprint
    framed.extend_from_slice(&(data.len() as u64).to_le_bytes());
    framed.extend_from_slice(&fnv(data).to_le_bytes());
    framed.extend_from_slice(data);
    for bytes in [data, &framed[..]] {
        let Ok(state) = engine.decode_state(bytes) else { continue };
        let mut merged = engine.new_state_at(1_000);
        engine.merge(&mut merged, state);
        let again = engine.encode_state(&merged).expect("encodes");
        let Ok(back) = engine.decode_state(&again) else { panic!("a state it wrote does not read back") };
        let ctx = EvalContext { now: 1_700_000_000_000_000, tz: vigil_time::Tz::utc() };
        let _ = engine.finish(back, &ctx);
    }
});
