//! `--sigma PATH`: Sigma rule files read, checked and compiled against mappings/sigma.toml.
//! Every rule ends up ready (compiled) or reported with its file:line and reason.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use vigil_sigma::{CompiledCorrelation, CompiledRule, Correlation, Document, Mapping, RuleMeta, Target};

/// A rule that cannot run, or a document Vigil does not run yet.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The rule title, or the file stem when the document has none.
    pub name: String,
    /// The rule id, when the document got far enough to have one.
    pub id: Option<String>,
    pub file: String,
    /// `unsupported` or `error`.
    pub status: &'static str,
    /// `file:line: why`.
    pub reason: String,
}

/// Loaded Sigma content.
#[derive(Debug, Default)]
pub struct SigmaSet {
    pub rules: Vec<CompiledRule>,
    /// Correlation rules with the rules they name resolved.
    pub correlations: Vec<CompiledCorrelation>,
    /// Rules (indices into `rules`) that only feed correlations (`generate` not set): they
    /// raise no results of their own.
    pub correlation_only: HashSet<usize>,
    pub problems: Vec<Problem>,
    /// Files read.
    pub files: usize,
    /// Filter documents, until applied to the rules they name.
    filters: Vec<(vigil_sigma::RuleMeta, serde_norway::Value)>,
    /// Filters applied, and to how many rules in all.
    pub filters_applied: (usize, usize),
    /// Correlation documents, until linked; and the rules that failed (id/name -> why).
    pending: Vec<Correlation>,
    failed: Vec<(RuleMeta, String)>,
}

/// The built-in Sigma mapping (an error here is a bug in the shipped file).
pub fn mapping() -> Result<Mapping, String> {
    Mapping::parse(vigil_sigma::BUILTIN_MAPPING).map_err(|e| format!("mappings/sigma.toml: {e}"))
}

/// Reads every `.yml`/`.yaml` under the given paths. A path that does not exist is an error
/// for the user; bad rules are problems, never fatal.
pub fn load(paths: &[PathBuf]) -> Result<SigmaSet, String> {
    let mapping = mapping()?;
    let mut set = SigmaSet::default();
    for p in paths {
        if !p.exists() {
            return Err(format!("--sigma {}: no such file or directory", p.display()));
        }
        let mut files = Vec::new();
        yaml_files(p, &mut files);
        for f in files {
            set.files += 1;
            load_file(&f, &mapping, &mut set);
        }
    }
    apply_filters(&mut set, &mapping);
    link_correlations(&mut set, &mapping);
    Ok(set)
}

/// Resolves each correlation's rules (by id or name; a name in the same file first) and
/// marks the rules that only feed correlations. A correlation naming a rule that is not
/// loaded or cannot run is a problem.
fn link_correlations(set: &mut SigmaSet, mapping: &Mapping) {
    let pending = std::mem::take(&mut set.pending);
    let named = |m: &RuleMeta, r: &str| m.id.as_deref() == Some(r) || m.name.as_deref() == Some(r);
    for spec in &pending {
        let file = &spec.meta.file;
        let find = |r: &str| -> Option<Target> {
            // Same file first: names are unique per correlation, not across a library.
            let pick = |same: bool| {
                let in_scope = |m: &RuleMeta| (m.file == *file) == same && named(m, r);
                set.rules
                    .iter()
                    .find(|c| in_scope(&c.meta))
                    .map(Target::Rule)
                    .or_else(|| pending.iter().find(|c| in_scope(&c.meta)).map(Target::Correlation))
                    .or_else(|| set.failed.iter().find(|(m, _)| in_scope(m)).map(|(_, why)| Target::Broken(why.clone())))
            };
            pick(true).or_else(|| pick(false))
        };
        match CompiledCorrelation::link(mapping, spec, &find) {
            Ok(c) => set.correlations.push(c),
            Err((unsupported, why)) => set.problems.push(Problem {
                name: spec.meta.title.clone(),
                id: spec.meta.id.clone(),
                file: file.clone(),
                status: if unsupported { "unsupported" } else { "error" },
                reason: format!("{file}:{}: correlation: {why}", spec.meta.line),
            }),
        }
    }
    // A correlation named by another runs only inside it unless it says `generate`.
    let inner: HashSet<(String, usize)> = set
        .correlations
        .iter()
        .flat_map(|c| c.inputs.iter())
        .filter_map(|i| match &i.source {
            vigil_sigma::InputSource::Correlation(c) if !c.spec.generate => Some((c.spec.meta.file.clone(), c.spec.meta.line)),
            _ => None,
        })
        .collect();
    set.correlations.retain(|c| !inner.contains(&(c.spec.meta.file.clone(), c.spec.meta.line)));
    // A rule runs on its own unless it is named only by correlations without `generate`.
    let (mut consumed, mut generated) = (HashSet::new(), HashSet::new());
    for c in &set.correlations {
        for_each_named(c, &mut |r, generate| {
            let key = (r.meta.file.clone(), r.meta.line);
            if generate {
                generated.insert(key)
            } else {
                consumed.insert(key)
            };
        });
    }
    for (i, r) in set.rules.iter().enumerate() {
        let key = (r.meta.file.clone(), r.meta.line);
        if consumed.contains(&key) && !generated.contains(&key) {
            set.correlation_only.insert(i);
        }
    }
}

