//! `vigil test`: validation, unit and integration tests of detections, offline.
//!
//! Which detections: those of the `--content` directories (the built-in layer still provides
//! macros and deployment defaults), or the built-in detections when no `--content` is given;
//! `--detection NAME` narrows either. Output: one line per test, then `N passed, N failed`
//! (`, N skipped`); exit 1 when any test failed. See [`crate::testing`] for the rules.

use crate::exit;
use crate::testing::data::Resolver;
use crate::testing::unit::{self, Env};
use crate::testing::validate::{self, DetectionSource, Validated};
use crate::testing::{counts_line, junit, Kind, Outcome, Status};
use crate::ContentArgs;
use clap::Args;
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vigil_engine::{EvalContext, Planner};

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    /// Where attack data lives: `data:` URLs are mapped here by their path after
    /// `.../datasets/` (or `attack_data/`); relative paths are also looked up here.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Test only this detection (by name); repeatable.
    #[arg(long = "detection", value_name = "NAME")]
    pub detections: Vec<String>,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Time zone for rendered times in messages (convert ctime). Default UTC.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub tz: String,
}

pub fn run(args: TestArgs) -> u8 {
    let (content, normalizer) = match super::content_layers(&args.content).and_then(|c| Ok((c, super::normalizer()?))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vigil: {e}");
            return exit::USAGE;
        }
    };
    let tz = match vigil_time::Tz::parse(&args.tz) {
        Ok(tz) => tz,
        Err(e) => {
            eprintln!("vigil: --tz: {e}");
            return exit::USAGE;
        }
    };
    if let Some(d) = &args.data_dir {
        if !d.is_dir() {
            eprintln!("vigil: --data-dir {}: not a directory", d.display());
            return exit::USAGE;
        }
    }
    let ctx = EvalContext { now: vigil_time::now_micros(), tz };
    let sigma = if args.content.sigma.is_empty() {
        Vec::new()
    } else {
        match crate::testing::sigma::run_all(&args.content.sigma, args.data_dir.as_deref(), &normalizer, &ctx) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("vigil: {e}");
                return exit::USAGE;
            }
        }
    };
    // `--sigma` alone tests the Sigma rules only; with `--content`, both.
    let escu = args.content.sigma.is_empty() || !args.content.content.is_empty();

    let (sources, mut outcomes) = if escu { detection_sources(&args.content.content) } else { (Vec::new(), Vec::new()) };
    let known = validate::Known {
        data_sources: known_names(&args.content.content, "data_sources"),
        stories: known_names(&args.content.content, "stories"),
    };
    if known.data_sources.is_none() && escu {
        eprintln!("vigil: note: data_source names not checked (no data_sources/ directory in the content)");
    }
    if known.stories.is_none() && escu {
        eprintln!("vigil: note: analytic_story names not checked (no stories/ directory in the content)");
    }

    // Validation, in file order.
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let mut checked: Vec<(DetectionSource, Validated)> = Vec::new();
    for src in sources {
        let t = Instant::now();
        let mut v = validate::validate(&src, &mut planner, &content, &known);
        v.outcome.seconds = t.elapsed().as_secs_f64();
        checked.push((src, v));
    }
    drop(planner);
    validate::duplicates(checked.iter_mut().map(|(_, v)| v));

    if !args.detections.is_empty() {
        for name in &args.detections {
            if !checked.iter().any(|(_, v)| v.outcome.name.eq_ignore_ascii_case(name.trim())) {
                eprintln!("vigil: no detection named `{name}` in the tested content");
                return exit::USAGE;
            }
        }
        checked.retain(|(_, v)| args.detections.iter().any(|n| v.outcome.name.eq_ignore_ascii_case(n.trim())));
        outcomes.clear();
    }

    // Unit and integration tests, detections in parallel, outcomes in file order.
    let resolver = Resolver { data_dir: args.data_dir.clone() };
    let env = Env { content: &content, normalizer: &normalizer, resolver: &resolver, ctx: &ctx };
    let per_detection: Vec<Vec<Outcome>> = checked
        .par_iter()
        .map(|(src, v)| {
            let mut list = vec![v.outcome.clone()];
            list.extend(detection_tests(src, v, &env));
            list
        })
        .collect();
    outcomes.extend(per_detection.into_iter().flatten());
    outcomes.extend(sigma);

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for o in &outcomes {
        let _ = writeln!(out, "{o}");
    }
    let _ = writeln!(out, "{}", counts_line(&outcomes));
    let _ = out.flush();
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit::render(&outcomes)) {
            eprintln!("vigil: --junit {}: {e}", path.display());
            return exit::USAGE;
        }
    }
    if outcomes.iter().any(|o| o.status == Status::Fail) {
        exit::TEST_FAILURES
    } else {
        exit::OK
    }
}

