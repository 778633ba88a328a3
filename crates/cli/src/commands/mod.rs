//! One module per subcommand, plus what they share.

pub mod backtest;
pub mod cluster;
pub mod content;
pub mod hunt;
pub mod replay;
pub mod risk;
pub mod search;
pub mod serve;
pub mod test;
pub mod user;

use crate::output::{self, ResultSet};
use crate::{exit, ContentArgs, RunArgs};
use std::io::Write;
use vigil_content::ContentSet;
use vigil_engine::EvalContext;
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;
use vigil_scan::{Driver, RunOutput};
use vigil_time::Tz;

/// The built-in layer and each --content directory, with bad files left in `errors` for the
/// caller to report (content check and test report them per file).
pub fn content_layers(args: &ContentArgs) -> Result<ContentSet, String> {
    let mut set = ContentSet::builtin();
    for dir in &args.content {
        set.load_dir(dir).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

/// Loads the built-in layer and each --content directory. Unusable directories are fatal;
/// bad files in them are reported and skipped.
pub fn load_content(args: &ContentArgs, verbose: bool) -> Result<ContentSet, String> {
    let set = content_layers(args)?;
    if !set.errors.is_empty() {
        eprintln!(
            "vigil: {} content file(s) could not be loaded{}",
            set.errors.len(),
            if verbose { ":" } else { " (--verbose for details)" }
        );
        if verbose {
            for e in &set.errors {
                eprintln!("  {e}");
            }
        }
    }
    Ok(set)
}

/// What every command that reads logs needs: content, mappings, eval context, read options.
pub struct Session {
    pub content: ContentSet,
    pub normalizer: Normalizer,
    pub ctx: EvalContext,
    pub opts: ReadOptions,
    /// The thread pool and scan of the run.
    pub driver: Driver,
}

/// Loads content and the built-in mappings and applies the run options. The error is a
/// message for the user (exit code 2).
pub fn session(content: &ContentArgs, run: &RunArgs) -> Result<Session, String> {
    let content = load_content(content, run.verbose)?;
    let (ctx, opts) = setup(run)?;
    Ok(Session { content, normalizer: normalizer()?, ctx, opts, driver: driver(run)? })
}

/// The built-in mappings (compiled in; an error here is a bug in a shipped mapping file).
pub fn normalizer() -> Result<Normalizer, String> {
    Normalizer::builtin().map_err(|e| format!("built-in mappings: {e}"))
}

pub fn setup(args: &RunArgs) -> Result<(EvalContext, ReadOptions), String> {
    let tz = Tz::parse(&args.tz).map_err(|e| format!("--tz: {e}"))?;
    let ctx = EvalContext { now: vigil_time::now_micros(), tz };
    let index = Some(args.index.clone()).filter(|i| !i.eq_ignore_ascii_case("main"));
    let opts = ReadOptions { sourcetype: args.sourcetype.clone(), index, ..ReadOptions::default() };
    Ok((ctx, opts))
}

pub use vigil_scan::fields::restrict_knowledge;

/// The scan driver for `--threads`, with a progress bar when stderr is a terminal.
/// `VIGIL_PIECE_BYTES` sets the size of the pieces large files are read in (for tests that
/// split small files; see docs/performance.md).
pub fn driver(args: &RunArgs) -> Result<Driver, String> {
    let mut driver = Driver::new(args.threads)?.with_progress(Box::new(crate::progress::Bar::default()));
    if let Some(bytes) = std::env::var("VIGIL_PIECE_BYTES").ok().and_then(|v| v.parse().ok()) {
        driver = driver.with_piece_bytes(bytes);
    }
    Ok(driver)
}

/// Where a detection's search starts in its file: `file:line` of the `search:` key.
pub fn search_location(d: &vigil_content::Detection) -> String {
    let file = d.file.display().to_string();
    let text = std::fs::read_to_string(&d.file)
        .ok()
        .or_else(|| vigil_content::BUILTIN_DETECTION_FILES.iter().find(|(path, _)| *path == file).map(|(_, t)| t.to_string()));
    match text.as_deref().and_then(|t| crate::testing::problems::key_line(t, &["search"])) {
        Some(line) => format!("{file}:{line}"),
        None => file,
    }
}

/// A detection's planning error for a person: the file and line of its search, then the
/// search's line and column with a caret under the problem.
pub fn render_detection_error(d: &vigil_content::Detection, e: &vigil_engine::QueryError) -> String {
    e.render(&format!("{} search", search_location(d)))
}

/// Writes results and the stderr summary; returns the exit code.
pub fn finish(args: &RunArgs, out: &RunOutput, detections_run: usize, label: &str) -> u8 {
    let mut failed = 0;
    let mut sets = Vec::new();
    for o in &out.outputs {
        match &o.result {
            Ok(rows) => sets.push(ResultSet { name: &o.name, rows }),
            Err(e) => {
                failed += 1;
                eprintln!("vigil: {label} `{}` failed: {e}", o.name);
            }
        }
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = output::write(&mut lock, args.format, &sets).and_then(|_| lock.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("vigil: cannot write output: {e}");
        }
    }
    for e in &out.input_errors {
        eprintln!("vigil: input: {e}");
    }
    summary(args, out, detections_run);
    if args.verbose {
        let p = out.phases;
        eprintln!("vigil: scan {:.2} s, after the scan {:.2} s", p.scan.as_secs_f64(), p.after_scan.as_secs_f64());
        let (groups, rows) = vigil_engine::temp_bytes_written();
        eprintln!(
            "vigil: memory budget {} MiB{}; {} bytes written to temporary files ({groups} of aggregation groups, {rows} of rows)",
            args.memory_budget() >> 20,
            if args.memory_mb.is_some() { " (--memory-mb)" } else { " (an eighth of available memory, 32 to 64 MiB)" },
            groups + rows
        );
        costliest_in_scan(&out.scan_costs);
        largest_spills(&out.scan_costs);
        slowest(&out.outputs);
    }
    // A path that does not exist or cannot be listed is a usage error, whatever else ran.
    if failed > 0 || !out.input_errors.is_empty() {
        return exit::USAGE;
    }
    if args.strict && out.report.skipped_total() > 0 {
        return exit::INPUT_STRICT;
    }
    exit::OK
}

/// Names the detections that cost most in the scan (their scans' predicates, key building and
/// aggregation; timed on a sample of rows), with how many rows and events the prefilter let
/// through to them and how many they kept.
fn costliest_in_scan(costs: &[(String, vigil_engine::ScanCost)]) {
    let total: std::time::Duration = costs.iter().map(|(_, c)| c.time).sum();
    let shown: Vec<String> = costs
        .iter()
        .take(5)
        .map(|(name, c)| format!("{name} ({} ms; tried on {}, kept {})", c.time.as_millis(), c.tried, c.passed))
        .collect();
    if !shown.is_empty() {
        eprintln!(
            "vigil: in the scan, {:.2} s of detection work in all (timed on 1 row in 64); costliest: {}",
            total.as_secs_f64(),
            shown.join(", ")
        );
    }
}

/// Names the detections whose groups took most of the temporary-file bytes during the scan
/// (written when the scan states passed the memory budget), so a user can see what spills.
fn largest_spills(costs: &[(String, vigil_engine::ScanCost)]) {
    let mut by_bytes: Vec<&(String, vigil_engine::ScanCost)> = costs.iter().filter(|(_, c)| c.spilled > 0).collect();
    if by_bytes.is_empty() {
        return;
    }
    by_bytes.sort_by_key(|(_, c)| std::cmp::Reverse(c.spilled));
    let total: u64 = by_bytes.iter().map(|(_, c)| c.spilled).sum();
    let shown: Vec<String> = by_bytes.iter().take(8).map(|(name, c)| format!("{name} ({} bytes)", c.spilled)).collect();
    eprintln!("vigil: in the scan, {total} bytes of groups spilled by {} detections; largest: {}", by_bytes.len(), shown.join(", "));
}

/// Names the detections whose post-scan work (result building, joins, lookups, stats) took
/// longest, so a user can see which content makes a run slow.
fn slowest(outputs: &[vigil_engine::QueryOutput]) {
    let mut by_time: Vec<&vigil_engine::QueryOutput> = outputs.iter().collect();
    by_time.sort_by_key(|o| std::cmp::Reverse(o.finish_time));
    let shown: Vec<String> = by_time
        .iter()
        .take(5)
        .filter(|o| o.finish_time.as_millis() >= 10)
        .map(|o| format!("{} ({} ms)", o.name, o.finish_time.as_millis()))
        .collect();
    let total: std::time::Duration = outputs.iter().map(|o| o.finish_time).sum();
    if !shown.is_empty() {
        eprintln!("vigil: after the scan, {:.2} s of work in all; slowest: {}", total.as_secs_f64(), shown.join(", "));
    }
}

/// Runs the scan and the queries (in `window`, if any), streaming results to stdout as each
/// query finishes when the format allows it (JSON lines, tables; CSV has one header over all
/// results, so it collects them).
#[allow(clippy::too_many_arguments)] // the run's parts plus the row filter; one call site each
pub(crate) fn run_and_print(
    args: &RunArgs,
    driver: &Driver,
    engine: &vigil_engine::Engine,
    window: Option<vigil_time::Window>,
    normalizer: &vigil_normalize::Normalizer,
    inputs: vigil_scan::Inputs,
    ctx: &vigil_engine::EvalContext,
    shown: &RowFilter,
) -> RunOutput {
    use vigil_scan::Delivery;
    // Rows left out per query name, taken off the result counts at the end.
    let mut hidden: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    if args.format == output::Format::Csv {
        let mut out = driver.run(engine, window, normalizer, inputs, ctx, Delivery::Collect);
        crate::window::report_dropped(window, &out);
        for o in &mut out.outputs {
            if let Ok(rows) = &mut o.result {
                let before = rows.len();
                rows.retain(|r| shown(&o.name, r));
                *hidden.entry(o.name.clone()).or_default() += before - rows.len();
                rows.iter_mut().for_each(|r| render_time(r, &ctx.tz));
            }
        }
        uncount(&mut out, &hidden);
        return out;
    }
    let mut write_error: Option<std::io::Error> = None;
    // A table is laid out over all rows of a detection: chunks of one are gathered first.
    let mut table_rows: Vec<vigil_model::Record> = Vec::new();
    let mut print = |o: &vigil_engine::QueryOutput| {
        let Ok(all_rows) = &o.result else {
            table_rows.clear();
            return;
        };
        let kept: Vec<vigil_model::Record>;
        let rows: &[vigil_model::Record] = if all_rows.iter().all(|r| shown(&o.name, r) && r.get("_time").is_none()) {
            all_rows
        } else {
            kept = all_rows
                .iter()
                .filter(|r| shown(&o.name, r))
                .map(|r| {
                    let mut r = r.clone();
                    render_time(&mut r, &ctx.tz);
                    r
                })
                .collect();
            *hidden.entry(o.name.clone()).or_default() += all_rows.len() - kept.len();
            &kept
        };
        let rows: &[vigil_model::Record] = if args.format == output::Format::Table && (o.partial || !table_rows.is_empty()) {
            table_rows.extend(rows.iter().cloned());
            if o.partial {
                return;
            }
            &table_rows
        } else {
            rows
        };
        if write_error.is_some() || rows.is_empty() {
            table_rows.clear();
            return;
        }
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let set = [ResultSet { name: &o.name, rows }];
        if let Err(e) = output::write(&mut lock, args.format, &set).and_then(|_| lock.flush()) {
            write_error = Some(e);
        }
        drop(lock);
        table_rows.clear();
    };
    let mut out = driver.run(engine, window, normalizer, inputs, ctx, Delivery::Stream(&mut print));
    crate::window::report_dropped(window, &out);
    if let Some(e) = write_error {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("vigil: cannot write output: {e}");
        }
    }
    uncount(&mut out, &hidden);
    out
}

/// Which result rows are shown, by query name and row (see [`crate::select::is_empty_aggregate`]).
pub(crate) type RowFilter<'a> = dyn Fn(&str, &vigil_model::Record) -> bool + Sync + 'a;

/// `_time` (epoch seconds in results) as Splunk's exports render it: ISO 8601 with
/// milliseconds and the zone's offset, e.g. `2026-11-20T10:15:01.000+00:00`, in `--tz`.
pub(crate) fn render_time(row: &mut vigil_model::Record, tz: &vigil_time::Tz) {
    let Some(t) = row.get("_time").and_then(|v| v.as_num()).and_then(vigil_time::micros_from_secs) else { return };
    row.set("_time", vigil_model::Value::Str(vigil_time::format_export_time(t, tz)));
}

/// Every row is shown.
pub(crate) fn show_all(_: &str, _: &vigil_model::Record) -> bool {
    true
}

/// Takes rows that were not shown off the result counts.
fn uncount(out: &mut RunOutput, hidden: &std::collections::HashMap<String, usize>) {
    for (o, n) in out.outputs.iter().zip(out.counts.iter_mut()) {
        *n -= hidden.get(&o.name).copied().unwrap_or(0).min(*n);
    }
}

pub(crate) fn summary(args: &RunArgs, out: &RunOutput, detections_run: usize) {
    let r = &out.report;
    let skipped = r.skipped_total();
    let mut line = format!("vigil: {} file{}, {} events read, {} skipped", r.files, plural(r.files), r.events, skipped);
    if skipped > 0 {
        let reasons: Vec<String> = r.skipped.iter().map(|(k, s)| format!("{k}: {}", s.count)).collect();
        line.push_str(&format!(" ({})", reasons.join(", ")));
    }
    let repaired = r.repaired_total();
    if repaired > 0 {
        let reasons: Vec<String> = r.repaired.iter().map(|(k, s)| format!("{k}: {}", s.count)).collect();
        line.push_str(&format!(", {repaired} repaired ({})", reasons.join(", ")));
    }
    let hits: usize = out.counts.iter().sum();
    let firing = out.counts.iter().filter(|&&n| n > 0).count();
    line.push_str(&format!(
        "; {detections_run} detection{} run, {hits} result{} from {firing}",
        plural(detections_run as u64),
        plural(hits as u64)
    ));
    eprintln!("{line}");
    let not_logs = r.not_logs_total();
    if not_logs > 0 {
        let kinds: Vec<String> = r.not_logs.iter().map(|(k, s)| format!("{k}: {}", s.count)).collect();
        eprintln!("vigil: {not_logs} file{} not read, not logs ({})", plural(not_logs), kinds.join(", "));
    }
    if r.no_events.count > 0 {
        let more = if r.no_events.count > r.no_events.examples.len() as u64 { ", ..." } else { "" };
        eprintln!(
            "vigil: {} file{} with no events (empty or zero records): {}{more}",
            r.no_events.count,
            plural(r.no_events.count),
            r.no_events.examples.join(", ")
        );
    }
    if args.verbose {
        for (kind, s) in &r.not_logs {
            for ex in &s.examples {
                eprintln!("  not a log ({kind}) {ex}");
            }
        }
        for (what, map) in [("skipped", &r.skipped), ("repaired", &r.repaired)] {
            for (reason, s) in map {
                for ex in &s.examples {
                    eprintln!("  {what} ({reason}) {ex}");
                }
            }
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
