//! Validation: a detection file against ESCU's detection schema
//! (`docs/yaml-spec/detection_spec.yml` and contentctl's stricter rules), its macros, its search
//! and its risk configuration.
//!
//! Decisions:
//! - Broken YAML is a failure at the line the YAML parser reports.
//! - Required keys (a failure when missing or of the wrong type): name, id (a UUID), version
//!   (an integer), date (YYYY-MM-DD), author, type (TTP, Anomaly, Hunting, Correlation,
//!   Baseline, Investigation), status (production, experimental, deprecated, validation,
//!   removed), description, data_source (a list), search, how_to_implement,
//!   known_false_positives, references (a list), tags with analytic_story (list), asset_type,
//!   mitre_attack_id (list of `T1234` / `T1234.001`), product (list of Splunk products) and
//!   security_domain (one of ESCU's domains); each `tests:` entry needs a name and attack_data
//!   entries with data, source and sourcetype.
//! - data_source names must be defined in a content directory's `data_sources/*.yml`; when no
//!   content directory has one (the built-in content), that check is skipped and the run says
//!   so once.
//! - The search is expanded, parsed and planned: an undefined macro or an SPL error is a
//!   failure; valid SPL that Vigil does not implement, or a lookup that no content directory
//!   defines (ES and add-ons ship some, such as `asset_lookup_by_str`), is a warning (the
//!   content may be valid ESCU; its unit tests are then skipped, since Vigil cannot run it).
//! - Risk and threat object fields (`rba:`, or `tags.observable` in the old format) must be
//!   among the fields the search outputs when those can be known statically
//!   ([`vigil_engine::Query::output_fields`]); TTP and Anomaly detections need a risk object.
//! - Messages name the file, the key and its line, found by scanning the YAML text.

use super::{Kind, Outcome, Status};
use serde_norway::{Mapping, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use vigil_content::Detection;
use vigil_engine::{Planner, Query};

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
    /// `manual_test:` (contentctl does not run such tests automatically).
    pub manual_test: Option<String>,
}

const TYPES: &[&str] = &["TTP", "Anomaly", "Hunting", "Correlation", "Baseline", "Investigation"];
const STATUSES: &[&str] = &["production", "experimental", "deprecated", "validation", "removed"];
const DOMAINS: &[&str] = &["endpoint", "network", "threat", "identity", "access", "audit", "cloud"];
const PRODUCTS: &[&str] = &["Splunk Enterprise", "Splunk Enterprise Security", "Splunk Cloud", "Splunk Security Analytics for AWS", "Splunk Behavioral Analytics"];

struct Problems<'a> {
    file: String,
    text: &'a str,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, line: Option<usize>, msg: impl AsRef<str>) {
        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
        self.list.push(format!("{}{at}: {key}: {}", self.file, msg.as_ref()));
    }

    /// A problem with a key, located by scanning for the key path in the text.
    fn key(&mut self, path: &[&str], msg: impl AsRef<str>) {
        let line = key_line(self.text, path).or_else(|| key_line(self.text, &path[..path.len().saturating_sub(1).max(1)]));
        self.add(&path.join("."), line, msg);
    }
}

/// Validates one detection file, planning its search with `planner`. `data_sources` is the set
/// of known data source names, `None` when unknown (the check is skipped).
pub fn validate(src: &DetectionSource, planner: &mut Planner, data_sources: Option<&HashSet<String>>) -> Validated {
    let file = src.file.display().to_string();
    let mut p = Problems { file: file.clone(), text: &src.text, list: Vec::new() };
    let fallback_name = file.clone();
    let mut out = Validated {
        outcome: Outcome::new(Kind::Validation, &fallback_name, &file, Status::Pass, ""),
        detection: None,
        query: None,
        unsupported: None,
        manual_test: None,
    };
    // libyaml is quadratic in flow nesting depth: refuse absurd nesting before parsing.
    if let Err((line, msg)) = vigil_content::check_yaml_nesting(&src.text) {
        p.add("yaml", Some(line), msg);
        return finish(out, p, Vec::new());
    }
    let doc: Value = match serde_norway::from_str(&src.text) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map(|l| l.line());
            p.add("yaml", line, format!("invalid YAML: {e}"));
            return finish(out, p, Vec::new());
        }
    };
    let Some(map) = doc.as_mapping() else {
        p.add("yaml", Some(1), "a detection file must be a YAML mapping");
        return finish(out, p, Vec::new());
    };
    if let Some(name) = get(map, "name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) {
        out.outcome.name = name.trim().to_string();
    }
    out.manual_test = get(map, "manual_test").and_then(Value::as_str).map(str::to_string);
    schema(map, &mut p, data_sources);

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
    let mut warnings = Vec::new();
    if let Some(d) = &det {
        if !d.search.trim().is_empty() {
            search(d, planner, &mut p, &mut out, &mut warnings);
        }
        risk(d, out.query.as_ref(), &mut p);
    }
    out.detection = det;
    finish(out, p, warnings)
}