/// Each rule a correlation (and the correlations it names) names, with the `generate` of the
/// correlation naming it.
fn for_each_named(c: &CompiledCorrelation, f: &mut dyn FnMut(&CompiledRule, bool)) {
    for input in &c.inputs {
        match &input.source {
            vigil_sigma::InputSource::Rule(r) => f(r, c.spec.generate),
            vigil_sigma::InputSource::Correlation(inner) => for_each_named(inner, f),
        }
    }
}

/// Applies each filter to the loaded rules it names (by id or name) that share its log
/// source; a filter that names none of them, or does not compile, is a problem.
fn apply_filters(set: &mut SigmaSet, mapping: &Mapping) {
    for (meta, body) in std::mem::take(&mut set.filters) {
        let f = body.get("filter").and_then(|f| f.as_mapping()).cloned().unwrap_or_default();
        let refs: Vec<String> = f
            .get("rules")
            .map(|r| match r {
                serde_norway::Value::Sequence(l) => l.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                other => other.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
            })
            .unwrap_or_default();
        let ls = |k: &str| body.get("logsource").and_then(|l| l.get(k)).and_then(|v| v.as_str()).map(str::to_ascii_lowercase);
        let same = |a: &Option<String>, b: Option<String>| a.as_ref().map(|x| x.to_ascii_lowercase()) == b;
        let mut applied = 0;
        let mut error = None;
        for rule in &mut set.rules {
            let named = refs.iter().any(|r| Some(r) == rule.meta.id.as_ref() || Some(r) == rule.meta.name.as_ref());
            let l = &rule.logsource;
            if !named || !same(&l.category, ls("category")) || !same(&l.service, ls("service")) {
                continue;
            }
            match mapping.apply_filter(rule, &f) {
                Ok(()) => applied += 1,
                Err(e) => error = Some(e),
            }
        }
        let reason = match (error, applied) {
            (Some(e), _) => Some(("error", e)),
            (None, 0) => Some(("unsupported", "names no loaded rule with its log source".to_string())),
            _ => None,
        };
        match reason {
            Some((status, why)) => set.problems.push(Problem {
                name: meta.title.clone(),
                id: meta.id.clone(),
                file: meta.file.clone(),
                status,
                reason: format!("{}:{}: filter: {why}", meta.file, meta.line),
            }),
            None => {
                set.filters_applied.0 += 1;
                set.filters_applied.1 += applied;
            }
        }
    }
}

