//! The detection schema as Splunk's contentctl 4.4.7 checks it (its pydantic models:
//! `Detection_Abstract`, `DetectionTags`, `Observable`, `UnitTest`, `Drilldown`), so that what
//! contentctl rejects fails here and what it accepts passes. Vigil's stricter checks are
//! warnings (see [`super::validate`]). Files in the 2025 format (an `rba:` block, contentctl 5)
//! are checked by that format's equivalents for the risk keys.
//!
//! `crates/cli/tests/contentctl/` compares the verdicts with contentctl's on ../shared/escu.

use super::formats::{as_int, is_attack_id, is_cve, is_date, is_http_url, is_uuid, show};
use super::problems::{key_line, value_line, Problems};
use serde_norway::{Mapping, Value};
use std::collections::HashSet;
use std::path::Path;

pub const TYPES: &[&str] = &["TTP", "Anomaly", "Hunting", "Correlation"];
pub const STATUSES: &[&str] = &["production", "deprecated", "experimental", "validation"];
const DOMAINS: &[&str] = &["endpoint", "network", "threat", "identity", "access", "audit"];
const PRODUCTS: &[&str] = &[
    "Splunk Enterprise",
    "Splunk Enterprise Security",
    "Splunk Cloud",
    "Splunk Security Analytics for AWS",
    "Splunk Behavioral Analytics",
];
#[rustfmt::skip]
const ASSET_TYPES: &[&str] = &[
    "AWS Account", "AWS EKS Kubernetes cluster", "AWS Federated Account", "AWS Instance", "Account",
    "Amazon EKS Kubernetes cluster", "Amazon EKS Kubernetes cluster Pod", "Amazon Elastic Container Registry", "Azure Tenant",
    "Azure AKS Kubernetes cluster", "Azure Active Directory", "CircleCI", "Cloud Compute Instance", "Cloud Instance",
    "DNS Servers", "Database Server", "Domain Server", "EC2 Snapshot", "Endpoint", "GCP", "GCP Account",
    "GCP GKE EKS Kubernetes cluster", "GCP GKE Kubernetes cluster", "GCP Kubernetes cluster", "GCP Storage Bucket", "GDrive",
    "GSuite", "GitHub", "Google Cloud Platform tenant", "Identity", "Infrastructure", "Instance", "Kubernetes", "Network",
    "O365 Tenant", "Okta Tenant", "Proxy", "S3 Bucket", "Splunk Server", "VPN Appliance", "Web Server", "Web Proxy",
    "Web Application", "Windows",
];
#[rustfmt::skip]
const OBSERVABLE_TYPES: &[&str] = &[
    "Unknown", "Hostname", "IP Address", "MAC Address", "User Name", "Email Address", "URL String", "File Name", "File Hash",
    "Process Name", "Resource UID", "Endpoint", "User", "Email", "Uniform Resource Locator", "File", "Process", "Geo Location",
    "Container", "Registry Key", "Registry Value", "Other",
];
#[rustfmt::skip]
const NIST: &[&str] = &[

    "ID.AM", "ID.BE", "ID.GV", "ID.RA", "ID.RM", "PR.AC", "PR.AT", "PR.DS", "PR.IP", "PR.MA", "PR.PT", "DE.AE", "DE.CM", "DE.DP", "RS.RP",
    "RS.CO", "RS.AN", "RS.MI", "RS.IM", "RC.RP", "RC.IM", "RC.CO",
];
const RISK_OBJECT_TYPES: &[&str] = &["user", "system", "other"];
/// contentctl's limit: a saved search's stanza (`ESCU - <name> - Rule`, cloned by ES with a
/// domain prefix) must fit 99 characters.
const MAX_NAME: usize = 67;
const DRILLDOWN_PLACEHOLDER: &str = "%original_detection_search%";

/// What the rules need besides the YAML.
pub struct Context<'a> {
    pub file: &'a Path,
    /// The content directory, for relative `attack_data` paths; `None` for built-in content.
    pub root: Option<&'a Path>,
    /// Known data source names, `None` when no content directory has `data_sources/`.
    pub data_sources: Option<&'a HashSet<String>>,
    /// Known story names, `None` when no content directory has `stories/`.
    pub stories: Option<&'a HashSet<String>>,
}

