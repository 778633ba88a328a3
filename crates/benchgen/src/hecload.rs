//! `hecload`: a HEC load generator for the `vigil serve` benchmark (docs/performance.md).
//!
//! ```text
//! hecload --port P --token T [--connections 8] [--batch 200] [--window 4] [--seconds 30]
//!         [--warmup 5] [--format xml|json] [--pid SERVER_PID] [--clock-every SECS] [--seed S]
//! ```
//!
//! Each connection (a thread, one keep-alive TCP connection, its own channel) sends batches of
//! `--batch` events as concatenated `/services/collector/event` envelopes (XmlWinEventLog
//! lines as string events, or flat Windows JSON as object events, from benchgen's generator),
//! with indexer acknowledgement: up to `--window` batches outstanding, `/services/collector/ack`
//! queried after every send. A batch's ack latency is from the start of its send to the ack
//! query that first reports it true. A 503 (server busy) is counted and the batch resent.
//!
//! Event times follow a virtual clock starting at 2026-03-02T00:00:00Z; with `--clock-every N`
//! that clock runs 3600/N times faster than the wall and a thread moves the server's test
//! clock (`POST /vigil/clock`, server started with `--now 2026-03-02T00:00:00Z`) one hour
//! every N seconds, so the hourly detections run over the events as they are ingested, each
//! event scanned by every schedule once, as in production.
//!
//! On stdout, one line of `key=value`: events/s over the measured time (after `--warmup`),
//! ack latency p50/p99, busy answers, and with `--pid` the server's CPU seconds, CPU per event
//! and peak RSS (from /proc).

mod cli;
mod events;
mod render;
#[allow(dead_code)] // shared with benchgen; hecload sends the default shape, without the knobs
mod shape;

use events::Generator;
use render::{json_str, render_json, render_xml};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 2026-03-02T00:00:00Z, where benchgen's corpus starts.
const T0_MICROS: i64 = 1_772_409_600_000_000;

#[derive(Clone)]
struct Args {
    port: u16,
    token: String,
    connections: usize,
    batch: usize,
    window: usize,
    seconds: u64,
    warmup: u64,
    format: String,
    pid: Option<u32>,
    clock_every: Option<u64>,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 8088,
        token: String::new(),
        connections: 8,
        batch: 200,
        window: 4,
        seconds: 30,
        warmup: 5,
        format: "xml".into(),
        pid: None,
        clock_every: None,
        seed: 7,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |s: &str| s.parse::<u64>().map_err(|e| format!("{flag} {s}: {e}"));
        match flag.as_str() {
            "--port" => a.port = num(&val)? as u16,
            "--token" => a.token = val,
            "--connections" => a.connections = num(&val)?.max(1) as usize,
            "--batch" => a.batch = num(&val)?.max(1) as usize,
            "--window" => a.window = num(&val)?.max(1) as usize,
            "--seconds" => a.seconds = num(&val)?.max(1),
            "--warmup" => a.warmup = num(&val)?,
            "--format" => a.format = val,
            "--pid" => a.pid = Some(num(&val)? as u32),
            "--clock-every" => a.clock_every = Some(num(&val)?.max(1)),
            "--seed" => a.seed = num(&val)?,
            other => return Err(format!("unknown argument {other} (see the comment at the top of hecload.rs)")),
        }
    }
    if a.token.is_empty() {
        return Err("--token is required".into());
    }
    if a.format != "xml" && a.format != "json" {
        return Err(format!("--format must be xml or json, not {}", a.format));
    }
    Ok(a)
}

fn main() {
    cli::main("hecload", parse_args, run);
}