fn load_file(path: &Path, mapping: &Mapping, set: &mut SigmaSet) {
    let file = path.display().to_string();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let text = match std::fs::read(path) {
        // Checked in place (and not copied) when valid, as nearly all are: the lossy
        // conversion's scan cost ~20 M instructions over SigmaHQ.
        Ok(b) => String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(e) => {
            set.problems.push(Problem {
                name: stem,
                id: None,
                file: file.clone(),
                status: "error",
                reason: format!("{file}: cannot read: {e}"),
            });
            return;
        }
    };
    for doc in vigil_sigma::parse_file(&file, &text) {
        match doc {
            Err(e) => {
                set.problems.push(Problem { name: stem.clone(), id: None, file: file.clone(), status: "error", reason: e.to_string() })
            }
            Ok(Document::Rule(rule)) => match mapping.compile(&rule) {
                Ok(c) => set.rules.push(c),
                Err(e) => {
                    set.failed.push((rule.meta.clone(), e.to_string()));
                    set.problems.push(Problem {
                        name: rule.meta.title.clone(),
                        id: rule.meta.id.clone(),
                        file: file.clone(),
                        status: if e.unsupported { "unsupported" } else { "error" },
                        reason: e.to_string(),
                    })
                }
            },
            Ok(Document::Filter { meta, body }) => set.filters.push((meta, body)),
            Ok(Document::Correlation { meta, body }) => match Correlation::parse(&meta, &body) {
                Ok(c) => set.pending.push(c),
                Err((unsupported, why)) => set.problems.push(Problem {
                    name: meta.title.clone(),
                    id: meta.id.clone(),
                    file: file.clone(),
                    status: if unsupported { "unsupported" } else { "error" },
                    reason: format!("{}:{}: correlation: {why}", meta.file, meta.line),
                }),
            },
        }
    }
}

/// YAML files at `p` (a file, or a directory walked recursively, sorted; hidden entries
/// skipped).
fn yaml_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(p) else {
        return;
    };
    // By name, as by path (they share the directory), without comparing the paths component
    // by component (~20 M instructions over SigmaHQ's ~2,000 files).
    let mut named: Vec<(std::ffi::OsString, PathBuf)> = entries.filter_map(|e| e.ok().map(|e| (e.file_name(), e.path()))).collect();
    named.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, p) in named {
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

/// A planned Sigma rule or correlation, in query order.
#[derive(Clone, Copy)]
pub enum Planned<'a> {
    Rule(&'a CompiledRule),
    Correlation(&'a CompiledCorrelation),
}

impl Planned<'_> {
    pub fn meta(&self) -> &RuleMeta {
        match self {
            Planned::Rule(r) => &r.meta,
            Planned::Correlation(c) => &c.spec.meta,
        }
    }

    /// Notes for `content check` (sources left out, what a correlation counts).
    pub fn notes(&self) -> String {
        match self {
            Planned::Rule(r) => r.notes.join("; "),
            Planned::Correlation(c) => {
                let s = &c.spec;
                let by = if s.group_by.is_empty() { String::new() } else { format!(" by {}", s.group_by.join(", ")) };
                format!(
                    "correlation {} of {} rule(s){by} within {}s: {}",
                    s.kind.name(),
                    c.inputs.len(),
                    s.timespan_secs,
                    s.condition.describe(s.aggregate_name())
                )
            }
        }
    }
}

/// Whether `--detection NAME` selects a Sigma rule: its title, id, or file name (with or
/// without `.yml`).
pub fn is_named(meta: &RuleMeta, names: &[String]) -> bool {
    let file = Path::new(&meta.file);
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let base = file.file_name().and_then(|s| s.to_str()).unwrap_or("");
    names.iter().map(|n| n.trim()).any(|n| n.eq_ignore_ascii_case(&meta.title) || meta.id.as_deref() == Some(n) || n == stem || n == base)
}

impl SigmaSet {
    /// Whether `--detection NAME` names a loaded rule or correlation.
    pub fn names(&self, name: &str) -> bool {
        let names = [name.to_string()];
        self.rules.iter().any(|r| is_named(&r.meta, &names)) || self.correlations.iter().any(|c| is_named(&c.spec.meta, &names))
    }
}

/// Plans the loaded rules and correlations (only those named in `names`, when given) as
/// engine queries, in load order; one that does not plan is returned as a problem. Rules
/// that only feed correlations run inside them.
pub fn plan<'a>(
    set: &'a SigmaSet,
    planner: &mut vigil_engine::Planner,
    names: &[String],
) -> (Vec<vigil_engine::Query>, Vec<Planned<'a>>, Vec<Problem>) {
    let mut queries = Vec::new();
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    let rules = set.rules.iter().enumerate().filter(|(i, _)| !set.correlation_only.contains(i)).map(|(_, r)| Planned::Rule(r));
    for item in rules.chain(set.correlations.iter().map(Planned::Correlation)) {
        let m = item.meta();
        if !names.is_empty() && !is_named(m, names) {
            continue;
        }
        let result = match item {
            Planned::Rule(r) => planner.plan_sigma(r),
            Planned::Correlation(c) => planner.plan_sigma_correlation(c),
        };
        match result {
            Ok(q) => {
                queries.push(q);
                planned.push(item);
            }
            Err(e) => problems.push(Problem {
                name: m.title.clone(),
                id: m.id.clone(),
                file: m.file.clone(),
                status: "error",
                reason: format!("{}:{}: {}", m.file, m.line, e.error),
            }),
        }
    }
    (queries, planned, problems)
}