pub fn check(map: &Mapping, p: &mut Problems, cx: &Context) {
    let name = name_and_file(map, p, cx);
    for (key, max) in [("author", 255), ("description", 10_000)] {
        if let Some(s) = required_text(map, &[key], p) {
            if s.chars().count() > max {
                p.key(&[key], format!("longer than {max} characters"));
            }
        }
    }
    for key in ["how_to_implement", "known_false_positives"] {
        if let Some(s) = required_str(map, &[key], p) {
            if s.chars().count() < 4 {
                p.key(&[key], "needs at least 4 characters");
            }
        }
    }
    match get(map, "id") {
        None => p.key(&["id"], "required key missing"),
        Some(v) if v.as_str().is_some_and(is_uuid) => {}
        Some(v) => p.key(&["id"], format!("{} is not a UUID", show(v))),
    }
    match get(map, "version") {
        None => p.key(&["version"], "required key missing"),
        Some(v) if as_int(v).is_some_and(|n| n >= 0) => {}
        Some(v) => p.key(&["version"], format!("must be a non-negative integer, not {}", show(v))),
    }
    match get(map, "date") {
        None => p.key(&["date"], "required key missing"),
        Some(Value::String(d)) if is_date(d) => {}
        Some(v) => p.key(&["date"], format!("{} is not a date (YYYY-MM-DD)", show(v))),
    }
    let kind = one_of(map, &["type"], TYPES, p);
    let status = one_of(map, &["status"], STATUSES, p);
    let production = status == Some("production");
    if let Some(refs) = optional_list(map, &["references"], p) {
        for r in refs {
            if !r.as_str().is_some_and(is_http_url) {
                let text = r.as_str().map(str::to_string).unwrap_or_else(|| show(r));
                let line = value_line(p.text, &["references"], &text);
                p.add("references", line, format!("`{text}` is not an http(s) URL"));
            }
        }
    }
    data_sources(map, p, cx);
    let search = required_str(map, &["search"], p).unwrap_or_default();
    if let Some(name) = name {
        let filter = format!("`{}`", vigil_content::filter_macro_name(name));
        if !search.is_empty() && !search.contains(&filter) {
            p.key(&["search"], format!("must contain the detection's filter macro {filter} (named after the detection)"));
        }
    }
    if search.contains("````") {
        p.key(&["search"], "four backticks in a row (a commented-out macro?) are not valid SPL");
    }
    enabled_by_default(map, p, kind, status);
    if get(map, "baselines").is_some_and(|b| !b.as_sequence().is_some_and(Vec::is_empty)) {
        p.key(&["baselines"], "is filled in by contentctl; remove it");
    }
    let Some(tags) = get(map, "tags") else {
        p.key(&["tags"], "required key missing");
        return;
    };
    let Some(tags) = tags.as_mapping() else {
        p.key(&["tags"], format!("must be a mapping, not {}", show(tags)));
        return;
    };
    tags_schema(tags, p, search, cx);
    let manual = get(tags, "manual_test").is_some_and(|m| !m.is_null());
    let risk = if get(map, "rba").is_some() { rba_schema(map, p) } else { observables(tags, p) };
    if production {
        risk_fields_in_search(&risk, search, p);
        if matches!(kind, Some("TTP" | "Anomaly")) && !risk.has_victim {
            let (key, what) = if risk.new_format {
                ("rba", "a risk object in rba.risk_objects")
            } else {
                ("tags.observable", "an observable with role Victim")
            };
            let line = key_line(p.text, &[key.split('.').next().unwrap_or(key)]);
            p.add(key, line, format!("a production {} detection needs {what}", kind.unwrap_or_default()));
        }
    }
    tests_schema(map, p, cx, production && kind != Some("Correlation") && !manual);
    drilldowns(map, p, production && kind != Some("Hunting"));
}

/// The name: required, short enough, and the file named after it.
fn name_and_file<'a>(map: &'a Mapping, p: &mut Problems, cx: &Context) -> Option<&'a str> {
    let name = required_str(map, &["name"], p)?;
    if name.chars().count() > MAX_NAME {
        p.key(&["name"], format!("longer than {MAX_NAME} characters (contentctl's limit for a saved search name)"));
    }
    let macro_name = vigil_content::filter_macro_name(name);
    let expected = format!("{}.yml", macro_name.strip_suffix("_filter").unwrap_or(&macro_name));
    let actual = cx.file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if actual != expected {
        p.key(&["name"], format!("the file must be named after the detection: `{expected}`, not `{actual}`"));
    }
    Some(name)
}

