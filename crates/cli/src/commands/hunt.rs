//! `vigil hunt PATH...`: run detections over logs.

use crate::{exit, ContentArgs, RunArgs};
use clap::Args;
use std::path::PathBuf;
use vigil_engine::{Engine, Planner};

#[derive(Args)]
pub struct HuntArgs {
    /// Log files or directories (walked recursively; .gz and .zip are read), or `store:DIR`
    /// (vigil serve's event store).
    #[arg(required_unless_present_any = ["explain", "stores"])]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub store: crate::store_input::StoreArgs,
    /// Print each selected detection's plan (logical plan, pushed-down scan, finishing
    /// strategy) instead of running it.
    #[arg(long)]
    pub explain: bool,
    /// Read the inputs and normalise them into the data models the selected detections read,
    /// without running any detection: the cost of getting their input ready, which detections
    /// are measured against (bench/ratios.sh).
    #[arg(long, conflicts_with_all = ["explain", "alerts"])]
    pub no_detections: bool,
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub select: crate::select::SelectArgs,
    /// Fail (exit 2) when any selected detection cannot run, instead of skipping it.
    #[arg(long)]
    pub require_ready: bool,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub window: crate::window::WindowArgs,
    #[command(flatten)]
    pub alert: crate::alerts::AlertArgs,
}