fn finish(mut out: Validated, p: Problems, warnings: Vec<String>) -> Validated {
    let mut list = p.list.into_iter();
    if let Some(first) = list.next() {
        out.outcome.status = Status::Fail;
        out.outcome.reason = first;
        out.outcome.details.extend(list);
    }
    out.outcome.details.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
    out
}

fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Value> {
    map.get(key)
}

fn schema(map: &Mapping, p: &mut Problems, data_sources: Option<&HashSet<String>>) {
    for key in ["name", "date", "author", "description", "search", "how_to_implement", "known_false_positives"] {
        required_str(map, &[key], p);
    }
    if let Some(id) = required_str(map, &["id"], p) {
        if !is_uuid(id) {
            p.key(&["id"], format!("`{id}` is not a UUID"));
        }
    }
    match get(map, "version") {
        None => p.key(&["version"], "required key missing"),
        Some(v) if v.as_u64().is_some() => {}
        Some(v) => p.key(&["version"], format!("must be an integer, not {}", show(v))),
    }
    if let Some(date) = get(map, "date").and_then(Value::as_str) {
        if !is_date(date) {
            p.key(&["date"], format!("`{date}` is not a date (YYYY-MM-DD)"));
        }
    }
    if let Some(t) = required_str(map, &["type"], p) {
        if !TYPES.contains(&t) {
            p.key(&["type"], format!("`{t}` is not one of {}", TYPES.join(", ")));
        }
    }
    if let Some(s) = required_str(map, &["status"], p) {
        if !STATUSES.contains(&s) {
            p.key(&["status"], format!("`{s}` is not one of {}", STATUSES.join(", ")));
        }
    }
    if let Some(sources) = required_list(map, &["data_source"], p) {
        for s in sources {
            match s.as_str() {
                None => p.key(&["data_source"], format!("entries must be text, not {}", show(s))),
                Some(entry) => {
                    let Some(known) = data_sources else { continue };
                    // ESCU writes combined sources as `Sysmon EventID 1 AND Sysmon EventID 11`.
                    for name in entry.split(" AND ").map(str::trim) {
                        if !known.contains(name) && !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                            let line = value_line(p.text, &["data_source"], name);
                            p.add("data_source", line, format!("unknown data source `{name}` (not in data_sources/)"));
                        }
                    }
                }
            }
        }
    }
    if let Some(refs) = required_list(map, &["references"], p) {
        if refs.iter().any(|r| r.as_str().is_none()) {
            p.key(&["references"], "entries must be text");
        }
    }
    let Some(tags) = get(map, "tags") else {
        p.key(&["tags"], "required key missing");
        return;
    };
    let Some(tags) = tags.as_mapping() else {
        p.key(&["tags"], format!("must be a mapping, not {}", show(tags)));
        return;
    };
    let tag = |k: &'static str| ["tags", k];
    if let Some(stories) = required_list(tags, &tag("analytic_story"), p) {
        if stories.is_empty() {
            p.key(&tag("analytic_story"), "needs at least one story");
        }
    }
    required_str(tags, &tag("asset_type"), p);
    if let Some(ids) = required_list(tags, &tag("mitre_attack_id"), p) {
        for id in ids {
            let text = id.as_str().map(str::to_string).unwrap_or_else(|| show(id));
            if !is_attack_id(&text) {
                let line = value_line(p.text, &tag("mitre_attack_id"), &text);
                p.add("tags.mitre_attack_id", line, format!("`{text}` is not an ATT&CK technique id (T1234 or T1234.001)"));
            }
        }
    }
    if let Some(products) = required_list(tags, &tag("product"), p) {
        for prod in products {
            let text = prod.as_str().unwrap_or_default();
            if !PRODUCTS.contains(&text) {
                let line = value_line(p.text, &tag("product"), text);
                p.add("tags.product", line, format!("`{text}` is not one of {}", PRODUCTS.join(", ")));
            }
        }
    }
    if let Some(d) = required_str(tags, &tag("security_domain"), p) {
        if !DOMAINS.contains(&d) {
            p.key(&tag("security_domain"), format!("`{d}` is not one of {}", DOMAINS.join(", ")));
        }
    }
    tests_schema(map, p);
}

fn tests_schema(map: &Mapping, p: &mut Problems) {
    let Some(tests) = get(map, "tests") else { return };
    let Some(tests) = tests.as_sequence() else {
        p.key(&["tests"], format!("must be a list, not {}", show(tests)));
        return;
    };
    for (i, t) in tests.iter().enumerate() {
        let Some(t) = t.as_mapping() else {
            p.key(&["tests"], format!("entry {} must be a mapping", i + 1));
            continue;
        };
        if t.get("name").and_then(Value::as_str).is_none() {
            p.key(&["tests"], format!("entry {} needs a `name`", i + 1));
        }
        let Some(data) = t.get("attack_data").and_then(Value::as_sequence) else {
            p.key(&["tests", "attack_data"], format!("entry {} needs an `attack_data` list", i + 1));
            continue;
        };
        for d in data {
            for k in ["data", "source", "sourcetype"] {
                if d.get(k).and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
                    p.key(&["tests", "attack_data"], format!("test {} has an attack_data entry without `{k}`", i + 1));
                }
            }
        }
    }
}