/// What the connections report, counted only inside the measured time.
#[derive(Default)]
struct Tally {
    measuring: AtomicBool,
    stop: AtomicBool,
    events: AtomicU64,
    bytes: AtomicU64,
    busy: AtomicU64,
    errors: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

fn run(args: &Args) -> Result<(), String> {
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let speed = args.clock_every.map_or(1.0, |n| 3600.0 / n as f64);
    let threads: Vec<std::thread::JoinHandle<Result<(), String>>> = (0..args.connections)
        .map(|k| {
            let (args, tally) = (args.clone(), tally.clone());
            std::thread::spawn(move || connection(&args, k, &tally, started, speed))
        })
        .collect();
    // Not joined: a tick's runs may outlast the measurement (it is reported when it ends).
    if let Some(every) = args.clock_every {
        let (args, tally) = (args.clone(), tally.clone());
        std::thread::spawn(move || {
            if let Err(e) = drive_clock(&args, every, &tally, started) {
                eprintln!("hecload: clock: {e}");
            }
        });
    }
    std::thread::sleep(Duration::from_secs(args.warmup));
    let cpu0 = args.pid.map(server_cpu_secs).transpose()?;
    tally.measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(args.seconds));
    tally.measuring.store(false, Ordering::SeqCst);
    let measured = t0.elapsed().as_secs_f64();
    let cpu1 = args.pid.map(server_cpu_secs).transpose()?;
    tally.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().map_err(|_| "a connection thread panicked".to_string())??;
    }
    let events = tally.events.load(Ordering::SeqCst);
    let mut lat = std::mem::take(&mut *tally.latencies_us.lock().map_err(|e| e.to_string())?);
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).map_or(0.0, |us| *us as f64 / 1000.0);
    let mut line = format!(
        "connections={} batch={} window={} format={} seconds={measured:.1} events={events} events_per_s={:.0} mb_per_s={:.1} ack_p50_ms={:.1} ack_p99_ms={:.1} ack_max_ms={:.1} batches={} busy={} errors={}",
        args.connections,
        args.batch,
        args.window,
        args.format,
        events as f64 / measured,
        tally.bytes.load(Ordering::SeqCst) as f64 / measured / 1e6,
        pct(0.50),
        pct(0.99),
        lat.last().map_or(0.0, |us| *us as f64 / 1000.0),
        lat.len(),
        tally.busy.load(Ordering::SeqCst),
        tally.errors.load(Ordering::SeqCst),
    );
    if let (Some(pid), Some(c0), Some(c1)) = (args.pid, cpu0, cpu1) {
        let cpu = c1 - c0;
        let rss = peak_rss_mb(pid)?;
        line.push_str(&format!(
            " server_cpu_s={cpu:.1} server_cores={:.2} cpu_us_per_event={:.1} peak_rss_mb={rss:.0}",
            cpu / measured,
            cpu * 1e6 / events.max(1) as f64
        ));
    }
    println!("{line}");
    Ok(())
}

/// One keep-alive connection with its own ack channel, sending until told to stop.
fn connection(args: &Args, k: usize, tally: &Tally, started: Instant, speed: f64) -> Result<(), String> {
    let channel = format!("0bad5eed-0000-4000-8000-{k:012}");
    let mut conn = Conn::open(args.port)?;
    let mut generator = Generator::with_shape(args.seed.wrapping_add(k as u64), 100_000, shape::Shape::default());
    let mut outstanding: Vec<(u64, Instant, usize, u64)> = Vec::new();
    let mut body = String::with_capacity(args.batch * 1600);
    let mut line = String::with_capacity(4096);
    let headers = format!("Authorization: Splunk {}\r\nX-Splunk-Request-Channel: {channel}\r\n", args.token);
    while !tally.stop.load(Ordering::SeqCst) {
        body.clear();
        let now = T0_MICROS + (started.elapsed().as_secs_f64() * speed * 1e6) as i64;
        for _ in 0..args.batch {
            let mut ev = generator.next_event();
            ev.time = now;
            line.clear();
            envelope(&args.format, &ev, &mut line, &mut body);
        }
        let sent = Instant::now();
        let ack = loop {
            let (status, answer) = conn.request("/services/collector/event", &headers, body.as_bytes(), args.port)?;
            match status {
                200 => break number_after(&answer, "\"ackId\":").ok_or_else(|| format!("no ackId in {answer}"))?,
                503 => {
                    tally.busy.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => return Err(format!("HTTP {status}: {answer}")),
            }
        };
        outstanding.push((ack, sent, args.batch, body.len() as u64));
        query_acks(&mut conn, &headers, &mut outstanding, tally, args)?;
        while outstanding.len() >= args.window && !tally.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
            query_acks(&mut conn, &headers, &mut outstanding, tally, args)?;
        }
    }
    Ok(())
}

