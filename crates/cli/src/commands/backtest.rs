//! `vigil backtest --from T --to T PATH...`: what the scheduled detections would have raised,
//! run by run, over historical logs.
//!
//! For every cron tick `t` in `[from, to)` of each enabled detection's schedule, the detection
//! runs over `[resolve(earliest, t), resolve(latest, t))`, as Splunk's scheduler computes it
//! (offset, then snap). Detections with the same `(cron, earliest, latest)` share one engine
//! and one scan state per run; the input is read once and each event is routed to every run
//! window holding its `_time` (see [`crate::window::Scheduled`]).
//!
//! The run time is the cron tick itself: Splunk may dispatch later (`schedule_window`, busy
//! search heads), but the window is computed from the scheduled time, which is what we stamp.
//! Cron ticks and snaps (`@d`, `@w1`) are evaluated in `--tz` (default UTC).

use crate::output::{self, ResultSet};
use crate::window::{iso, parse_now, parse_time, schedule_runs, Group, Missed, RunsError, Scheduled, ScheduledState};
use crate::{exit, ContentArgs, RunArgs};
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use vigil_content::Detection;
use vigil_engine::{Engine, EvalContext, Planner, Query};
use vigil_model::{Micros, Record};
use vigil_normalize::Normalizer;
use vigil_time::Window;

/// Upper bound on scheduled runs (all schedules together) in one backtest: each run keeps a
/// scan state in memory. A week of hourly runs is 168; every minute for a year is 525,600.
pub const MAX_RUNS: usize = 100_000;

#[derive(Args)]
pub struct BacktestArgs {
    /// Log files or directories, or `store:DIR` (vigil serve's event store: only the hours
    /// the scheduled windows cover are read).
    #[arg(required_unless_present = "stores")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub store: crate::store_input::StoreArgs,
    /// First scheduled run time considered (inclusive): ISO 8601, epoch seconds, or a modifier
    /// such as -7d@d relative to --now.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: String,
    /// End of the range of run times (exclusive), same forms as --from.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: String,
    /// "Now" for relative --from/--to: epoch seconds or ISO 8601 (default: the wall clock).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub now: Option<String>,
    #[command(flatten)]
    pub content: ContentArgs,
    /// Backtest only this detection (by name), even if disabled by default; repeatable.
    #[arg(long = "detection", value_name = "NAME")]
    pub detections: Vec<String>,
    /// Also run this detection although its deployment says `disabled: true`; repeatable.
    #[arg(long = "enable", value_name = "NAME")]
    pub enable: Vec<String>,
    /// Event field holding the time the event arrived (was indexed): epoch seconds or ISO
    /// 8601. A run does not see events that arrived after it; events no run saw are reported
    /// as missed.
    #[arg(long, value_name = "FIELD", default_value = "_indextime")]
    pub arrival_field: String,
    /// Emit the notables and risk events each run would have raised (with its run time and
    /// window) instead of result rows. They are not recorded in the risk index.
    #[arg(long)]
    pub alerts: bool,
    #[command(flatten)]
    pub sigma_schedule: crate::sigma_schedule::SigmaScheduleArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// A detection chosen to run, with its schedule.
struct Chosen<'a> {
    detection: &'a Detection,
    query: Query,
    cron: String,
    earliest: String,
    latest: String,
    explicit: bool,
}

/// One run's results for one detection.
struct Hit {
    run_time: Micros,
    window: Window,
    name: String,
    rows: Vec<Record>,
    /// For a Correlation detection's run: the risk events it read.
    risk_input: Option<std::sync::Arc<Vec<serde_json::Value>>>,
}

pub fn run(args: BacktestArgs) -> u8 {
    match backtest(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vigil: {e}");
            exit::USAGE
        }
    }
}