pub fn run(args: HuntArgs) -> u8 {
    let super::Session { content, mut normalizer, mut ctx, opts, driver } = match super::session(&args.content, &args.run) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };

    let sigma = match crate::sigma::load(&args.content.sigma) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    // Named detections must exist; otherwise the filters (production by default) choose.
    let selected = match args.select.select_beside(&content, &|name| sigma.names(name)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    if selected.is_empty() && sigma.rules.is_empty() {
        eprintln!(
            "vigil: no detection selected (default: status production; see --status, --type, --story, --mitre, `vigil content list`)"
        );
        return exit::USAGE;
    }

    let mut planner = Planner::new(normalizer.catalog(), &content);
    let mut queries = Vec::new();
    let mut planned = Vec::new(); // the Detection behind each query, same order
    let mut unsupported = Vec::new();
    let mut broken = Vec::new();
    for d in &selected {
        match planner.plan(&d.name, &d.search) {
            Ok(q) => {
                queries.push(q);
                planned.push(*d);
            }
            Err(e) => {
                let rendered = super::render_detection_error(d, &e);
                if e.error.is_unsupported() {
                    unsupported.push((d.name.clone(), rendered));
                } else {
                    broken.push((d.name.clone(), rendered));
                }
            }
        }
    }
    let skipped = unsupported.len() + broken.len();
    if skipped > 0 {
        let explicit = !args.select.detections.is_empty();
        if args.require_ready || explicit || args.run.verbose {
            for (name, msg) in unsupported.iter().chain(&broken) {
                eprintln!("vigil: detection `{name}` cannot run:\n{msg}");
            }
        }
        if args.require_ready || explicit {
            return exit::USAGE;
        }
        eprintln!(
            "vigil: skipped {skipped} of {} detections ({} use unsupported SPL, {} have errors){}",
            selected.len(),
            unsupported.len(),
            broken.len(),
            if args.run.verbose { "" } else { "; --verbose for details" }
        );
    }
    // Sigma rules join the same engine: one pass over the input for both libraries.
    let (sigma_queries, sigma_planned, sigma_broken) = crate::sigma::plan(&sigma, &mut planner, &args.select.detections);
    crate::sigma::report(&sigma, &sigma_broken, args.run.verbose);
    queries.extend(sigma_queries);
    // For --alerts, each Sigma rule stands as a detection (notable + risk by level).
    let sigma_detections: Vec<vigil_content::Detection> = sigma_planned.iter().map(|r| crate::sigma::as_detection(r.meta())).collect();
    // The queries hold what they need of the rules now.
    drop(sigma_planned);
    drop(sigma);
    crate::release_freed_memory();
    planned.extend(sigma_detections.iter());
    if args.explain {
        let plans: Vec<String> = queries.iter().map(|q| q.explain(normalizer.catalog())).collect();
        print!("{}", plans.join("\n"));
        return exit::OK;
    }
    if args.run.verbose {
        let fields = crate::fire::FieldCatalog::load(&args.content.content, normalizer.knowledge());
        for (d, q) in planned.iter().zip(&queries) {
            if let Some(missing) = fields.missing_fields(d, &q.text) {
                eprintln!("vigil: detection `{}` cannot fire: {}", d.name, super::content::cannot_fire_reason(d, &missing));
            }
        }
    }
    super::restrict_knowledge(&mut normalizer, &queries);
    if args.no_detections {
        let engine = Engine::new(queries, normalizer.catalog());
        return read_only(&args, &engine, &normalizer, &driver, &opts);
    }
    let window = match args.window.resolve(&mut ctx) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    let paths = match crate::store_input::expand(&args.paths, &args.store, window, args.run.verbose) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    if args.alert.alerts {
        // Correlation detections read the risk events the others raise: a second pass.
        let (logs, risk) = crate::correlation::split(planned, queries, normalizer.catalog());
        let mut engine = Engine::new(logs.queries, normalizer.catalog());
        engine.set_memory_budget(args.run.memory_budget());
        let risk_engine = Engine::new(risk.queries, normalizer.catalog());
        let out = driver.run(
            &engine,
            window,
            &normalizer,
            vigil_scan::Inputs { paths: &paths, read: &opts },
            &ctx,
            vigil_scan::Delivery::Collect,
        );
        crate::window::report_dropped(window, &out);
        let range = window.map_or((i64::MIN, i64::MAX), |w| (w.earliest, w.latest));
        let second = (!risk.detections.is_empty()).then_some(crate::alerts::SecondPass {
            detections: &risk.detections,
            engine: &risk_engine,
            normalizer: &normalizer,
            driver: &driver,
            range,
        });
        return crate::alerts::finish(&args.alert, &args.run, &content, &logs.detections, &out, &ctx, second);
    }
    let n = queries.len();
    // A Hunting search's `count=0` row over no matching events is not a finding.
    let hunting: std::collections::HashSet<String> =
        planned.iter().filter(|d| d.kind.trim().eq_ignore_ascii_case("hunting")).map(|d| d.name.clone()).collect();
    // The scan needs only the queries: the detections' documents (ESCU's and those made for
    // Sigma rules, several MB of heap with both libraries) are let go before it.
    drop(planned);
    drop(sigma_detections);
    drop(selected);
    drop(content);
    let mut engine = Engine::new(queries, normalizer.catalog());
    crate::release_freed_memory();
    engine.set_memory_budget(args.run.memory_budget());
    engine.set_scan_profile(args.run.verbose);
    let shown = |name: &str, row: &vigil_model::Record| !(hunting.contains(name) && crate::select::is_empty_aggregate(row));
    let out = super::run_and_print(
        &args.run,
        &driver,
        &engine,
        window,
        &normalizer,
        vigil_scan::Inputs { paths: &paths, read: &opts },
        &ctx,
        &shown,
    );
    super::finish(&args.run, &out, n, "detection")
}

/// `--no-detections`: one pass reading the inputs and normalising them for `engine`'s queries
/// (the add-ons derive the fields they read), running none; then the usual summary.
fn read_only(
    args: &HuntArgs,
    engine: &Engine,
    normalizer: &vigil_normalize::Normalizer,
    driver: &vigil_scan::Driver,
    opts: &vigil_read::ReadOptions,
) -> u8 {
    let started = std::time::Instant::now();
    let scanned = driver.scan(&vigil_scan::ReadOnly { engine }, normalizer, vigil_scan::Inputs { paths: &args.paths, read: opts });
    let out = vigil_scan::RunOutput {
        outputs: Vec::new(),
        counts: Vec::new(),
        report: scanned.report,
        input_errors: scanned.input_errors,
        phases: vigil_scan::Phases { scan: started.elapsed(), after_scan: std::time::Duration::ZERO },
        dropped: None,
        scan_costs: Vec::new(),
    };
    if args.run.verbose {
        eprintln!("vigil: {} data model rows built; scan {:.2} s", scanned.state, out.phases.scan.as_secs_f64());
    }
    super::finish(&args.run, &out, 0, "detection")
}