fn required_str<'a>(map: &'a Mapping, path: &[&str], p: &mut Problems) -> Option<&'a str> {
    let key = path[path.len() - 1];
    match get(map, key) {
        None => {
            p.key(path, "required key missing");
            None
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.as_str()),
        Some(Value::String(_)) | Some(Value::Null) => {
            p.key(path, "must not be empty");
            None
        }
        Some(v) => {
            p.key(path, format!("must be text, not {}", show(v)));
            None
        }
    }
}

fn required_list<'a>(map: &'a Mapping, path: &[&str], p: &mut Problems) -> Option<&'a Vec<Value>> {
    let key = path[path.len() - 1];
    match get(map, key) {
        None => {
            p.key(path, "required key missing");
            None
        }
        Some(Value::Sequence(s)) => Some(s),
        Some(v) => {
            p.key(path, format!("must be a list, not {}", show(v)));
            None
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("text (`{s}`)"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// Plans the search; an undefined macro or bad SPL is a problem, unsupported SPL a warning.
fn search(d: &Detection, planner: &mut Planner, p: &mut Problems, out: &mut Validated, warnings: &mut Vec<String>) {
    match planner.plan(&d.name, &d.search) {
        Ok(q) => out.query = Some(q),
        Err(e) => {
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
            // Lookups that Enterprise Security or an add-on defines (asset_lookup_by_str,
            // ut_shannon_lookup) are not in ESCU's lookups/: Vigil cannot run the search, but
            // the content is not wrong.
            let external_lookup = e.error.to_string().contains("is not defined in the loaded content");
            if e.error.is_unsupported() || external_lookup {
                let why = format!("{} (search {sl}:{sc})", e.error);
                warnings.push(format!("search uses SPL Vigil does not run: {why}; unit tests are skipped"));
                out.unsupported = Some(why);
            } else {
                p.add("search", line, format!("{} (search {sl}:{sc})", e.error));
            }
        }
    }
}

/// Risk and threat objects: present for TTP/Anomaly, and among the search's output fields.
fn risk(d: &Detection, query: Option<&Query>, p: &mut Problems) {
    let spec = vigil_alert::risk_spec(d);
    let new_format = d.rba.is_some();
    let key = if new_format { "rba" } else { "tags.observable" };
    if matches!(d.kind.as_str(), "TTP" | "Anomaly") && spec.risk_objects.is_empty() {
        let line = if new_format { key_line(p.text, &["rba"]) } else { key_line(p.text, &["tags", "observable"]).or_else(|| key_line(p.text, &["tags"])) };
        let what = if new_format { "rba.risk_objects" } else { "an observable with role Victim" };
        p.add(key, line, format!("a {} detection needs {what}", d.kind));
    }
    let Some(fields) = query.and_then(Query::output_fields) else { return };
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
            p.add(key, line, format!("{what} field `{field}` is not among the fields the search outputs ({})", known.join(", ")));
        }
    }
}

/// 1-based line of a key path (`["tags", "product"]`): each key is searched after its parent,
/// more indented than it (a list item's `- key:` counts).
pub fn key_line(text: &str, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let indent = line.len() - line.trim_start().len();
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if let Some(pi) = parent_indent {
                if indent <= pi && !body.starts_with('-') {
                    break; // left the parent's block
                }
            }
            let body = body.strip_prefix("- ").map(str::trim_start).unwrap_or(body);
            let matches = body.strip_prefix(key).is_some_and(|r| r.starts_with(':'));
            let at_level = match parent_indent {
                None => indent == 0,
                Some(pi) => indent > pi || line.trim_start().starts_with("- "),
            };
            if matches && at_level {
                hit = Some((i, indent));
                break;
            }
        }
        let (i, indent) = hit?;
        found = Some(i + 1);
        start = i + 1;
        parent_indent = Some(indent);
    }
    found
}

/// 1-based line of the first line at or after a key path containing `needle` (a list value, a
/// `field: x` entry).
pub fn value_line(text: &str, path: &[&str], needle: &str) -> Option<usize> {
    let from = key_line(text, path)?;
    text.lines()
        .enumerate()
        .skip(from - 1)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .or(Some(from))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_attack_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('T') else { return false };
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    main.len() == 4 && main.chars().all(|c| c.is_ascii_digit()) && sub.is_none_or(|s| s.len() == 3 && s.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