fn backtest(args: &BacktestArgs) -> Result<u8, String> {
    let super::Session { content, mut normalizer, ctx, opts, driver } = super::session(&args.content, &args.run)?;
    let tz = ctx.tz.clone();
    let now = match &args.now {
        Some(n) => parse_now("--now", n, &tz)?,
        None => ctx.now,
    };
    let from = parse_time("--from", &args.from, now, &tz)?;
    let to = parse_time("--to", &args.to, now, &tz)?;
    if from >= to {
        return Err(format!("--from ({}) must be before --to ({})", iso(from), iso(to)));
    }

    let sigma = crate::sigma::load(&args.content.sigma)?;
    // Which detections: the named ones (even if disabled), else every enabled one.
    // Names resolve as `hunt --detection` does (id, file name, unique part of the name);
    // names of Sigma rules select those.
    let mut named_names = Vec::new();
    for name in args.detections.iter().chain(&args.enable).filter(|n| !sigma.names(n)) {
        named_names.push(crate::select::resolve(content.detections(), name)?.name.clone());
    }
    let named = |d: &Detection| named_names.contains(&d.name);
    let candidates: Vec<&Detection> = if args.detections.is_empty() {
        content.detections().iter().collect()
    } else {
        content.detections().iter().filter(|d| named(d)).collect()
    };
    let mut disabled = Vec::new();
    let mut unscheduled = Vec::new();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    // Sigma rules, each on the Sigma schedule (see crate::sigma_schedule).
    let sigma_names: Vec<String> = args.detections.iter().filter(|n| sigma.names(n)).cloned().collect();
    let sigma_selected = args.detections.is_empty() || !sigma_names.is_empty();
    let (sigma_detections, sigma_queries): (Vec<Detection>, Vec<Query>) = if sigma_selected {
        crate::sigma_schedule::scheduled(&sigma, &mut planner, &sigma_names, &args.sigma_schedule, args.run.verbose).into_iter().unzip()
    } else {
        (Vec::new(), Vec::new())
    };
    let mut chosen = Vec::new();
    for (d, query) in sigma_detections.iter().zip(sigma_queries) {
        let s = d.deployment.as_ref().map(|dep| dep.scheduling.clone()).unwrap_or_default();
        chosen.push(Chosen {
            detection: d,
            query,
            cron: s.cron_schedule.unwrap_or_default(),
            earliest: s.earliest_time.unwrap_or_default(),
            latest: s.latest_time.unwrap_or_default(),
            explicit: !sigma_names.is_empty(),
        });
    }
    let mut cannot_run = Vec::new();
    for d in candidates {
        let explicit = named(d);
        let Some(dep) = content.deployment_for(d) else {
            unscheduled.push(d.name.clone());
            continue;
        };
        let s = &dep.scheduling;
        if s.disabled == Some(true) && !explicit {
            disabled.push(d.name.clone());
            continue;
        }
        let Some(cron) = s.cron_schedule.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
            unscheduled.push(d.name.clone());
            continue;
        };
        match planner.plan(&d.name, &d.search) {
            Ok(query) => chosen.push(Chosen {
                detection: d,
                query,
                cron: cron.to_string(),
                earliest: s.earliest_time.clone().unwrap_or_default().trim().to_string(),
                latest: s.latest_time.clone().unwrap_or_default().trim().to_string(),
                explicit,
            }),
            Err(e) => cannot_run.push((d.name.clone(), explicit, super::render_detection_error(d, &e))),
        }
    }
    if !disabled.is_empty() {
        eprintln!(
            "vigil: {} detection{} disabled by default, not run (name with --detection or --enable to run): {}",
            disabled.len(),
            if disabled.len() == 1 { "" } else { "s" },
            disabled.join(", ")
        );
    }
    if !unscheduled.is_empty() {
        eprintln!("vigil: {} detection(s) without a cron schedule, not run: {}", unscheduled.len(), unscheduled.join(", "));
    }
    if !cannot_run.is_empty() {
        let fatal = cannot_run.iter().any(|(_, explicit, _)| *explicit);
        for (name, _, msg) in &cannot_run {
            if fatal || args.run.verbose {
                eprintln!("vigil: detection `{name}` cannot run:\n{msg}");
            }
        }
        if fatal {
            return Ok(exit::USAGE);
        }
        eprintln!(
            "vigil: skipped {} detection(s) that cannot run{}",
            cannot_run.len(),
            if args.run.verbose { "" } else { "; --verbose for details" }
        );
    }

    // With --alerts, Correlation detections (reading the Risk data model) run on their own
    // schedule over the risk events the other runs raised: a second pass.
    let (chosen, correlations): (Vec<Chosen>, Vec<Chosen>) =
        chosen.into_iter().partition(|c| !(args.alerts && crate::correlation::reads_risk(&c.query, normalizer.catalog())));
    let risk_groups = build_groups(correlations, from, to, &tz, &normalizer)?;
    super::restrict_knowledge(&mut normalizer, chosen.iter().map(|c| &c.query));
    let mut groups = build_groups(chosen, from, to, &tz, &normalizer)?;
    for g in &mut groups {
        g.engine.set_memory_budget(args.run.memory_budget());
    }
    if groups.is_empty() && risk_groups.is_empty() {
        eprintln!("vigil: nothing to backtest: no enabled detection with a schedule");
        return Ok(exit::USAGE);
    }

    // A store is read only where some run's window reaches.
    let covered = crate::store_input::covering(groups.iter().flat_map(|g| g.runs.windows.iter().copied()));
    let paths = crate::store_input::expand(&args.paths, &args.store, Some(covered.unwrap_or(Window::new(0, 0))), args.run.verbose)?;
    let consumer = Scheduled { groups: &groups, arrival_field: &args.arrival_field };
    let scanned = driver.scan(&consumer, &normalizer, vigil_scan::Inputs { paths: &paths, read: &opts });
    let mut state = scanned.state;
    let (mut hits, mut failures) = finish_runs(&groups, &mut state, &ctx);
    if !risk_groups.is_empty() {
        // A risk event exists from the run that raised it on.
        let risk: Vec<(Micros, serde_json::Value)> = hits
            .iter()
            .flat_map(|h| {
                hit_alerts(h, &content, &sigma_detections, &tz).into_iter().filter(|a| a.kind() == "risk").map(move |a| (h.run_time, a))
            })
            .filter_map(|(t, a)| serde_json::to_value(&a).ok().map(|j| (t, j)))
            .collect();
        let (more, errors) = crate::correlation::scheduled(&driver, &risk_groups, &risk, &normalizer, &ctx);
        eprintln!(
            "vigil: {} correlation detection(s) over {} risk event(s): {} result(s)",
            risk_groups.iter().map(|g| g.names.len()).sum::<usize>(),
            risk.len(),
            more.iter().map(|h| h.rows.len()).sum::<usize>()
        );
        hits.extend(more.into_iter().map(|h| Hit {
            run_time: h.run_time,
            window: h.window,
            name: h.name,
            rows: h.rows,
            risk_input: Some(h.risk_input),
        }));
        hits.sort_by_key(|h| h.run_time);
        failures.extend(errors);
    }

    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let written = if args.alerts {
        write_alert_hits(&mut lock, args.run.format, &hits, &content, &sigma_detections, &tz)
    } else {
        write_hits(&mut lock, args.run.format, &hits)
    }
    .and_then(|_| if args.run.format == output::Format::Jsonl { write_missed_jsonl(&mut lock, &groups, &state.missed) } else { Ok(()) })
    .and_then(|_| lock.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("vigil: cannot write output: {e}");
        }
    }
    for e in &scanned.input_errors {
        eprintln!("vigil: input: {e}");
    }
    for f in &failures {
        eprintln!("vigil: {f}");
    }
    report_missed(&groups, &state, args.run.verbose);
    summary(&groups, &state, &scanned.report, &hits);
    if args.run.strict && (scanned.report.skipped_total() > 0 || !scanned.input_errors.is_empty()) {
        return Ok(exit::INPUT_STRICT);
    }
    Ok(if failures.is_empty() { exit::OK } else { exit::USAGE })
}