/// One envelope for `ev` appended to `body`.
fn envelope(format: &str, ev: &events::WinEvent, scratch: &mut String, body: &mut String) {
    let secs = ev.time as f64 / 1e6;
    if format == "xml" {
        render_xml(ev, scratch);
        body.push_str(&format!(
            r#"{{"time":{secs:.3},"host":"{}","sourcetype":"XmlWinEventLog","source":"XmlWinEventLog:{}","event":"#,
            ev.computer, ev.channel
        ));
        json_str(scratch, body);
    } else {
        render_json(ev, scratch);
        body.push_str(&format!(r#"{{"time":{secs:.3},"host":"{}","sourcetype":"_json","event":"#, ev.computer));
        body.push_str(scratch);
    }
    body.push('}');
}

/// Asks for the outstanding ackIds; those reported true are done (latency recorded).
fn query_acks(
    conn: &mut Conn,
    headers: &str,
    outstanding: &mut Vec<(u64, Instant, usize, u64)>,
    tally: &Tally,
    args: &Args,
) -> Result<(), String> {
    if outstanding.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = outstanding.iter().map(|o| o.0.to_string()).collect();
    let q = format!(r#"{{"acks":[{}]}}"#, ids.join(","));
    let (status, answer) = conn.request("/services/collector/ack", headers, q.as_bytes(), args.port)?;
    if status != 200 {
        tally.errors.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let measuring = tally.measuring.load(Ordering::SeqCst);
    let mut lat = Vec::new();
    outstanding.retain(|(id, sent, n, bytes)| {
        if !answer.contains(&format!("\"{id}\":true")) {
            return true;
        }
        if measuring {
            tally.events.fetch_add(*n as u64, Ordering::Relaxed);
            tally.bytes.fetch_add(*bytes, Ordering::Relaxed);
            lat.push(sent.elapsed().as_micros() as u64);
        }
        false
    });
    if !lat.is_empty() {
        tally.latencies_us.lock().map_err(|e| e.to_string())?.extend(lat);
    }
    Ok(())
}

/// Moves the server's test clock one hour every `every` seconds (the hourly ticks run there).
fn drive_clock(args: &Args, every: u64, tally: &Tally, started: Instant) -> Result<(), String> {
    let headers = format!("Authorization: Splunk {}\r\n", args.token);
    let mut hour = 1;
    while !tally.stop.load(Ordering::SeqCst) {
        let due = started + Duration::from_secs(every * hour as u64);
        while Instant::now() < due {
            if tally.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let to = (T0_MICROS / 1_000_000) + hour * 3600 + 1;
        let t = Instant::now();
        let mut conn = Conn::open(args.port)?;
        let (status, answer) = conn.request(&format!("/vigil/clock?to={to}"), &headers, b"", args.port)?;
        let runs = answer.matches("\"scheduled_time\"").count();
        let scanned: u64 = all_numbers_after(&answer, "\"events_scanned\":").iter().sum();
        let results: u64 = all_numbers_after(&answer, "\"results\":").iter().sum();
        let errors = answer.matches("\"error\"").count();
        eprintln!(
            "hecload: tick {hour}: HTTP {status}, {runs} run(s), {scanned} events scanned, {results} results, {errors} error(s), {:.1} s",
            t.elapsed().as_secs_f64()
        );
        hour += 1;
    }
    Ok(())
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    all_numbers_after(text, key).first().copied()
}

fn all_numbers_after(text: &str, key: &str) -> Vec<u64> {
    text.match_indices(key)
        .filter_map(|(i, _)| {
            let rest = &text[i + key.len()..];
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect()
}

/// A keep-alive HTTP/1.1 connection (reopened once if the server closed it).
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16) -> Result<Conn, String> {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| e.to_string())?;
        Ok(Conn { reader: BufReader::new(s) })
    }

    fn request(&mut self, path: &str, headers: &str, body: &[u8], port: u16) -> Result<(u16, String), String> {
        match self.try_request(path, headers, body) {
            Ok(a) => Ok(a),
            Err(_) => {
                *self = Conn::open(port)?;
                self.try_request(path, headers, body).map_err(|e| format!("POST {path}: {e}"))
            }
        }
    }

    fn try_request(&mut self, path: &str, headers: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        let head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\n\r\n", body.len());
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        let status = status_line.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let mut length = 0;
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer)?;
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

/// utime + stime of a process, in seconds (from /proc/PID/stat; clock ticks of 1/100 s).
fn server_cpu_secs(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name and state.
    Ok((tick(11) + tick(12)) / 100.0)
}

/// VmHWM (peak resident set) of a process, in MB.
fn peak_rss_mb(pid: u32) -> Result<f64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.map(|k| k / 1024.0).ok_or_else(|| "no VmHWM in /proc status".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_hec_json_around_the_rendered_event() {
        let mut generator = Generator::new(1, 100_000);
        for format in ["xml", "json"] {
            let (mut scratch, mut body) = (String::new(), String::new());
            let ev = generator.next_event();
            envelope(format, &ev, &mut scratch, &mut body);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["time"].as_f64().unwrap(), (ev.time as f64 / 1e3).round() / 1e3);
            match format {
                "xml" => assert_eq!(v["event"].as_str().unwrap(), scratch),
                _ => assert_eq!(v["event"], serde_json::from_str::<serde_json::Value>(&scratch).unwrap()),
            }
        }
    }

    #[test]
    fn numbers_are_read_from_answers() {
        let answer = r#"{"runs":[{"events_scanned":12,"results":0},{"events_scanned":30,"results":2}]}"#;
        assert_eq!(all_numbers_after(answer, "\"events_scanned\":"), [12, 30]);
        assert_eq!(number_after(r#"{"text":"Success","code":0,"ackId":41}"#, "\"ackId\":"), Some(41));
        assert_eq!(number_after("{}", "\"ackId\":"), None);
    }
}
