//! `benchgen`: writes a deterministic, realistic Windows event corpus for `bench/run.sh`.
//!
//! ```text
//! benchgen --out DIR --size-mb N [--format xml|json] [--files K] [--seed S] [--tp-every N]
//!          [--hosts N] [--users N] [--cmd-values N] [--parents N] [--mix ID:W,...] [--near-miss PER_MILLE]
//!          [--max-gap-us N]
//! ```
//!
//! The distribution knobs ([`shape::Shape`]): distinct hosts (default 400), users (600),
//! command-line values (`{n}` in the 21 command-line templates, 100 000), parent processes (6;
//! parent/child pairs are 21 times that), the event-ID mix (`shape::MIX`), and process
//! creations that are near misses, per mille (0), and the largest gap between two events'
//! times (20 000 us; from 2026-03-02T00:00:00Z on). The defaults write the bench corpus.
//!
//! - `xml`: XmlWinEventLog lines, one `<Event>` per line, as Splunk exports and attack_data
//!   ships them.
//! - `json`: flat Windows JSON lines (NXLog / OTRF layout: `EventID`, `Hostname`, `Channel`,
//!   `SourceName` and the EventData fields at top level).
//!
//! The stream is Sysmon (EID 1, 3, 5, 7, 10, 11, 12, 13, 22) and Security (4688, 4624, 4625,
//! 4634, 4672) events in the proportions of [`shape::MIX`]; every `--tp-every`-th event
//! (default 100000) is a true positive for the seed detection (msiexec installing from an
//! http URL). The corpus is split into `--files` files (parallelism in Vigil is per file).
//! On stdout: `events=<n> bytes=<n> true_positives=<n> files=<k>`.

mod cli;
mod events;
mod render;
mod shape;

use events::Generator;
use render::{render_json, render_xml};
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
       [--hosts N] [--users N] [--cmd-values N] [--parents N] [--mix ID:W,...] [--near-miss PER_MILLE] [--max-gap-us N]";

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
            "--max-gap-us" => a.shape.max_gap_us = num(val()?)?.max(1),
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
    cli::main("benchgen", parse_args, run);
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