/// Groups detections by identical `(cron, earliest, latest)` and lists each group's runs.
fn build_groups(chosen: Vec<Chosen>, from: Micros, to: Micros, tz: &vigil_time::Tz, normalizer: &Normalizer) -> Result<Vec<Group>, String> {
    let mut keyed: Vec<((String, String, String), Vec<Chosen>)> = Vec::new();
    for c in chosen {
        let key = (c.cron.clone(), c.earliest.clone(), c.latest.clone());
        match keyed.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(c),
            None => keyed.push((key, vec![c])),
        }
    }
    let mut groups = Vec::new();
    let mut total_runs = 0usize;
    for ((cron, earliest, latest), members) in keyed {
        let names: Vec<String> = members.iter().map(|m| m.detection.name.clone()).collect();
        let explicit = members.iter().any(|m| m.explicit);
        let runs = match schedule_runs(&cron, &earliest, &latest, from, to, tz, MAX_RUNS - total_runs.min(MAX_RUNS)) {
            Ok(r) => r,
            Err(RunsError::TooMany) => {
                return Err(format!(
                    "--from/--to: more than {MAX_RUNS} scheduled runs between {} and {} (schedule `{cron}` of {}); narrow the range",
                    iso(from),
                    iso(to),
                    names.join(", ")
                ))
            }
            Err(RunsError::Bad(e)) if explicit => return Err(format!("schedule of {}: {e}", names.join(", "))),
            Err(RunsError::Bad(e)) => {
                eprintln!("vigil: schedule of {} cannot be used, not run: {e}", names.join(", "));
                continue;
            }
        };
        total_runs += runs.len();
        if runs.is_empty() {
            eprintln!("vigil: schedule `{cron}` has no run between {} and {} ({})", iso(from), iso(to), names.join(", "));
        }
        let queries = members.into_iter().map(|m| m.query).collect();
        groups.push(Group { engine: Engine::new(queries, normalizer.catalog()), names, cron, earliest, latest, runs });
    }
    Ok(groups)
}

