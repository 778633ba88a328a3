//! Validation: a detection file against the rules of Splunk's contentctl (4.4.7, the version
//! ESCU's CI ran on the October 2024 content; [`super::schema`]), its macros, its search and its
//! risk configuration. What contentctl rejects fails; what it accepts passes, or is a warning
//! when one of Vigil's stricter checks finds something.
//!
//! Decisions:
//! - Broken YAML is a failure at the line the YAML parser reports.
//! - Failures (contentctl's rules): required keys, types, enums and patterns ([`super::schema`]);
//!   the filter macro named after the detection in the search; the file named after the
//!   detection; a macro or `lookup` named in the search text that the content does not define
//!   (outside contentctl's list of ES/CIM ones); for production detections the risk fields in
//!   the search text, a Victim observable (TTP, Anomaly), tests and drilldowns; duplicate names
//!   and ids ([`duplicates`]). Also SPL that does not parse: Splunk would refuse it.
//! - Warnings (`WARN validation`, not a failure): a data_source that data_sources/ does not
//!   define (contentctl warns too) or no data_source; risk and threat object fields that are not
//!   among the fields the search outputs when those are known statically
//!   ([`vigil_engine::Query::output_fields`]); a TTP/Anomaly detection without risk objects that
//!   is not production; SPL Vigil does not implement, or a lookup or macro the content does not
//!   define but contentctl does not check (unit tests are then skipped).
//! - data_source names are checked only when a content directory has `data_sources/`; the run
//!   says so once otherwise.
//! - Messages name the file, the key and its line, found by scanning the YAML text.

use super::problems::{key_line, value_line, Problems};
use super::schema::{self, Context};
use super::{Kind, Outcome, Status};
use serde_norway::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use vigil_content::{ContentSet, Detection};
use vigil_engine::{PlanError, Planner, Query};
use vigil_spl::{ErrorKind, MacroSource};

/// A detection file to check.
#[derive(Clone, Debug)]
pub struct DetectionSource {
    /// The path shown in messages (`<built-in>/...` for the built-in layer).
    pub file: PathBuf,
    pub text: String,
    /// The content directory it was loaded from; `None` for built-in content.
    pub root: Option<PathBuf>,
}

/// What validation found, and what the unit tests need from it.
pub struct Validated {
    pub outcome: Outcome,
    /// The parsed detection, when the file could be read as one.
    pub detection: Option<Detection>,
    /// The planned search, when it planned.
    pub query: Option<Query>,
    /// Why the search cannot run, when it uses SPL Vigil does not implement.
    pub unsupported: Option<String>,
    /// `tags.manual_test:` (contentctl does not run such tests automatically).
    pub manual_test: Option<String>,
    /// The detection's `id`, for the duplicate check.
    pub id: Option<String>,
}

/// Macros contentctl does not look for in the content (CIM and Enterprise Security ship them).
const MACROS_TO_IGNORE: &[&str] = &["drop_dm_object_name", "get_asset", "get_risk_severity", "cim_corporate_web_domain_search"];
/// Lookups contentctl does not look for in the content (ES, URL Toolbox, add-ons ship them).
const LOOKUPS_TO_IGNORE: &[&str] = &[
    "outputlookup",
    "ut_shannon_lookup",
    "identity_lookup_expanded",
    "cim_corporate_web_domain_lookup",
    "alexa_lookup_by_str",
    "interesting_ports_lookup",
    "admon_groups_def",
    "=",
    "other_lookups",
];

/// Names the content defines outside detections; `None` when no content directory has the
/// directory (the names are then not checked).
#[derive(Default)]
pub struct Known {
    /// `data_sources/*.yml` names.
    pub data_sources: Option<HashSet<String>>,
    /// `stories/*.yml` names (tags.analytic_story must name one).
    pub stories: Option<HashSet<String>>,
}

