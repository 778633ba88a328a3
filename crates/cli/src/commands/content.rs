//! `vigil content check`: which detections can run, and why the others cannot.

use crate::{exit, ContentArgs};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use vigil_engine::Planner;

#[derive(Subcommand)]
pub enum ContentCommand {
    /// Load, expand, parse and plan every detection; report ready / unsupported / error.
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    /// Only list detections that are not ready.
    #[arg(long)]
    pub problems: bool,
    /// Also show each problem on stderr with the search and a caret under it.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    file: String,
    /// `ready`, `unsupported` or `error`.
    status: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct Report {
    total: usize,
    ready: usize,
    unsupported: usize,
    error: usize,
    detections: Vec<Entry>,
}

pub fn run(cmd: ContentCommand) -> u8 {
    match cmd {
        ContentCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> u8 {
    let (content, normalizer) = match super::content_layers(&args.content).and_then(|c| Ok((c, super::normalizer()?))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let mut entries = Vec::new();
    for d in content.detections() {
        let (status, reason) = match planner.plan(&d.name, &d.search) {
            Ok(_) => ("ready", String::new()),
            Err(e) => {
                let (line, col) = vigil_spl::line_col(&e.text, e.error.span().start);
                let status = if e.error.is_unsupported() { "unsupported" } else { "error" };
                if args.verbose {
                    eprintln!("{}\n", super::render_detection_error(d, &e));
                }
                (status, format!("{} ({} search {line}:{col})", e.error, super::search_location(d)))
            }
        };
        entries.push(Entry { name: d.name.clone(), file: d.file.display().to_string(), status, reason });
    }
    // Files that did not load are detections that cannot run either.
    for e in &content.errors {
        let is_detection = e.file.components().any(|c| c.as_os_str() == "detections");
        if is_detection {
            entries.push(Entry {
                name: e.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                file: e.file.display().to_string(),
                status: "error",
                reason: e.to_string(),
            });
        }
    }
    // Sigma rules: ready when they compile and plan; otherwise why not, with file:line.
    let sigma = match crate::sigma::load(&args.content.sigma) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    let (_, planned, broken) = crate::sigma::plan(&sigma, &mut planner, &[]);
    for r in planned {
        let note = r.notes.join("; ");
        entries.push(Entry { name: r.meta.title.clone(), file: r.meta.file.clone(), status: "ready", reason: note });
    }
    for p in sigma.problems.iter().chain(&broken) {
        entries.push(Entry { name: p.name.clone(), file: p.file.clone(), status: p.status, reason: p.reason.clone() });
    }
    let count = |s: &str| entries.iter().filter(|e| e.status == s).count();
    let report = Report {
        total: entries.len(),
        ready: count("ready"),
        unsupported: count("unsupported"),
        error: count("error"),
        detections: entries,
    };
    match args.format {
        CheckFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("vigil: {e}");
                return exit::USAGE;
            }
        },
        CheckFormat::Text => {
            for e in &report.detections {
                if args.problems && e.status == "ready" {
                    continue;
                }
                if e.reason.is_empty() || e.status == "ready" {
                    println!("{:<11} {}", e.status, e.name);
                } else {
                    println!("{:<11} {}: {}", e.status, e.name, e.reason);
                }
            }
            let pct = if report.total == 0 { 0.0 } else { 100.0 * report.ready as f64 / report.total as f64 };
            println!(
                "{} detections: {} ready ({pct:.1}%), {} unsupported, {} with errors",
                report.total, report.ready, report.unsupported, report.error
            );
        }
    }
    exit::OK
}