/// A bar over the runs being finished, on a terminal only (never into a pipe or a CI log).
fn runs_progress(runs: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || runs < 2 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(runs);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} runs ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar
}

/// Finishes every run's state (the scan library's `finish_runs`, shared with `vigil serve`)
/// with a bar over the runs.
fn finish_runs(groups: &[Group], state: &mut ScheduledState, ctx: &EvalContext) -> (Vec<Hit>, Vec<String>) {
    let progress = runs_progress(state.states.iter().map(Vec::len).sum::<usize>() as u64);
    let (hits, failures) = crate::window::finish_runs(groups, state, ctx, &|| progress.inc(1));
    progress.finish_and_clear();
    let hits =
        hits.into_iter().map(|h| Hit { run_time: h.run_time, window: h.window, name: h.name, rows: h.rows, risk_input: None }).collect();
    (hits, failures)
}

/// The alerts one run's results raise; a Correlation run's notables carry the risk events
/// each result counted. `sigma`: the Sigma rules as detections.
fn hit_alerts(h: &Hit, content: &vigil_content::ContentSet, sigma: &[Detection], tz: &vigil_time::Tz) -> Vec<vigil_alert::Alert> {
    let Some(det) = content.detection(&h.name).or_else(|| sigma.iter().find(|d| d.name == h.name)) else { return Vec::new() };
    let search = vigil_spl::expand_macros(&det.search, content, &vigil_spl::ExpandLimits::default()).ok();
    // ES stamps alerts with the run time in whole seconds.
    let run_time = h.run_time - h.run_time.rem_euclid(1_000_000);
    // Historical files: alerts carry the activity's time; `run_time` stays in the stamp.
    let stamp = vigil_alert::Stamp::Activity(tz.clone());
    let ctx = vigil_alert::AlertContext { run_time, search, window: Some((h.window.earliest, h.window.latest)), stamp };
    vigil_alert::build_alerts_with_risk(det, content.deployment_for(det), &h.rows, &ctx, h.risk_input.as_deref().map(Vec::as_slice))
}

/// The alerts each run raised, stamped with the run and its window (`--alerts`).
fn write_alert_hits(
    out: &mut dyn Write,
    format: output::Format,
    hits: &[Hit],
    content: &vigil_content::ContentSet,
    sigma: &[Detection],
    tz: &vigil_time::Tz,
) -> std::io::Result<()> {
    let mut rows: Vec<Record> = Vec::new();
    for h in hits {
        for alert in hit_alerts(h, content, sigma, tz) {
            let stamp =
                [("run_time", iso(h.run_time)), ("window_earliest", iso(h.window.earliest)), ("window_latest", iso(h.window.latest))];
            if format == output::Format::Jsonl {
                let mut v = serde_json::to_value(&alert).map_err(std::io::Error::other)?;
                if let Some(obj) = v.as_object_mut() {
                    for (k, t) in &stamp {
                        obj.insert((*k).to_string(), serde_json::Value::String(t.clone()));
                    }
                }
                serde_json::to_writer(&mut *out, &v)?;
                out.write_all(b"\n")?;
            } else {
                let mut r = Record::new();
                for (k, t) in stamp {
                    r.set(k, vigil_model::Value::Str(t));
                }
                for (k, v) in crate::alerts::display_record(&alert, format == output::Format::Csv, tz).iter() {
                    r.set(k.to_string(), v.clone());
                }
                rows.push(r);
            }
        }
    }
    match format {
        output::Format::Jsonl => Ok(()),
        output::Format::Csv => crate::alerts::write_csv(out, &rows),
        output::Format::Table => output::write(out, output::Format::Table, &[ResultSet { name: "alerts", rows: &rows }]),
    }
}

#[derive(Serialize)]
struct JsonHit<'a> {
    detection: &'a str,
    run_time: String,
    window_earliest: String,
    window_latest: String,
    result: &'a Record,
}

#[derive(Serialize)]
struct JsonMissed<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detection: Option<&'a str>,
    detections: &'a [String],
    event_time: String,
    arrival_time: String,
    window_run_time: String,
    source: &'a str,
}