/// Validates one detection file, planning its search with `planner` over `content`.
pub fn validate(src: &DetectionSource, planner: &mut Planner, content: &ContentSet, known: &Known) -> Validated {
    let file = src.file.display().to_string();
    let mut p = Problems { file: file.clone(), text: &src.text, list: Vec::new(), warnings: Vec::new() };
    let mut out = Validated {
        outcome: Outcome::new(Kind::Validation, &file, &file, Status::Pass, ""),
        detection: None,
        query: None,
        unsupported: None,
        manual_test: None,
        id: None,
    };
    // libyaml is quadratic in flow nesting depth: refuse absurd nesting before parsing.
    if let Err((line, msg)) = vigil_content::check_yaml_nesting(&src.text) {
        p.add("yaml", Some(line), msg);
        return finish(out, p);
    }
    let doc: Value = match serde_norway::from_str(&src.text) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map(|l| l.line());
            p.add("yaml", line, format!("invalid YAML: {e}"));
            return finish(out, p);
        }
    };
    let Some(map) = doc.as_mapping() else {
        p.add("yaml", Some(1), "a detection file must be a YAML mapping");
        return finish(out, p);
    };
    if let Some(name) = map.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) {
        out.outcome.name = name.trim().to_string();
    }
    out.id = map.get("id").and_then(Value::as_str).map(|s| s.trim().to_lowercase().replace('-', ""));
    // contentctl reads `tags.manual_test`; older Vigil docs put it at the top level.
    let manual = map.get("tags").and_then(|t| t.get("manual_test")).or_else(|| map.get("manual_test"));
    out.manual_test = manual.and_then(Value::as_str).map(str::to_string);
    let cx =
        Context { file: &src.file, root: src.root.as_deref(), data_sources: known.data_sources.as_ref(), stories: known.stories.as_ref() };
    schema::check(map, &mut p, &cx);

    let det = match serde_norway::from_str::<Detection>(&src.text) {
        Ok(mut d) => {
            d.file = src.file.clone();
            Some(d)
        }
        Err(e) => {
            // The schema checks above usually say more precisely what is wrong.
            if p.list.is_empty() {
                p.add("yaml", e.location().map(|l| l.line()), format!("not a detection: {e}"));
            }
            None
        }
    };
    if let Some(d) = &det {
        named_macros(d, content, &mut p);
        named_lookups(d, content, &mut p);
        if !d.search.trim().is_empty() {
            search(d, planner, content, &mut p, &mut out);
        }
        risk(d, out.query.as_ref(), &mut p);
    }
    out.detection = det;
    finish(out, p)
}

/// Failures make the outcome FAIL (the first is the reason); otherwise warnings make it WARN.
/// Warnings are listed after failures, labelled.
fn finish(mut out: Validated, p: Problems) -> Validated {
    let mut list = p.list.into_iter();
    let mut warnings = p.warnings.into_iter();
    if let Some(first) = list.next() {
        out.outcome.status = Status::Fail;
        out.outcome.reason = first;
        out.outcome.details.extend(list);
    } else if let Some(first) = warnings.next() {
        out.outcome.status = Status::Warn;
        out.outcome.reason = first;
    }
    out.outcome.details.extend(warnings.map(|w| format!("warning: {w}")));
    out
}

/// Duplicate names and ids across the checked files fail, as in contentctl (the later file).
pub fn duplicates<'a>(checked: impl IntoIterator<Item = &'a mut Validated>) {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for v in checked {
        let o = &mut v.outcome;
        let mut dup = Vec::new();
        if o.name != o.file {
            if let Some(first) = names.get(&o.name) {
                dup.push(format!("{}: name: `{}` is also the name of {first}", o.file, o.name));
            } else {
                names.insert(o.name.clone(), o.file.clone());
            }
        }
        if let Some(id) = v.id.as_ref().filter(|i| !i.is_empty()) {
            if let Some(first) = ids.get(id) {
                dup.push(format!("{}: id: also the id of {first}", o.file));
            } else {
                ids.insert(id.clone(), o.file.clone());
            }
        }
        for d in dup {
            if o.status == Status::Fail {
                o.details.insert(0, d);
            } else {
                if o.status == Status::Warn {
                    o.details.insert(0, format!("warning: {}", o.reason));
                }
                o.status = Status::Fail;
                o.reason = d;
            }
        }
    }
}

/// contentctl's macro check: each macro named in the search text (outside comments, less its
/// ignore list) must be defined, whatever its arguments. Filter macros are always defined
/// (contentctl creates a missing one as `search *`).
fn named_macros(d: &Detection, content: &ContentSet, p: &mut Problems) {
    for name in contentctl_macro_names(&d.search) {
        if !macro_defined(content, &name) {
            let line = value_line(p.text, &["search"], &format!("`{name}"));
            p.add("search", line, format!("macro `{name}` is not defined in macros/ (contentctl rejects it too)"));
        }
    }
}

fn macro_defined(content: &ContentSet, name: &str) -> bool {
    (0..16).any(|n| content.lookup(name, n).is_some())
}

/// contentctl's lookup check: names after `lookup ` in the search text (its regular expression
/// `[^output]lookup (?:update=true)?(?:append=t)?\s*([^\s]*)`, so not `inputlookup` or
/// `outputlookup`, and not inside macros) must be defined by the content, except its list of
/// ES and add-on lookups. As in contentctl, when any listed name appears all are let through.
fn named_lookups(d: &Detection, content: &ContentSet, p: &mut Problems) {
    let names = contentctl_lookup_names(&d.search);
    if names.iter().any(|n| LOOKUPS_TO_IGNORE.contains(&n.as_str())) {
        return;
    }
    for name in names {
        if content.lookup_def(&name).is_none() {
            let line = value_line(p.text, &["search"], &name);
            p.add("search", line, format!("lookup `{name}` is not defined in lookups/ (contentctl rejects it too)"));
        }
    }
}