fn data_sources(map: &Mapping, p: &mut Problems, cx: &Context) {
    let Some(list) = get(map, "data_source") else {
        p.warn_key(&["data_source"], "missing: `content check` cannot tell which inputs the detection needs");
        return;
    };
    let Some(list) = list.as_sequence() else {
        p.key(&["data_source"], format!("must be a list, not {}", show(list)));
        return;
    };
    for entry in list {
        let Some(entry) = entry.as_str() else {
            p.key(&["data_source"], format!("entries must be text, not {}", show(entry)));
            continue;
        };
        let Some(known) = cx.data_sources else {
            continue;
        };
        // contentctl splits combined sources (`Sysmon EventID 1 AND Sysmon EventID 11`) at
        // every `AND`; an undefined name is a warning there too.
        for name in entry.split("AND").map(str::trim) {
            if !known.contains(name) {
                let line = value_line(p.text, &["data_source"], name);
                p.warn("data_source", line, format!("unknown data source `{name}` (not in data_sources/; contentctl warns too)"));
            }
        }
    }
}

fn enabled_by_default(map: &Mapping, p: &mut Problems, kind: Option<&str>, status: Option<&str>) {
    match get(map, "enabled_by_default") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            if status != Some("production") || !matches!(kind, Some("TTP" | "Anomaly" | "Correlation")) {
                p.key(&["enabled_by_default"], "only production TTP, Anomaly or Correlation detections can be enabled by default");
            }
        }
        Some(v) => p.key(&["enabled_by_default"], format!("must be true or false, not {}", show(v))),
    }
}

fn tags_schema(tags: &Mapping, p: &mut Problems, search: &str, cx: &Context) {
    let tag = |k: &'static str| ["tags", k];
    if let Some(stories) = required_list(tags, &tag("analytic_story"), p) {
        for s in stories {
            match (s.as_str(), cx.stories) {
                (None, _) => p.key(&tag("analytic_story"), format!("entries must be story names, not {}", show(s))),
                (Some(name), Some(known)) if !known.contains(name) => {
                    let line = value_line(p.text, &tag("analytic_story"), name);
                    p.add("tags.analytic_story", line, format!("story `{name}` is not defined in stories/"));
                }
                _ => {}
            }
        }
    }
    one_of(tags, &tag("asset_type"), ASSET_TYPES, p);
    one_of(tags, &tag("security_domain"), DOMAINS, p);
    if let Some(products) = required_list(tags, &tag("product"), p) {
        if products.is_empty() {
            p.key(&tag("product"), "needs at least one product");
        }
        for prod in products {
            let text = prod.as_str().unwrap_or_default();
            if !PRODUCTS.contains(&text) {
                let line = value_line(p.text, &tag("product"), text);
                p.add("tags.product", line, format!("`{text}` is not one of {}", PRODUCTS.join(", ")));
            }
        }
    }
    patterned_list(tags, "mitre_attack_id", is_attack_id, "an ATT&CK technique id (T1234 or T1234.001)", p);
    patterned_list(tags, "cve", is_cve, "a CVE id (CVE-2024-1234)", p);
    patterned_list(tags, "atomic_guid", is_uuid, "a UUID", p);
    patterned_list(tags, "nist", |s| NIST.contains(&s), "a NIST CSF category (DE.CM, ...)", p);
    if get(tags, "mitre_attack_enrichments").is_some_and(|v| !v.as_sequence().is_some_and(Vec::is_empty)) {
        p.key(&tag("mitre_attack_enrichments"), "is filled in by contentctl; remove it");
    }
    for (key, lo, hi) in [("confidence_id", 1, 3), ("impact_id", 1, 5)] {
        if let Some(v) = get(tags, key).filter(|v| !v.is_null()) {
            if !as_int(v).is_some_and(|n| (lo..=hi).contains(&n)) {
                p.key(&["tags", key], format!("must be an integer from {lo} to {hi}, not {}", show(v)));
            }
        }
    }
    if let Some(url) = get(tags, "research_site_url").filter(|v| !v.is_null()) {
        if !url.as_str().is_some_and(is_http_url) {
            p.key(&tag("research_site_url"), format!("{} is not an http(s) URL", show(url)));
        }
    }
    if let Some(m) = get(tags, "manual_test").filter(|v| !v.is_null() && v.as_str().is_none()) {
        p.key(&tag("manual_test"), format!("must be text, not {}", show(m)));
    }
    throttling(tags, p, search);
}