fn write_hits(out: &mut dyn Write, format: output::Format, hits: &[Hit]) -> std::io::Result<()> {
    match format {
        output::Format::Jsonl => {
            for h in hits {
                for row in &h.rows {
                    let rec = JsonHit {
                        detection: &h.name,
                        run_time: iso(h.run_time),
                        window_earliest: iso(h.window.earliest),
                        window_latest: iso(h.window.latest),
                        result: row,
                    };
                    serde_json::to_writer(&mut *out, &rec)?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
        output::Format::Csv => {
            let all: Vec<Record> = hits.iter().flat_map(|h| h.rows.iter().cloned()).collect();
            let cols = vigil_model::Record::columns(&all);
            let mut w = csv::Writer::from_writer(out);
            let mut header: Vec<String> = ["detection", "run_time", "window_earliest", "window_latest"].map(String::from).to_vec();
            header.extend(cols.iter().cloned());
            w.write_record(&header)?;
            for h in hits {
                for row in &h.rows {
                    let mut rec = vec![h.name.clone(), iso(h.run_time), iso(h.window.earliest), iso(h.window.latest)];
                    rec.extend(cols.iter().map(|c| row.value(c).to_string()));
                    w.write_record(&rec)?;
                }
            }
            w.flush()?;
            Ok(())
        }
        output::Format::Table => {
            for h in hits {
                let label = format!("{} | run {} | window {} .. {}", h.name, iso(h.run_time), iso(h.window.earliest), iso(h.window.latest));
                output::write(out, output::Format::Table, &[ResultSet { name: &label, rows: &h.rows }])?;
            }
            Ok(())
        }
    }
}

fn write_missed_jsonl(out: &mut dyn Write, groups: &[Group], missed: &[Missed]) -> std::io::Result<()> {
    let mut sorted: Vec<&Missed> = missed.iter().collect();
    sorted.sort_by(|a, b| (a.event_time, a.group, &a.origin).cmp(&(b.event_time, b.group, &b.origin)));
    for m in sorted {
        let Some(g) = groups.get(m.group) else { continue };
        let rec = JsonMissed {
            kind: "missed",
            detection: if g.names.len() == 1 { g.names.first().map(String::as_str) } else { None },
            detections: &g.names,
            event_time: iso(m.event_time),
            arrival_time: iso(m.arrival),
            window_run_time: iso(m.run_time),
            source: &m.origin,
        };
        serde_json::to_writer(&mut *out, &rec)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Late events on stderr: per schedule, how many no run saw, with a few examples.
fn report_missed(groups: &[Group], state: &ScheduledState, verbose: bool) {
    if state.bad_arrival > 0 {
        eprintln!("vigil: {} event(s) with an unreadable arrival time, treated as on time", state.bad_arrival);
    }
    for (gi, g) in groups.iter().enumerate() {
        let n = state.missed_per_group.get(gi).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        eprintln!(
            "vigil: {n} event(s) arrived after every run whose window held them; missed by schedule `{}` earliest={} latest={} ({})",
            g.cron,
            shown(&g.earliest),
            shown(&g.latest),
            g.names.join(", ")
        );
        let examples: Vec<&Missed> = state.missed.iter().filter(|m| m.group == gi).take(if verbose { usize::MAX } else { 5 }).collect();
        for m in examples {
            eprintln!(
                "  event {} arrived {} ({} late for the run at {}) {}",
                iso(m.event_time),
                iso(m.arrival),
                human(m.arrival - m.run_time),
                iso(m.run_time),
                m.origin
            );
        }
    }
}

fn shown(spec: &str) -> &str {
    if spec.is_empty() {
        "\"\""
    } else {
        spec
    }
}

fn human(d: Micros) -> String {
    let s = d / 1_000_000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}s", s.max(0))
    }
}

fn summary(groups: &[Group], state: &ScheduledState, report: &vigil_read::ReadReport, hits: &[Hit]) {
    let runs: usize = groups.iter().map(|g| g.runs.len()).sum();
    let detections: usize = groups.iter().map(|g| g.names.len()).sum();
    let results: usize = hits.iter().map(|h| h.rows.len()).sum();
    let mut firing: Vec<(Micros, &str)> = hits.iter().map(|h| (h.run_time, h.name.as_str())).collect();
    firing.dedup();
    let missed: u64 = state.missed_per_group.iter().sum();
    let skipped = report.skipped_total();
    let mut line = format!("vigil: {} file(s), {} events read, {} skipped", report.files, report.events, skipped);
    if skipped > 0 {
        let reasons: Vec<String> = report.skipped.iter().map(|(k, s)| format!("{k}: {}", s.count)).collect();
        line.push_str(&format!(" ({})", reasons.join(", ")));
    }
    eprintln!("{line}");
    eprintln!(
        "vigil: {detections} detection(s) in {} schedule(s), {runs} scheduled run(s); {results} result(s) from {} detection run(s); {} event(s) in no window, {} without _time; {missed} missed as late ({} with an arrival time)",
        groups.len(),
        firing.len(),
        state.outside,
        state.untimed,
        state.with_arrival
    );
}
