//! The pipeline from files to results: discover -> read (parallel) -> normalize -> execute.

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::PathBuf;
use vigil_engine::{Engine, EvalContext, QueryOutput};
use vigil_model::DatasetRow;
use vigil_normalize::Normalizer;
use vigil_read::{ReadOptions, ReadReport};

/// What one run over the inputs produced.
pub struct RunOutput {
    pub outputs: Vec<QueryOutput>,
    pub report: ReadReport,
    /// Paths given that could not be used (missing, unreadable directories).
    pub input_errors: Vec<String>,
}

/// Reads every input once, feeding all queries of `engine`, and runs their operators.
pub fn run(
    engine: &Engine,
    normalizer: &Normalizer,
    paths: &[PathBuf],
    opts: &ReadOptions,
    ctx: &EvalContext,
) -> RunOutput {
    let (files, errors) = vigil_read::discover(paths);
    let input_errors = errors.iter().map(|e| e.to_string()).collect();
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let progress = progress_bar(total_bytes);

    let wants_events = engine.wants_events();
    let (state, report) = files
        .par_iter()
        .fold(
            || (engine.new_state(), ReadReport::default(), Vec::<DatasetRow>::new()),
            |(mut state, mut report, mut rows), file| {
                let r = vigil_read::read_file(file, opts, &mut |ev| {
                    if wants_events {
                        engine.on_event(&mut state, ev);
                    }
                    rows.clear();
                    normalizer.normalize(ev, &mut rows);
                    for row in &rows {
                        engine.on_row(&mut state, row);
                    }
                });
                if let Ok(meta) = std::fs::metadata(file) {
                    progress.inc(meta.len());
                }
                report.merge(r);
                (state, report, rows)
            },
        )
        .map(|(state, report, _)| (state, report))
        .reduce(
            || (engine.new_state(), ReadReport::default()),
            |(mut a, mut ra), (b, rb)| {
                engine.merge(&mut a, b);
                ra.merge(rb);
                (a, ra)
            },
        );
    progress.finish_and_clear();
    RunOutput { outputs: engine.finish(state, ctx), report, input_errors }
}

fn progress_bar(total: u64) -> ProgressBar {
    // A bar only helps a person watching; never write one into a pipe or a CI log.
    if !std::io::stderr().is_terminal() || total < 64 * 1024 * 1024 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})") {
        bar.set_style(style);
    }
    bar
}
