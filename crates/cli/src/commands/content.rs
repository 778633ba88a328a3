//! `vigil content check`: which detections can run, and why the others cannot.

use crate::{exit, ContentArgs};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use vigil_engine::Planner;

#[derive(Subcommand)]
pub enum ContentCommand {
    /// Load, expand, parse and plan every detection; report ready / cannot fire / unsupported
    /// / error.
    Check(CheckArgs),
    /// List detections with id, type, status, data sources and whether they can run; filtered
    /// as `hunt` selects them (production by default, `--status all` for every one).
    List(ListArgs),
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub select: crate::select::SelectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::output::Format,
}

#[derive(Serialize)]
struct Listed {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    data_source: Vec<String>,
    /// `ready`, `unsupported` or `error`, as `content check` says.
    ready: &'static str,
    file: String,
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
    /// `ready`, `cannot fire` (its searches run, but a field it filters or groups on exists in
    /// none of its data sources), `unsupported` or `error`.
    status: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct Report {
    total: usize,
    ready: usize,
    cannot_fire: usize,
    unsupported: usize,
    error: usize,
    detections: Vec<Entry>,
}

pub fn run(cmd: ContentCommand) -> u8 {
    match cmd {
        ContentCommand::Check(args) => check(args),
        ContentCommand::List(args) => list(args),
    }
}

fn list(args: ListArgs) -> u8 {
    match list_inner(&args) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("vigil: {e}");
            exit::USAGE
        }
    }
}

fn list_inner(args: &ListArgs) -> Result<(), String> {
    let content = super::content_layers(&args.content)?;
    let normalizer = super::normalizer()?;
    let selected = args.select.select(&content)?;
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let listed: Vec<Listed> = selected
        .iter()
        .map(|d| Listed {
            id: d.id.clone(),
            name: d.name.clone(),
            kind: d.kind.clone(),
            status: crate::select::status_of(d),
            data_source: d.data_source.clone(),
            ready: match planner.plan(&d.name, &d.search) {
                Ok(_) => "ready",
                Err(e) if e.error.is_unsupported() => "unsupported",
                Err(_) => "error",
            },
            file: d.file.display().to_string(),
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = write_list(&mut out, args.format, &listed) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(format!("cannot write output: {e}"));
        }
    }
    let ready = listed.iter().filter(|l| l.ready == "ready").count();
    eprintln!("vigil: {} detection(s) listed, {ready} ready, of {} loaded", listed.len(), content.detections().len());
    Ok(())
}

fn write_list(out: &mut dyn std::io::Write, format: crate::output::Format, listed: &[Listed]) -> std::io::Result<()> {
    use crate::output::Format;
    match format {
        Format::Jsonl => {
            for l in listed {
                serde_json::to_writer(&mut *out, l)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["id", "name", "type", "status", "data_source", "ready", "file"])?;
            for l in listed {
                w.write_record([&l.id, &l.name, &l.kind, &l.status, &l.data_source.join("\n"), l.ready, &l.file])?;
            }
            w.flush()?;
        }
        Format::Table => {
            writeln!(out, "{:<11} {:<12} {:<11} {:<36} name [data sources]", "ready", "status", "type", "id")?;
            for l in listed {
                let sources = if l.data_source.is_empty() { String::new() } else { format!(" [{}]", l.data_source.join("; ")) };
                writeln!(out, "{:<11} {:<12} {:<11} {:<36} {}{sources}", l.ready, l.status, l.kind, l.id, l.name)?;
            }
        }
    }
    Ok(())
}

fn check(args: CheckArgs) -> u8 {
    let (content, normalizer) = match super::content_layers(&args.content).and_then(|c| Ok((c, super::normalizer()?))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    let fields = crate::fire::FieldCatalog::load(&args.content.content, normalizer.knowledge());
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let mut entries = Vec::new();
    for d in content.detections() {
        let (status, reason) = match planner.plan(&d.name, &d.search) {
            Ok(q) => match fields.missing_fields(d, &q.text) {
                None => ("ready", String::new()),
                Some(missing) => ("cannot fire", cannot_fire_reason(d, &missing)),
            },
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
        entries.push(Entry { name: r.meta().title.clone(), file: r.meta().file.clone(), status: "ready", reason: r.notes() });
    }
    for p in sigma.problems.iter().chain(&broken) {
        entries.push(Entry { name: p.name.clone(), file: p.file.clone(), status: p.status, reason: p.reason.clone() });
    }
    let count = |s: &str| entries.iter().filter(|e| e.status == s).count();
    let report = Report {
        total: entries.len(),
        ready: count("ready"),
        cannot_fire: count("cannot fire"),
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
                "{} detections: {} ready ({pct:.1}%), {} cannot fire, {} unsupported, {} with errors",
                report.total, report.ready, report.cannot_fire, report.unsupported, report.error
            );
        }
    }
    exit::OK
}

/// Why a detection cannot fire, for a person: the fields and the data sources they are
/// missing from.
pub fn cannot_fire_reason(d: &vigil_content::Detection, missing: &[String]) -> String {
    format!(
        "no field {} in its data source{} ({})",
        missing.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "),
        if d.data_source.len() == 1 { "" } else { "s" },
        d.data_source.join(", ")
    )
}