fn throttling(tags: &Mapping, p: &mut Problems, search: &str) {
    let Some(t) = get(tags, "throttling").filter(|v| !v.is_null()) else {
        return;
    };
    let path = ["tags", "throttling"];
    let Some(t) = t.as_mapping() else {
        p.key(&path, format!("must be a mapping, not {}", show(t)));
        return;
    };
    match get(t, "fields").and_then(Value::as_sequence) {
        Some(fields) if !fields.is_empty() => {
            for f in fields {
                match f.as_str() {
                    Some(f) if f.contains(' ') => p.key(&path, format!("field `{f}` has a space")),
                    Some(f) if !search.contains(f) => p.key(&path, format!("field `{f}` does not occur in the search")),
                    Some(_) => {}
                    None => p.key(&path, format!("fields must be text, not {}", show(f))),
                }
            }
        }
        _ => p.key(&path, "needs a non-empty `fields` list"),
    }
    let period_ok = get(t, "period")
        .and_then(Value::as_str)
        .is_some_and(|s| s.len() > 1 && s.ends_with(['s', 'm', 'h']) && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit()));
    if !period_ok {
        p.key(&path, "needs a `period` like 3600s, 60m or 1h");
    }
}

/// Where the risk configuration names fields: risk objects, threat objects, the message.
#[derive(Default)]
struct Risk {
    new_format: bool,
    has_victim: bool,
    /// (key shown in messages, field name)
    fields: Vec<(&'static str, String)>,
    message: String,
}

/// Old format (contentctl 4): `tags.message`, `tags.confidence`/`impact`, `tags.observable`,
/// `tags.required_fields`.
fn observables(tags: &Mapping, p: &mut Problems) -> Risk {
    let mut risk = Risk { message: required_text(tags, &["tags", "message"], p).unwrap_or_default().to_string(), ..Risk::default() };
    for key in ["confidence", "impact"] {
        match get(tags, key) {
            None => p.key(&["tags", key], "required key missing"),
            Some(v) if as_int(v).is_some_and(|n| (0..=100).contains(&n)) => {}
            Some(v) => p.key(&["tags", key], format!("must be an integer from 0 to 100, not {}", show(v))),
        }
    }
    if let Some(fields) = required_list(tags, &["tags", "required_fields"], p) {
        if fields.is_empty() || fields.iter().any(|f| f.as_str().is_none()) {
            p.key(&["tags", "required_fields"], "needs at least one field name");
        }
    }
    let Some(list) = optional_list(tags, &["tags", "observable"], p) else {
        return risk;
    };
    for (i, o) in list.iter().enumerate() {
        let at = |p: &mut Problems, msg: String| p.key(&["tags", "observable"], format!("entry {}: {msg}", i + 1));
        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            at(p, "needs a `name`".into());
        }
        let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
        if !OBSERVABLE_TYPES.contains(&kind) {
            at(p, format!("type `{kind}` is not one of {}", OBSERVABLE_TYPES.join(", ")));
        }
        let roles: Vec<&str> =
            o.get("role").and_then(Value::as_sequence).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        match roles.as_slice() {
            [r] if *r == "Victim" || *r == "Attacker" => risk.has_victim |= *r == "Victim",
            [r] => at(p, format!("role `{r}` is not Attacker or Victim")),
            _ => at(p, "needs exactly one role (Attacker or Victim)".into()),
        }
        if !name.is_empty() {
            risk.fields.push(("tags.observable", name.to_string()));
        }
    }
    risk
}

