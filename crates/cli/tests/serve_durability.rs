//! Acknowledged means durable: `vigil serve` is killed with SIGKILL many times during a steady
//! send from several senders at once, and every event the server acknowledged is found in the
//! store afterwards, none twice.
//!
//! Two kinds of acknowledgement are exercised together:
//! - indexer acknowledgement (token `ack = true`): an event counts as acknowledged only once
//!   `/services/collector/ack` reported its ackId true;
//! - plain HEC (no ack): an event counts once the request was answered success.
//!
//! Senders never resend (a resent batch would be a legitimate duplicate), so "none twice" is
//! checked exactly. A sender treats the ackIds it holds from a server that was killed as lost,
//! as HEC clients do when their connection breaks: ackIds are per server run.

mod common;
mod serve_support;

use serve_support::{http, start, stored_ids};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KILLS: usize = 12;
const BATCH: u64 = 20;
const ACK_SENDERS: u64 = 3;

/// What the senders share with the killer.
struct Shared {
    /// The live server: `run << 16 | port`, with port 0 while there is none. One word, so a
    /// sender never pairs a port with the wrong run (a restart may reuse the port).
    server: AtomicU64,
    stop: AtomicBool,
    acked: Mutex<Vec<u64>>,
    /// Ack queries answered true (ackIds confirmed), across all senders.
    acks_true: AtomicU64,
}