pub fn contentctl_lookup_names(search: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(i) = search[from..].find("lookup ").map(|i| i + from) {
        from = i + "lookup ".len();
        let before = search[..i].chars().next_back();
        if before.is_none_or(|c| "outp".contains(c)) {
            continue;
        }
        let mut rest = &search[from..];
        rest = rest.strip_prefix("update=true").unwrap_or(rest);
        rest = rest.strip_prefix("append=t").unwrap_or(rest);
        let rest = rest.trim_start();
        let name: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        from = search.len() - rest.len() + name.len();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Macro names contentctl finds in the search text (`` `name` `` or `` `name(args)` `` outside
/// ```` ``` ```` comments), less its ignore list.
fn contentctl_macro_names(search: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = search;
    while let Some(i) = rest.find("```") {
        text.push_str(&rest[..i]);
        match rest[i + 3..].find("```") {
            Some(j) => {
                text.push(' ');
                rest = &rest[i + 3 + j + 3..];
            }
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    text.push_str(rest);
    let mut out = Vec::new();
    for (k, part) in text.split('`').enumerate() {
        if !k.is_multiple_of(2) && !part.is_empty() && !part.contains(char::is_whitespace) {
            let name = part.split('(').next().unwrap_or(part).to_string();
            if !MACROS_TO_IGNORE.iter().any(|i| name.contains(i)) && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Plans the search. SPL that does not parse fails; so does an undefined macro contentctl
/// would also miss (named in the search text). Other planning problems are warnings: Vigil
/// cannot run the search, the content may still be valid ESCU.
fn search(d: &Detection, planner: &mut Planner, content: &ContentSet, p: &mut Problems, out: &mut Validated) {
    let e = match planner.plan(&d.name, &d.search) {
        Ok(q) => {
            out.query = Some(q);
            return;
        }
        Err(e) => e,
    };
    let key_at = key_line(p.text, &["search"]);
    // Errors in the original text (macros) can be placed on their line in the file.
    let line = key_at.map(|l| {
        if e.text == d.search {
            let (in_search, _) = vigil_spl::line_col(&d.search, e.error.span().start);
            let block = p.text.lines().nth(l - 1).is_some_and(|t| t.trim_end().ends_with(['|', '-', '>']));
            l + in_search - usize::from(!block)
        } else {
            l
        }
    });
    let (sl, sc) = vigil_spl::line_col(&e.text, e.error.span().start);
    let why = format!("{} (search {sl}:{sc})", e.error);
    let fails = match &e.error {
        PlanError::Spl(s) => match &s.kind {
            ErrorKind::Syntax | ErrorKind::MacroCycle(_) | ErrorKind::Limit => true,
            // Named in the search text: already a failure ([`named_macros`]); deeper in a
            // macro's definition contentctl does not look, and neither is it a failure here.
            ErrorKind::UnknownMacro(name) if !macro_defined(content, name) && contentctl_macro_names(&d.search).contains(name) => {
                return;
            }
            ErrorKind::UnknownMacro(_) => false,
            ErrorKind::UnsupportedCommand(_) | ErrorKind::UnsupportedFunction(_) => false,
        },
        _ => !e.error.is_unsupported() && !e.error.to_string().contains("is not defined in the loaded content"),
    };
    if fails {
        p.add("search", line, why);
    } else {
        p.warn("search", line, format!("uses SPL Vigil does not run: {why}; unit tests are skipped"));
        out.unsupported = Some(why);
    }
}

/// Vigil's stricter risk checks (warnings): risk and threat object fields among the fields the
/// search outputs; a TTP/Anomaly detection without risk objects (contentctl requires one only
/// in production, see [`schema`]).
fn risk(d: &Detection, query: Option<&Query>, p: &mut Problems) {
    let spec = vigil_alert::risk_spec(d);
    let new_format = d.rba.is_some();
    let key = if new_format { "rba" } else { "tags.observable" };
    let production = d.status.as_deref() == Some("production");
    if matches!(d.kind.as_str(), "TTP" | "Anomaly") && spec.risk_objects.is_empty() && !production {
        let line = if new_format {
            key_line(p.text, &["rba"])
        } else {
            key_line(p.text, &["tags", "observable"]).or_else(|| key_line(p.text, &["tags"]))
        };
        let what = if new_format { "rba.risk_objects" } else { "an observable with role Victim" };
        p.warn(key, line, format!("a {} detection without {what} raises no risk", d.kind));
    }
    let Some(fields) = query.and_then(Query::output_fields) else {
        return;
    };
    let fields: HashSet<&str> = fields.iter().map(String::as_str).collect();
    let objects = spec
        .risk_objects
        .iter()
        .map(|o| ("risk object", o.field.as_str()))
        .chain(spec.threat_objects.iter().map(|o| ("threat object", o.field.as_str())));
    for (what, field) in objects {
        if !fields.contains(field) {
            let line = if new_format { value_line(p.text, &["rba"], field) } else { value_line(p.text, &["tags", "observable"], field) };
            let mut known: Vec<&str> = fields.iter().copied().collect();
            known.sort_unstable();
            p.warn(key, line, format!("{what} field `{field}` is not among the fields the search outputs ({})", known.join(", ")));
        }
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
