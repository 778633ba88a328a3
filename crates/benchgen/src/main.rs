//! `benchgen`: writes a deterministic, realistic Windows event corpus for `bench/run.sh`.
//!
//! ```text
//! benchgen --out DIR --size-mb N [--format xml|json] [--files K] [--seed S] [--tp-every N]
//!          [--hosts N] [--users N] [--cmd-values N] [--parents N] [--mix ID:W,...] [--near-miss PER_MILLE]
//! ```
//!
//! The distribution knobs ([`shape::Shape`]): distinct hosts (default 400), users (600),
//! command-line values (`{n}` in the 21 command-line templates, 100 000), parent processes (6;
//! parent/child pairs are 21 times that), the event-ID mix (`events::MIX`), and process
//! creations that are near misses, per mille (0). The defaults write the bench corpus.
//!
//! - `xml`: XmlWinEventLog lines, one `<Event>` per line, as Splunk exports and attack_data
//!   ships them.
//! - `json`: flat Windows JSON lines (NXLog / OTRF layout: `EventID`, `Hostname`, `Channel`,
//!   `SourceName` and the EventData fields at top level).
//!
//! The stream is Sysmon (EID 1, 3, 5, 7, 10, 11, 12, 13, 22) and Security (4688, 4624, 4625,
//! 4634, 4672) events in the proportions of [`events::MIX`]; every `--tp-every`-th event
//! (default 100000) is a true positive for the seed detection (msiexec installing from an
//! http URL). The corpus is split into `--files` files (parallelism in Vigil is per file).
//! On stdout: `events=<n> bytes=<n> true_positives=<n> files=<k>`.

mod events;
mod shape;

use events::{system_time, Generator, WinEvent};
use shape::Shape;
use std::io::Write;
use std::path::PathBuf;

struct Args {
    out: PathBuf,
    size_mb: u64,
    format: String,
    files: u64,
    seed: u64,
    tp_every: u64,
    shape: Shape,
}

const USAGE: &str = "usage: benchgen --out DIR --size-mb N [--format xml|json] [--files K] [--seed S] [--tp-every N]
       [--hosts N] [--users N] [--cmd-values N] [--parents N] [--mix ID:W,...] [--near-miss PER_MILLE]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        out: PathBuf::from("corpus"),
        size_mb: 100,
        format: "xml".into(),
        files: 8,
        seed: 42,
        tp_every: 100_000,
        shape: Shape::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
        match flag.as_str() {
            "--out" => a.out = PathBuf::from(val()?),
            "--size-mb" => a.size_mb = num(val()?)?,
            "--format" => a.format = val()?,
            "--files" => a.files = num(val()?)?.max(1),
            "--seed" => a.seed = num(val()?)?,
            "--tp-every" => a.tp_every = num(val()?)?,
            "--hosts" => a.shape.hosts = num(val()?)?.max(1) as usize,
            "--users" => a.shape.users = num(val()?)?.max(1) as usize,
            "--cmd-values" => a.shape.cmd_values = num(val()?)?.max(1),
            "--parents" => a.shape.parents = num(val()?)?.max(1) as usize,
            "--mix" => a.shape.mix = shape::parse_mix(&val()?)?,
            "--near-miss" => a.shape.near_miss = num(val()?)?.min(1000) as u32,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.format != "xml" && a.format != "json" {
        return Err(format!("--format must be xml or json, not {}", a.format));
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("benchgen: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("benchgen: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> std::io::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let total = args.size_mb * 1024 * 1024;
    let per_file = total / args.files;
    let mut generator = Generator::with_shape(args.seed, args.tp_every, args.shape.clone());
    let (mut events, mut bytes) = (0u64, 0u64);
    let mut line = String::with_capacity(4096);
    for i in 0..args.files {
        let path = args.out.join(format!("corpus_{i:03}.{}", args.format));
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut written = 0u64;
        while written < per_file {
            let ev = generator.next_event();
            line.clear();
            if args.format == "xml" {
                render_xml(&ev, &mut line);
            } else {
                render_json(&ev, &mut line);
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
            written += line.len() as u64;
            events += 1;
        }
        w.flush()?;
        bytes += written;
    }
    println!("events={events} bytes={bytes} true_positives={} files={}", generator.true_positives, args.files);
    Ok(())
}

/// Escapes element text as the Windows event log renderer does: `&`, `<` and `>` only (quotes
/// stay literal in command lines).
fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

fn render_xml(ev: &WinEvent, o: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(
        o,
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='{}' Guid='{}'/><EventID>{}</EventID><Version>{}</Version><Level>{}</Level><Task>{}</Task><Opcode>0</Opcode><Keywords>{}</Keywords><TimeCreated SystemTime='{}'/><EventRecordID>{}</EventRecordID><Correlation/><Execution ProcessID='{}' ThreadID='{}'/><Channel>{}</Channel><Computer>{}</Computer>",
        ev.provider, ev.provider_guid, ev.event_id, ev.version, ev.level, ev.task, ev.keywords,
        system_time(ev.time), ev.record_id, ev.exec_pid, ev.exec_tid, ev.channel, ev.computer
    );
    match ev.user_id {
        Some(u) => {
            let _ = write!(o, "<Security UserID='{u}'/>");
        }
        None => o.push_str("<Security/>"),
    }
    o.push_str("</System><EventData>");
    for (k, v) in &ev.data {
        let _ = write!(o, "<Data Name='{k}'>");
        xml_escape(v, o);
        o.push_str("</Data>");
    }
    o.push_str("</EventData></Event>");
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Flat Windows JSON as NXLog / OTRF write it: System fields and EventData side by side.
fn render_json(ev: &WinEvent, o: &mut String) {
    use std::fmt::Write as _;
    let t = system_time(ev.time);
    let iso = format!("{}Z", &t[..23]);
    o.push('{');
    let mut kv = |k: &str, v: &str| {
        if o.len() > 1 {
            o.push(',');
        }
        json_str(k, o);
        o.push(':');
        json_str(v, o);
    };
    kv("@timestamp", &iso);
    kv("EventTime", &iso);
    kv("Hostname", &ev.computer);
    kv("Keywords", ev.keywords);
    kv("EventType", "INFO");
    kv("SeverityValue", "2");
    kv("Severity", "INFO");
    kv("SourceName", ev.provider);
    kv("ProviderGuid", ev.provider_guid);
    kv("Version", &ev.version.to_string());
    kv("Task", &ev.task.to_string());
    kv("OpcodeValue", "0");
    kv("RecordNumber", &ev.record_id.to_string());
    kv("ProcessID", &ev.exec_pid.to_string());
    kv("ThreadID", &ev.exec_tid.to_string());
    kv("Channel", ev.channel);
    if let Some(u) = ev.user_id {
        kv("UserID", u);
    }
    kv("Level", &ev.level.to_string());
    for (k, v) in &ev.data {
        kv(k, v);
    }
    kv("EventReceivedTime", &iso);
    kv("SourceModuleName", "eventlog");
    kv("SourceModuleType", "im_msvistalog");
    let _ = write!(o, ",\"EventID\":{}}}", ev.event_id);
}