/// Prints the load summary on stderr: rules ready, and those skipped (each with --verbose).
pub fn report(set: &SigmaSet, extra: &[Problem], verbose: bool) {
    if set.files == 0 {
        return;
    }
    let problems: Vec<&Problem> = set.problems.iter().chain(extra).collect();
    if set.filters_applied.0 > 0 {
        eprintln!("vigil: sigma: {} filter(s) applied to {} rule(s)", set.filters_applied.0, set.filters_applied.1);
    }
    eprintln!(
        "vigil: sigma: {} file(s), {} rule(s) ready, {} skipped{}",
        set.files,
        (set.rules.len() + set.correlations.len()).saturating_sub(extra.len()),
        problems.len(),
        if problems.is_empty() || verbose { "" } else { " (--verbose for details)" }
    );
    if verbose {
        for p in problems {
            eprintln!("  {} {}", p.status, p.reason);
        }
    }
}

/// Risk score by Sigma level, for alerts (documented in README.md): it also sets the notable's
/// severity through ES's score bands (<=20 informational, <=40 low, <=60 medium, <=80 high).
pub fn level_score(level: Option<&str>) -> f64 {
    match level.unwrap_or("").to_ascii_lowercase().as_str() {
        "informational" => 10.0,
        "low" => 25.0,
        "high" => 75.0,
        "critical" => 100.0,
        _ => 50.0,
    }
}

/// A Sigma rule as the detection alerts are built from: a notable (title, description) and
/// risk on `dest` (system) and `user`, scored by level; ATT&CK technique tags as annotations.
pub fn as_detection(m: &RuleMeta) -> vigil_content::Detection {
    use vigil_content::{AlertAction, Deployment, NotableAction, Rba, RbaAction, RiskObject};
    let score = level_score(m.level.as_deref());
    let techniques = m
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack.t"))
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(|t| format!("T{}", t.to_ascii_uppercase()))
        .collect();
    let risk = |field: &str, kind: &str| RiskObject { field: field.into(), kind: kind.into(), score: Some(score) };
    let description = m.description.clone().unwrap_or_default();
    vigil_content::Detection {
        name: m.title.clone(),
        id: m.id.clone().unwrap_or_default(),
        kind: "TTP".into(),
        description: description.clone(),
        rba: Some(Rba {
            message: format!("Sigma: {} on $dest$", m.title),
            risk_objects: vec![risk("dest", "system"), risk("user", "user")],
            threat_objects: Vec::new(),
        }),
        tags: vigil_content::Tags { mitre_attack_id: techniques, ..Default::default() },
        deployment: Some(Deployment {
            name: "Sigma".into(),
            kind: Some("TTP".into()),
            alert_action: AlertAction {
                notable: Some(NotableAction {
                    rule_title: m.title.clone(),
                    rule_description: description,
                    nes_fields: vec!["user".into(), "dest".into()],
                }),
                rba: Some(RbaAction { enabled: true }),
            },
            ..Default::default()
        }),
        file: PathBuf::from(&m.file),
        ..Default::default()
    }
}