/// The unit and integration outcomes of one validated detection's `tests:`.
fn detection_tests(src: &DetectionSource, v: &Validated, env: &Env) -> Vec<Outcome> {
    let Some(det) = &v.detection else { return Vec::new() };
    let file = src.file.display().to_string();
    let many = det.tests.len() > 1;
    let mut out = Vec::new();
    for test in &det.tests {
        let name = if many { format!("{} [{}]", v.outcome.name, test.name) } else { v.outcome.name.clone() };
        let skip = |why: String| {
            vec![
                Outcome::new(Kind::Unit, &name, &file, Status::Skip, why.clone()),
                Outcome::new(Kind::Integration, &name, &file, Status::Skip, why),
            ]
        };
        if let Some(m) = &v.manual_test {
            out.extend(skip(format!("manual_test: {}", m.trim())));
            continue;
        }
        if test.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("experimental")) {
            out.extend(skip("experimental test".into()));
            continue;
        }
        if let Some(why) = &v.unsupported {
            out.extend(skip(format!("unsupported SPL: {why}")));
            continue;
        }
        if v.query.is_none() {
            out.extend(skip("the search does not plan (see validation)".into()));
            continue;
        }
        // Each test scans with its own planned query (a Query is consumed by its engine).
        let mut planner = Planner::new(env.normalizer.catalog(), env.content);
        let query = match planner.plan(&det.name, &det.search) {
            Ok(q) => q,
            Err(e) => {
                out.extend(skip(format!("the search does not plan: {}", e.error)));
                continue;
            }
        };
        let (u, i) = unit::run(det, test, &name, src.root.as_deref(), query, env);
        out.push(u);
        out.push(i);
    }
    out
}

/// The detection files to test, and validation failures for files that cannot be read.
fn detection_sources(dirs: &[PathBuf]) -> (Vec<DetectionSource>, Vec<Outcome>) {
    let mut sources = Vec::new();
    let mut failures = Vec::new();
    if dirs.is_empty() {
        for (path, text) in vigil_content::BUILTIN_DETECTION_FILES {
            sources.push(DetectionSource { file: PathBuf::from(path), text: text.to_string(), root: None });
        }
        return (sources, failures);
    }
    for dir in dirs {
        for file in yaml_files(&dir.join("detections")) {
            match std::fs::read_to_string(&file) {
                Ok(text) => sources.push(DetectionSource { file, text, root: Some(dir.clone()) }),
                Err(e) => {
                    let f = file.display().to_string();
                    failures.push(Outcome::new(Kind::Validation, &f, &f, Status::Fail, format!("{f}: cannot read: {e}")));
                }
            }
        }
    }
    (sources, failures)
}

/// The names in every content directory's `<sub>/*.yml` (`data_sources`, `stories`); `None`
/// when no content directory has that subdirectory.
fn known_names(dirs: &[PathBuf], sub: &str) -> Option<HashSet<String>> {
    let mut names = HashSet::new();
    let mut any = false;
    for dir in dirs {
        let ds = dir.join(sub);
        if !ds.is_dir() {
            continue;
        }
        any = true;
        for file in yaml_files(&ds) {
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            if vigil_content::check_yaml_nesting(&text).is_err() {
                continue;
            }
            let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(&text) else { continue };
            if let Some(name) = doc.get("name").and_then(|v| v.as_str()) {
                names.insert(name.trim().to_string());
            }
        }
    }
    any.then_some(names)
}

/// YAML files under a directory, recursively, sorted; hidden entries skipped.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    out
}