/// 2025 format (contentctl 5): `rba.message`, `rba.risk_objects`, `rba.threat_objects`.
fn rba_schema(map: &Mapping, p: &mut Problems) -> Risk {
    let mut risk = Risk { new_format: true, ..Risk::default() };
    let Some(rba) = get(map, "rba").and_then(Value::as_mapping) else {
        p.key(&["rba"], "must be a mapping");
        return risk;
    };
    risk.message = required_text(rba, &["rba", "message"], p).unwrap_or_default().to_string();
    for (key, with_score) in [("risk_objects", true), ("threat_objects", false)] {
        let Some(list) = optional_list(rba, &["rba", key], p) else {
            continue;
        };
        for (i, o) in list.iter().enumerate() {
            let field = o.get("field").and_then(Value::as_str).unwrap_or_default();
            let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
            let mut bad = |msg: String| p.key(&["rba", key], format!("entry {}: {msg}", i + 1));
            if field.is_empty() {
                bad("needs a `field`".into());
            }
            if kind.is_empty() {
                bad("needs a `type`".into());
            }
            if with_score {
                if !kind.is_empty() && !RISK_OBJECT_TYPES.contains(&kind) {
                    bad(format!("type `{kind}` is not one of {}", RISK_OBJECT_TYPES.join(", ")));
                }
                if !o.get("score").and_then(as_int).is_some_and(|n| (0..=100).contains(&n)) {
                    bad("needs a `score` from 0 to 100".into());
                }
                risk.has_victim = true;
            }
            if !field.is_empty() {
                risk.fields.push(("rba", field.to_string()));
            }
        }
    }
    risk
}

/// contentctl (production only): each risk/threat field and each `$field$` of the message
/// must occur somewhere in the search text (case-insensitive). Whether the search outputs them
/// is Vigil's stricter check ([`super::validate`]).
fn risk_fields_in_search(risk: &Risk, search: &str, p: &mut Problems) {
    let lower = search.to_lowercase();
    for (key, field) in &risk.fields {
        if !lower.contains(&field.to_lowercase()) {
            let top: Vec<&str> = key.split('.').collect();
            let line = value_line(p.text, &top, field);
            p.add(key, line, format!("field `{field}` does not occur in the search"));
        }
    }
    let message_key = if risk.new_format { ["rba", "message"] } else { ["tags", "message"] };
    for field in message_fields(&risk.message) {
        if !lower.contains(&field.to_lowercase()) {
            p.key(&message_key, format!("`${field}$` names a field that does not occur in the search"));
        }
    }
}

/// `$name$` references, as contentctl finds them (`\$([^\s.]*)\$`).
pub fn message_fields(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(start) = rest.find('$') {
        let after = &rest[start + 1..];
        let end = after.find(|c: char| c == '$' || c == '.' || c.is_whitespace());
        match end {
            Some(e) if after[e..].starts_with('$') => {
                out.push(&after[..e]);
                rest = &after[e + 1..];
            }
            Some(e) => rest = &after[e..],
            None => break,
        }
    }
    out
}

fn tests_schema(map: &Mapping, p: &mut Problems, cx: &Context, needs_test: bool) {
    let tests = match get(map, "tests") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Sequence(t)) => t,
        Some(v) => {
            p.key(&["tests"], format!("must be a list, not {}", show(v)));
            return;
        }
    };
    if tests.is_empty() && needs_test {
        p.key(&["tests"], "a production detection needs at least one test (or tags.manual_test)");
    }
    for (i, t) in tests.iter().enumerate() {
        let Some(t) = t.as_mapping() else {
            p.key(&["tests"], format!("entry {} must be a mapping", i + 1));
            continue;
        };
        if get(t, "name").and_then(Value::as_str).is_none() {
            p.key(&["tests"], format!("entry {} needs a `name`", i + 1));
        }
        let Some(data) = get(t, "attack_data").and_then(Value::as_sequence) else {
            p.key(&["tests", "attack_data"], format!("entry {} needs an `attack_data` list", i + 1));
            continue;
        };
        for d in data {
            for k in ["source", "sourcetype"] {
                match d.get(k).and_then(Value::as_str) {
                    None => p.key(&["tests", "attack_data"], format!("test {} has an attack_data entry without `{k}`", i + 1)),
                    Some(s) if s.trim().is_empty() => p.warn_key(&["tests", "attack_data"], format!("test {}: empty `{k}`", i + 1)),
                    Some(_) => {}
                }
            }
            let data = d.get("data").and_then(Value::as_str).unwrap_or_default();
            let is_file = |root: &Path| !data.is_empty() && root.join(data).is_file();
            if !is_http_url(data) && !cx.root.is_none_or(is_file) {
                let line = value_line(p.text, &["tests"], data);
                p.add("tests.attack_data", line, format!("test {}: data `{data}` is neither an http(s) URL nor a file", i + 1));
            }
        }
    }
}