fn body(ids: &[u64]) -> String {
    ids.iter().map(|i| format!(r#"{{"time":{}.25,"event":{{"test_id":"{i}","msg":"steady send"}}}}"#, 1_700_000_000 + i * 7)).collect()
}

/// (HTTP status, body), or None when the request failed.
type Answer = Option<(u16, String)>;

/// Sends the next batch of ids to the live server (`run << 16 | port`): (port, ids, answer).
/// None (after a short wait) while no server is up.
fn send_batch(live: u64, headers: &[(&str, &str)], next: &mut u64) -> Option<(u16, Vec<u64>, Answer)> {
    let port = live as u16;
    if port == 0 {
        std::thread::sleep(Duration::from_millis(5));
        return None;
    }
    let ids: Vec<u64> = (*next..*next + BATCH).collect();
    *next += BATCH;
    let answer = http(port, "POST", "/services/collector/event", headers, body(&ids).as_bytes());
    Some((port, ids, answer))
}

/// A sender with indexer acknowledgement on its own channel: batches of ids from `first`
/// (stepping over the other senders' ranges), queried for their acks every few batches.
fn ack_sender(shared: Arc<Shared>, k: u64) -> u32 {
    let channel = format!("0aa1b2c3-0000-4000-8000-00000000000{k}");
    let headers = [("Authorization", "Splunk acktoken"), ("X-Splunk-Request-Channel", channel.as_str())];
    let mut next = k * 1_000_000;
    let mut pending: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut server = 0u64;
    let mut failed = 0;
    let query = |port: u16, pending: &mut Vec<(u64, Vec<u64>)>| {
        let ids: Vec<String> = pending.iter().map(|(a, _)| a.to_string()).collect();
        let q = format!(r#"{{"acks":[{}]}}"#, ids.join(","));
        let Some((200, answer)) = http(port, "POST", "/services/collector/ack", &headers, q.as_bytes()) else {
            return;
        };
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        pending.retain(|(ack, ids)| {
            let done = v["acks"][ack.to_string()] == true;
            if done {
                shared.acked.lock().unwrap().extend(ids);
                shared.acks_true.fetch_add(1, Ordering::SeqCst);
            }
            !done
        });
    };
    while !shared.stop.load(Ordering::SeqCst) {
        let live = shared.server.load(Ordering::SeqCst);
        if live != server {
            // That server was killed: its outstanding ackIds mean nothing any more.
            pending.clear();
            server = live;
        }
        let Some((port, ids, answer)) = send_batch(live, &headers, &mut next) else {
            continue;
        };
        match answer {
            Some((200, answer)) => {
                let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
                pending.push((v["ackId"].as_u64().expect("ackId"), ids));
            }
            _ => failed += 1,
        }
        if pending.len() >= 4 {
            query(port, &mut pending);
        }
    }
    // The last server is still up: its outstanding acks can still come true.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pending.is_empty() && server as u16 != 0 && Instant::now() < deadline {
        query(server as u16, &mut pending);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(pending.is_empty(), "acks never became true on a live server: {:?}", pending.iter().map(|p| p.0).collect::<Vec<_>>());
    failed
}

/// A sender without indexer acknowledgement: success is answered after the fsync.
fn plain_sender(shared: Arc<Shared>) -> u32 {
    let headers = [("Authorization", "Splunk synctoken")];
    let mut next = 0;
    let mut failed = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        let Some((_, ids, answer)) = send_batch(shared.server.load(Ordering::SeqCst), &headers, &mut next) else {
            continue;
        };
        match answer {
            Some((200, b)) if b.contains(r#""code":0"#) => shared.acked.lock().unwrap().extend(ids),
            _ => failed += 1,
        }
    }
    failed
}

#[test]
fn acknowledged_events_survive_repeated_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Segments sealed (zstd) as soon as they are idle, so kills also land during seals.
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        "[store]\nseal_idle_secs = 0\n\n[[tokens]]\ntoken = \"acktoken\"\nack = true\n\n[[tokens]]\ntoken = \"synctoken\"\n",
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let shared =
        Arc::new(Shared { server: AtomicU64::new(0), stop: AtomicBool::new(false), acked: Mutex::default(), acks_true: AtomicU64::new(0) });
    let mut server = start(&data, &args, 0);
    shared.server.store(u64::from(server.port), Ordering::SeqCst);
    let mut senders: Vec<std::thread::JoinHandle<u32>> = (1..=ACK_SENDERS)
        .map(|k| {
            let s = shared.clone();
            std::thread::spawn(move || ack_sender(s, k))
        })
        .collect();
    let s = shared.clone();
    senders.push(std::thread::spawn(move || plain_sender(s)));

    let mut acked_at_kill = Vec::new();
    for round in 1..=KILLS {
        // Let acknowledgements accumulate on this server run, then kill in the middle of the send.
        let target = shared.acked.lock().unwrap().len() + 300;
        let deadline = Instant::now() + Duration::from_secs(60);
        while shared.acked.lock().unwrap().len() < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(3 * round as u64));
        shared.server.store((round as u64) << 16, Ordering::SeqCst);
        server.kill(); // SIGKILL
        acked_at_kill.push(shared.acked.lock().unwrap().len());
        server = start(&data, &args, round);
        shared.server.store((round as u64) << 16 | u64::from(server.port), Ordering::SeqCst);
    }
    std::thread::sleep(Duration::from_millis(300));
    shared.stop.store(true, Ordering::SeqCst);
    let failed: u32 = senders.into_iter().map(|t| t.join().unwrap()).sum();
    let _ = server.stop();

    // Opening repairs torn tails: start once more (and stop) before reading.
    let last = start(&data, &args, KILLS + 1);
    let recovered = last.log_text().lines().find(|l| l.contains("store")).unwrap_or("").to_string();
    let _ = last.stop();

    let acked = shared.acked.lock().unwrap().clone();
    let (stored, sealed) = stored_ids(&data);
    // Every server run acknowledged something before it was killed.
    let grew: Vec<usize> =
        std::iter::once(0).chain(acked_at_kill.iter().copied()).collect::<Vec<_>>().windows(2).map(|w| w[1] - w[0]).collect();
    assert!(grew.iter().all(|g| *g > 0), "a server run acknowledged nothing before its kill: {grew:?}");
    assert!(shared.acks_true.load(Ordering::SeqCst) > 0, "no ackId was ever reported true");
    assert!(sealed > 0, "no segment was sealed during the send");
    let missing: Vec<u64> = acked.iter().copied().filter(|i| !stored.contains_key(i)).collect();
    assert!(missing.is_empty(), "{} acknowledged event(s) lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    let twice: Vec<(&u64, &usize)> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "events stored more than once: {twice:?}");
    let acked_set: HashSet<u64> = acked.iter().copied().collect();
    assert_eq!(acked_set.len(), acked.len(), "an id was acknowledged twice");
    eprintln!(
        "{KILLS} SIGKILLs: {} acknowledged ({} ackIds true), {} stored ({} stored but never acknowledged: in flight at a kill), \
         {failed} request(s) failed, {sealed} sealed segment(s); acknowledged per run {grew:?}; {recovered}",
        acked_set.len(),
        shared.acks_true.load(Ordering::SeqCst),
        stored.len(),
        stored.len() - acked_set.len(),
    );
}
