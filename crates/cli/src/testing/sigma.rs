//! SigmaHQ's regression tests: `regression_data/<rule path>/info.yml` names a rule (by id)
//! and an event file the rule must match (`.evtx`, and the same events as `.json`). Each file
//! is one test: the rule alone over that file, passing when it matches at least
//! `match_count` events (1 when no count is given). A minimum, not an exact count: SigmaHQ's
//! files hold neighbouring events that the rule also matches by its letter (three of the five
//! AnyDesk events contain `user.conf`), and SigmaHQ's own checks pass on them.

use super::{Kind, Outcome, Status};
use crate::sigma::SigmaSet;
use serde_norway::Value as Yaml;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_normalize::Normalizer;

/// One event file a rule must match.
#[derive(Clone, Debug)]
pub struct RegressionTest {
    pub rule_id: String,
    /// The rule title as info.yml gives it (for rules that did not load).
    pub title: String,
    pub info: PathBuf,
    pub data: PathBuf,
    pub match_count: Option<usize>,
}

/// Finds `regression_data` directories: each given directory itself when it is one or holds
/// one, and the ancestors of each --sigma path that hold one (SigmaHQ's layout).
pub fn regression_roots(sigma_paths: &[PathBuf], data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let mut consider = |dir: &Path| {
        let rd = if dir.file_name().is_some_and(|n| n == "regression_data") { dir.to_path_buf() } else { dir.join("regression_data") };
        if rd.is_dir() && !roots.contains(&rd) {
            roots.push(rd);
        }
    };
    if let Some(d) = data_dir {
        consider(d);
    }
    for p in sigma_paths {
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        for a in abs.ancestors() {
            consider(a);
        }
    }
    roots
}

/// Every test under the roots (info.yml files, sorted), and info files that could not be
/// used, as failures.
pub fn find_tests(roots: &[PathBuf]) -> (Vec<RegressionTest>, Vec<Outcome>) {
    let mut infos = Vec::new();
    for r in roots {
        info_files(r, &mut infos);
    }
    infos.sort();
    let mut tests = Vec::new();
    let mut bad = Vec::new();
    for info in infos {
        let shown = info.display().to_string();
        let fail = |why: String| Outcome::new(Kind::Regression, &shown, &shown, Status::Fail, why);
        let text = match std::fs::read_to_string(&info) {
            Ok(t) => t,
            Err(e) => {
                bad.push(fail(format!("cannot read: {e}")));
                continue;
            }
        };
        let doc: Yaml = match serde_norway::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                bad.push(fail(format!("{shown}:{}: YAML: {e}", e.location().map_or(1, |l| l.line()))));
                continue;
            }
        };
        let meta = doc.get("rule_metadata").and_then(Yaml::as_sequence).and_then(|l| l.first());
        let rule_id = meta.and_then(|m| m.get("id")).and_then(Yaml::as_str).unwrap_or("").to_string();
        let title = meta.and_then(|m| m.get("title")).and_then(Yaml::as_str).unwrap_or(&rule_id).to_string();
        let entries = doc.get("regression_tests_info").and_then(Yaml::as_sequence).cloned().unwrap_or_default();
        if rule_id.is_empty() || entries.is_empty() {
            bad.push(fail("info.yml names no rule id or no regression_tests_info".into()));
            continue;
        }
        let dir = info.parent().unwrap_or(Path::new("."));
        for e in entries {
            let Some(path) = e.get("path").and_then(Yaml::as_str) else {
                continue;
            };
            // The path is relative to the Sigma repository; the file sits beside info.yml.
            let name = Path::new(path).file_name().map(PathBuf::from).unwrap_or_default();
            let evtx = dir.join(&name);
            let match_count = e.get("match_count").and_then(Yaml::as_u64).map(|n| n as usize);
            let twin = evtx.with_extension("json");
            for data in [evtx, twin] {
                tests.push(RegressionTest { rule_id: rule_id.clone(), title: title.clone(), info: info.clone(), data, match_count });
            }
        }
    }
    (tests, bad)
}

fn info_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            info_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "info.yml") {
            out.push(p);
        }
    }
}