fn drilldowns(map: &Mapping, p: &mut Problems, required: bool) {
    let list = match get(map, "drilldown_searches") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Sequence(l)) => l,
        Some(v) => {
            p.key(&["drilldown_searches"], format!("must be a list, not {}", show(v)));
            return;
        }
    };
    let key = ["drilldown_searches"];
    if required && list.len() < 2 {
        p.key(&key, format!("a production TTP, Anomaly or Correlation detection needs 2 drilldown searches, it has {}", list.len()));
    }
    let mut placeholder = false;
    for (i, d) in list.iter().enumerate() {
        let name = d.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.chars().count() < 5 {
            p.key(&key, format!("entry {}: needs a `name` of at least 5 characters", i + 1));
        }
        match d.get("search").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => placeholder |= s.contains(DRILLDOWN_PLACEHOLDER),
            _ => p.key(&key, format!("entry {}: needs a `search`", i + 1)),
        }
        for k in ["earliest_offset", "latest_offset"] {
            match d.get(k) {
                Some(Value::Null) => {}
                Some(Value::String(s)) if !s.is_empty() => {}
                _ => p.key(&key, format!("entry {}: needs `{k}` (text, or null)", i + 1)),
            }
        }
    }
    if required && !list.is_empty() && !placeholder {
        p.key(&key, format!("none of the drilldown searches contains {DRILLDOWN_PLACEHOLDER}"));
    }
}

fn patterned_list(tags: &Mapping, key: &'static str, ok: impl Fn(&str) -> bool, what: &str, p: &mut Problems) {
    let Some(list) = optional_list(tags, &["tags", key], p) else {
        return;
    };
    for v in list {
        let text = v.as_str().map(str::to_string).unwrap_or_else(|| show(v));
        if !v.as_str().is_some_and(&ok) {
            let line = value_line(p.text, &["tags", key], &text);
            p.add(&format!("tags.{key}"), line, format!("`{text}` is not {what}"));
        }
    }
}

fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Value> {
    map.get(key)
}

fn one_of<'a>(map: &'a Mapping, path: &[&str], allowed: &[&str], p: &mut Problems) -> Option<&'a str> {
    let v = required_str(map, path, p)?;
    if allowed.contains(&v) {
        Some(v)
    } else {
        p.key(path, format!("`{v}` is not one of {}", allowed.join(", ")));
        None
    }
}

pub fn required_str<'a>(map: &'a Mapping, path: &[&str], p: &mut Problems) -> Option<&'a str> {
    match get(map, path[path.len() - 1]) {
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

/// Text contentctl requires but accepts empty (a warning here).
fn required_text<'a>(map: &'a Mapping, path: &[&str], p: &mut Problems) -> Option<&'a str> {
    match get(map, path[path.len() - 1]) {
        Some(Value::String(s)) if s.trim().is_empty() => {
            p.warn_key(path, "empty");
            Some(s.as_str())
        }
        _ => required_str(map, path, p),
    }
}

fn required_list<'a>(map: &'a Mapping, path: &[&str], p: &mut Problems) -> Option<&'a Vec<Value>> {
    if get(map, path[path.len() - 1]).is_none() {
        p.key(path, "required key missing");
        return None;
    }
    optional_list(map, path, p)
}

/// A list, or nothing when absent or null; anything else is a problem.
fn optional_list<'a>(map: &'a Mapping, path: &[&str], p: &mut Problems) -> Option<&'a Vec<Value>> {
    match get(map, path[path.len() - 1]) {
        None | Some(Value::Null) => None,
        Some(Value::Sequence(s)) => Some(s),
        Some(v) => {
            p.key(path, format!("must be a list, not {}", show(v)));
            None
        }
    }
}
