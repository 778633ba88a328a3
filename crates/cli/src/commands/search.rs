//! `vigil search '<SPL>' PATH...`: an ad-hoc search with the loaded macros.

use crate::{exit, ContentArgs, RunArgs};
use clap::Args;
use std::path::PathBuf;
use vigil_engine::{Engine, Planner};

#[derive(Args)]
pub struct SearchArgs {
    /// The search, e.g. '| tstats count from datamodel=Endpoint.Processes by Processes.dest'.
    pub spl: String,
    /// Log files or directories, or `store:DIR` (vigil serve's event store).
    #[arg(required_unless_present_any = ["explain", "stores"])]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub store: crate::store_input::StoreArgs,
    /// Print the search's plan (logical plan, pushed-down scan, finishing strategy) instead
    /// of running it.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub window: crate::window::WindowArgs,
}

pub fn run(args: SearchArgs) -> u8 {
    if !args.content.sigma.is_empty() {
        // Not silently ignored: Sigma runs in hunt, content check and test for now.
        eprintln!("vigil: --sigma is not supported by `search` yet (use hunt, content check or test)");
        return exit::USAGE;
    }
    let super::Session { content, mut normalizer, mut ctx, opts, driver } = match super::session(&args.content, &args.run) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let query = match planner.plan("search", &args.spl) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("{}", e.render("search"));
            return exit::USAGE;
        }
    };
    if args.explain {
        print!("{}", query.explain(normalizer.catalog()));
        return exit::OK;
    }
    // Rows of an ad-hoc search may show every field: all of the add-ons' fields, if it reads
    // raw events at all.
    if !query.reads_events() {
        normalizer.restrict_knowledge(&|_| false);
    }
    let mut engine = Engine::new(vec![query], normalizer.catalog());
    engine.set_memory_budget(args.run.memory_budget());
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
    let out = super::run_and_print(
        &args.run,
        &driver,
        &engine,
        window,
        &normalizer,
        vigil_scan::Inputs { paths: &paths, read: &opts },
        &ctx,
        &super::show_all,
    );
    super::finish(&args.run, &out, 1, "search")
}