/// Runs one regression test.
pub fn run_test(t: &RegressionTest, set: &SigmaSet, normalizer: &Normalizer, ctx: &EvalContext) -> Outcome {
    let started = Instant::now();
    let ext = t.data.extension().and_then(|e| e.to_str()).unwrap_or("").to_string();
    let rule = set.rules.iter().find(|r| r.meta.id.as_deref() == Some(t.rule_id.as_str()));
    let title = rule.map_or(t.title.as_str(), |r| r.meta.title.as_str());
    let name = format!("{title} [{ext}]");
    let file = rule.map_or_else(|| t.info.display().to_string(), |r| r.meta.file.clone());
    let mut o = run_inner(t, rule, set, normalizer, ctx, &name, &file);
    o.seconds = started.elapsed().as_secs_f64();
    o
}

fn run_inner(
    t: &RegressionTest,
    rule: Option<&vigil_sigma::CompiledRule>,
    set: &SigmaSet,
    normalizer: &Normalizer,
    ctx: &EvalContext,
    name: &str,
    file: &str,
) -> Outcome {
    let outcome = |status: Status, why: String| Outcome::new(Kind::Regression, name, file, status, why);
    let Some(rule) = rule else {
        let why = match set.problems.iter().find(|p| p.id.as_deref() == Some(t.rule_id.as_str())) {
            Some(p) => format!("the rule cannot run ({}): {}", p.status, p.reason),
            None => format!("rule {} is not among the loaded --sigma rules ({})", t.rule_id, t.info.display()),
        };
        return outcome(Status::Fail, why);
    };
    if !t.data.is_file() {
        return outcome(Status::Skip, format!("data not found: {}", t.data.display()));
    }
    let content = vigil_content::ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let query = match planner.plan_sigma(rule) {
        Ok(q) => q,
        Err(e) => return outcome(Status::Fail, format!("does not plan: {}", e.error)),
    };
    // Sigma rules read raw events only: no normalizing, one file, one thread.
    let engine = Engine::new(vec![query], normalizer.catalog());
    let mut state = engine.new_state();
    let opts = vigil_read::ReadOptions::default();
    let report = vigil_read::read_file(&t.data, &opts, &mut |ev| engine.on_event(&mut state, ev));
    let n: usize = engine.finish(state, ctx).into_iter().map(|o| o.result.map_or(0, |r| r.len())).sum();
    let events = report.events;
    let ok = n >= t.match_count.unwrap_or(1).max(1);
    if ok {
        return outcome(Status::Pass, String::new());
    }
    let want = t.match_count.unwrap_or(1).max(1);
    let mut o = outcome(Status::Fail, format!("{n} match(es), expected at least {want}"));
    o.details.push(format!("{}: {events} events read; rule runs on {}", t.data.display(), sources(rule)));
    o
}

fn sources(rule: &vigil_sigma::CompiledRule) -> String {
    rule.variants.iter().map(|v| v.source.as_str()).collect::<Vec<_>>().join(", ")
}

/// Loads the --sigma rules and runs every regression test found for them, in parallel,
/// outcomes in info-file order. The error is a message for the user (exit code 2).
pub fn run_all(
    sigma_paths: &[PathBuf],
    data_dir: Option<&Path>,
    normalizer: &Normalizer,
    ctx: &EvalContext,
) -> Result<Vec<Outcome>, String> {
    use rayon::prelude::*;
    let set = crate::sigma::load(sigma_paths)?;
    let roots = regression_roots(sigma_paths, data_dir);
    if roots.is_empty() {
        eprintln!("vigil: note: no regression_data directory beside the --sigma rules (or in --data-dir): no Sigma tests");
    }
    let (tests, mut outcomes) = find_tests(&roots);
    // Only the loaded rules' tests (a regression directory may hold more rules than given).
    let loaded =
        |id: &str| set.rules.iter().any(|r| r.meta.id.as_deref() == Some(id)) || set.problems.iter().any(|p| p.id.as_deref() == Some(id));
    let tests: Vec<&RegressionTest> = tests.iter().filter(|t| loaded(&t.rule_id)).collect();
    eprintln!(
        "vigil: sigma: {} rule(s) ready, {} not ready; {} regression test(s) for them",
        set.rules.len(),
        set.problems.len(),
        tests.len()
    );
    outcomes.extend(tests.par_iter().map(|t| run_test(t, &set, normalizer, ctx)).collect::<Vec<_>>());
    Ok(outcomes)
}
