//! Detection results -> notables and risk events, as ES's notable and risk actions do.

use crate::alert::{Alert, Annotations, Drilldown, Notable, Orig, RiskEvent, Severity};
use crate::attack;
use crate::render::{render_detection_tokens, render_fields, render_tokens, value_text};
use vigil_content::{Deployment, Detection};
use vigil_model::{Micros, Record, Value};

/// What a run knows that the detection and its rows do not.
#[derive(Clone, Debug, Default)]
pub struct AlertContext {
    /// When the search ran: the notable's and risk events' `_time` unless a row has `_time`.
    pub run_time: Micros,
    /// The search with macros expanded, for `%original_detection_search%` in drilldowns
    /// (contentctl substitutes it at build time); the detection's raw search when `None`.
    pub search: Option<String>,
    /// The search's time range (`$info_min_time$`, `$info_max_time$` in drilldowns); `None`
    /// for an all-time hunt, rendered as `0` and `now`.
    pub window: Option<(Micros, Micros)>,
    /// How a result without `_time` is stamped.
    pub stamp: Stamp,
}

impl AlertContext {
    /// A live scheduled run at `tick` over `window` (serve, the cluster's reducer): alerts carry
    /// the run time, whole seconds, as ES stamps a scheduled search's alerts.
    pub fn scheduled_run(search: Option<String>, tick: Micros, window: (Micros, Micros)) -> AlertContext {
        AlertContext { run_time: tick - tick.rem_euclid(1_000_000), search, window: Some(window), stamp: Stamp::RunTime }
    }
}

/// How alerts from a result without `_time` (every ESCU tstats search) are stamped.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Stamp {
    /// With the run time, as ES stamps a scheduled search's alerts (and a future `serve`).
    #[default]
    RunTime,
    /// With the activity's time, for hunts and backtests over historical files: the result's
    /// `lastTime`, else `firstTime` (epoch seconds, or text as `security_content_ctime` /
    /// `convert ctime` render it in this zone), else the run time.
    Activity(vigil_time::Tz),
}

/// Formats `lastTime`/`firstTime` may carry after ESCU's `security_content_ctime` or a plain
/// `convert ctime`; ISO 8601 with a zone is tried first.
const ACTIVITY_TIME_FORMATS: &[&str] = &[vigil_time::ESCU_CTIME_FORMAT, vigil_time::CONVERT_DEFAULT_FORMAT, "%Y-%m-%d %H:%M:%S"];

/// A time field of a result as epoch microseconds: a number is epoch seconds; text is ISO 8601
/// with a zone or one of [`ACTIVITY_TIME_FORMATS`] in `tz`.
fn field_time(row: &Record, field: &str, tz: &vigil_time::Tz) -> Option<Micros> {
    let v = row.get(field)?;
    if let Some(n) = v.as_num() {
        return vigil_time::micros_from_secs(n);
    }
    // A multivalue time (values(_time)) stamps at its latest item.
    let items = v.items();
    let parse = |s: &str| {
        let s = s.trim();
        // Only text with its own zone is ISO 8601 here; zoneless text is in `tz`.
        let zoned = s.ends_with('Z') || s.get(10..).is_some_and(|t| t.contains(['+', '-']));
        if zoned {
            return vigil_time::parse_iso8601_utc(s);
        }
        ACTIVITY_TIME_FORMATS.iter().find_map(|f| vigil_time::parse_time(s, f, tz))
    };
    items.iter().filter_map(|s| parse(s)).max()
}

/// The time of a result's alerts: its `_time`, else per `stamp` (whole seconds, as ES).
pub fn alert_time(row: &Record, ctx: &AlertContext) -> Micros {
    let own = row.get("_time").and_then(Value::as_num).and_then(vigil_time::micros_from_secs);
    let t = own.or_else(|| match &ctx.stamp {
        Stamp::RunTime => None,
        Stamp::Activity(tz) => field_time(row, "lastTime", tz).or_else(|| field_time(row, "firstTime", tz)),
    });
    t.unwrap_or(ctx.run_time)
}

/// A risk object of a detection: a result field whose values receive risk.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskTarget {
    pub field: String,
    /// `user`, `system` or `other`.
    pub kind: String,
    pub score: f64,
}

/// A threat object: a result field whose values are attached to the risk events.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreatTarget {
    pub field: String,
    pub kind: String,
}

/// A detection's risk configuration, normalized from either content format.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RiskSpec {
    pub message: String,
    pub risk_objects: Vec<RiskTarget>,
    pub threat_objects: Vec<ThreatTarget>,
}

/// The detection-level score of the old format: `tags.risk_score`, else
/// `confidence * impact / 100` truncated to an integer (as contentctl computed it).
fn tag_score(det: &Detection) -> Option<f64> {
    if let Some(s) = det.tags.risk_score {
        return Some(s);
    }
    match (det.tags.confidence, det.tags.impact) {
        (Some(c), Some(i)) => Some((c * i / 100.0).trunc()),
        _ => None,
    }
}

/// Old-format observable type -> risk object type, as contentctl maps `Victim` observables.
fn risk_type_of_observable(kind: &str) -> &'static str {
    match kind.trim().to_ascii_lowercase().as_str() {
        "user" | "user name" | "username" | "email address" => "user",
        "hostname" | "ip address" | "endpoint" | "device" | "system" => "system",
        _ => "other",
    }
}

/// Old-format observable type -> threat object type: snake case of the type (`Process Name`
/// -> `process_name`, `IP Address` -> `ip_address`), `URL String` -> `url`.
fn threat_type_of_observable(kind: &str) -> String {
    let k = kind.trim().to_ascii_lowercase();
    if k == "url string" {
        return "url".into();
    }
    k.split_whitespace().collect::<Vec<_>>().join("_")
}

fn is_threat_role(role: &str) -> bool {
    matches!(role.trim().to_ascii_lowercase().as_str(), "attacker" | "parent process" | "child process" | "process" | "threat")
}

/// The risk configuration of a detection. The 2025 `rba:` block wins when present; otherwise
/// `tags.observable` (role Victim -> risk object, Attacker / Parent Process / Child Process /
/// Process -> threat object; an observable with both roles is both), `tags.risk_score` and
/// `tags.message`. An `rba` risk object without a score takes the detection-level score.
pub fn risk_spec(det: &Detection) -> RiskSpec {
    let fallback = tag_score(det).unwrap_or(0.0);
    if let Some(rba) = &det.rba {
        return RiskSpec {
            message: rba.message.trim().to_string(),
            risk_objects: rba
                .risk_objects
                .iter()
                .filter(|o| !o.field.is_empty())
                .map(|o| RiskTarget { field: o.field.clone(), kind: normalize_risk_type(&o.kind), score: o.score.unwrap_or(fallback) })
                .collect(),
            threat_objects: rba
                .threat_objects
                .iter()
                .filter(|o| !o.field.is_empty())
                .map(|o| ThreatTarget { field: o.field.clone(), kind: o.kind.clone() })
                .collect(),
        };
    }
    let mut spec = RiskSpec { message: det.tags.message.clone().unwrap_or_default().trim().to_string(), ..Default::default() };
    for o in &det.tags.observable {
        if o.name.is_empty() {
            continue;
        }
        if o.role.iter().any(|r| r.trim().eq_ignore_ascii_case("victim")) {
            spec.risk_objects.push(RiskTarget {
                field: o.name.clone(),
                kind: risk_type_of_observable(&o.kind).to_string(),
                score: fallback,
            });
        }
        if o.role.iter().any(|r| is_threat_role(r)) {
            spec.threat_objects.push(ThreatTarget { field: o.name.clone(), kind: threat_type_of_observable(&o.kind) });
        }
    }
    spec
}

/// `rba` risk object types are `user`, `system` or `other`; anything else is `other`.
fn normalize_risk_type(kind: &str) -> String {
    match kind.trim().to_ascii_lowercase().as_str() {
        "user" => "user".into(),
        "system" => "system".into(),
        _ => "other".into(),
    }
}

/// ESCU's severity from a risk score: <=20 informational, <=40 low, <=60 medium, <=80 high,
/// else critical.
pub fn severity_for_score(score: f64) -> Severity {
    if score <= 20.0 {
        Severity::Informational
    } else if score <= 40.0 {
        Severity::Low
    } else if score <= 60.0 {
        Severity::Medium
    } else if score <= 80.0 {
        Severity::High
    } else {
        Severity::Critical
    }
}

/// ES's urgency matrix (priority x severity). Vigil has no asset/identity lookups, so the
/// priority is always `unknown`, which ES maps to: informational -> informational, low ->
/// low, medium -> low, high -> medium, critical -> high, unknown -> low. The other rows are
/// kept for when asset priorities exist.
pub fn urgency(priority: Severity, severity: Severity) -> Severity {
    use Severity::*;
    match (priority, severity) {
        (_, Informational) => Informational,
        (Unknown | Informational, Unknown) => Low,
        (Unknown | Informational, Low | Medium) => Low,
        (Unknown | Informational, High) => Medium,
        (Unknown | Informational, Critical) => High,
        (Low, Unknown | Low | Medium | High) => Low,
        (Low, Critical) => Medium,
        (Medium, Unknown | Low) => Low,
        (Medium, Medium | High) => Medium,
        (Medium, Critical) => High,
        (High, Unknown | Low | Medium) => Medium,
        (High, High) => High,
        (High, Critical) => Critical,
        (Critical, Unknown | Low) => Medium,
        (Critical, Medium) => High,
        (Critical, High | Critical) => Critical,
    }
}

/// Fields that change between runs over the same activity and so are not part of a result's
/// identity: the aggregation's `count` and `lastTime` grow as more events arrive, `_time` and
/// `info_*` describe the run.
fn is_run_specific(field: &str) -> bool {
    // Where an event was read (`source_file`, `record`) is not the activity: the same event
    // in a copied or renamed file is the same finding.
    matches!(field, "count" | "lastTime" | "_time" | "source_file" | "record") || field.starts_with("info_")
}

/// FNV-1a 64 with a seed; two seeds give a 128-bit, stable (across builds and platforms) id.
fn fnv(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for p in parts {
        for b in *p {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The identity of a result row: a stable hash of its fields (sorted by name), leaving out
/// run-specific ones (`count`, `lastTime`, `_time`, `info_*`). The same activity re-found by a
/// later run hashes the same; `firstTime` stays in, so the same command on another day is new.
pub fn identity_hash(row: &Record) -> String {
    let mut fields: Vec<(&str, &Value)> = row.iter().filter(|(k, _)| !is_run_specific(k)).collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut buf = Vec::new();
    for (k, v) in fields {
        buf.extend_from_slice(k.as_bytes());
        buf.push(0);
        for item in v.items() {
            buf.extend_from_slice(item.as_bytes());
            buf.push(0x1f);
        }
        buf.push(0x1e);
    }
    hash_hex(&[&buf])
}

pub(crate) fn hash_hex(parts: &[&[u8]]) -> String {
    format!("{:016x}{:016x}", fnv(0, parts), fnv(0x9e37_79b9_7f4a_7c15, parts))
}

/// Values of a risk or threat object field that are objects: not empty, not `"null"`.
///
/// ES creates no risk event for an empty risk object. `"null"` is what ESCU's
/// `fillnull_value=null` puts in a missing group-by field; ES would create a risk event for
/// the literal object "null" and let it accumulate every detection's score, so Vigil skips it
/// (ESCU's own test harness fails a detection whose risk object is "null"). `"unknown"`, which
/// the CIM data model fills for a missing dest/user, is kept, as ES keeps it.
fn object_values(row: &Record, field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in row.value(field).items() {
        let v = item.trim();
        if v.is_empty() || v == "null" || out.iter().any(|o| o == v) {
            continue;
        }
        out.push(v.to_string());
    }
    out
}

fn search_name(det: &Detection) -> String {
    // Sigma rules stand as detections with the `Sigma` deployment (vigil --sigma --alerts).
    let app = if det.deployment.as_ref().is_some_and(|d| d.name == "Sigma") { "Sigma" } else { "ESCU" };
    format!("{app} - {} - Rule", det.name)
}

/// Names the notable itself uses; a nes field with one of these names is not copied to the
/// top level (it is still in `orig_*`).
const RESERVED: &[&str] = &[
    "kind",
    "_time",
    "search_name",
    "rule_name",
    "rule_title",
    "rule_description",
    "security_domain",
    "severity",
    "urgency",
    "risk_score",
    "detection_id",
    "detection_version",
    "annotations",
    "drilldown_searches",
    "event_hash",
];

/// The alerts ES raises for one detection's result rows.
///
/// Which actions fire follows `deployment` (the detection's own `deployment:` or the default
/// for its type, see `ContentSet::deployment_for`): a notable per row when it has a notable
/// action, risk events when its `rba` action is enabled. ESCU defaults: TTP notable + risk,
/// Anomaly risk only, Hunting nothing, Correlation notable only. No deployment, nothing.
///
/// Per row: the notable first, then one risk event per value of each risk object field.
/// `_time` is the row's `_time` when it has one (epoch seconds), else by `ctx.stamp`: the run
/// time, as ES stamps alerts from results without `_time` (every ESCU tstats search), or the
/// activity's `lastTime`/`firstTime` for offline runs (see [`alert_time`]);
/// `firstTime`/`lastTime` stay available as `orig_firstTime`/`orig_lastTime`.
pub fn build_alerts(det: &Detection, deployment: Option<&Deployment>, rows: &[Record], ctx: &AlertContext) -> Vec<Alert> {
    let Some(dep) = deployment else {
        return Vec::new();
    };
    let notable_action = dep.alert_action.notable.as_ref();
    let risk_enabled = dep.alert_action.rba.as_ref().is_some_and(|r| r.enabled);
    if notable_action.is_none() && !risk_enabled {
        return Vec::new();
    }
    let spec = risk_spec(det);
    let max_score = spec.risk_objects.iter().map(|o| o.score).fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    let max_score = max_score.or_else(|| tag_score(det));
    let severity = max_score.map_or(Severity::Unknown, severity_for_score);
    let annotations = Annotations {
        mitre_attack: det.tags.mitre_attack_id.clone(),
        mitre_tactic: attack::tactics_for(&det.tags.mitre_attack_id),
        analytic_story: det.tags.analytic_story.clone(),
    };
    let name = search_name(det);
    let version = det.version_text();
    let mut out = Vec::new();
    for row in rows {
        let identity = identity_hash(row);
        let time = alert_time(row, ctx);
        if let Some(action) = notable_action {
            let mut fields = Record::new();
            for f in &action.nes_fields {
                let f = f.trim();
                if let Some(v) = row.get(f) {
                    if !RESERVED.contains(&f) {
                        fields.set(f, v.clone());
                    }
                }
            }
            let title_tpl = if action.rule_title.trim().is_empty() { "%name%" } else { action.rule_title.as_str() };
            let desc_tpl = if action.rule_description.trim().is_empty() { "%description%" } else { action.rule_description.as_str() };
            out.push(Alert::Notable(Notable {
                time,
                search_name: name.clone(),
                rule_name: name.clone(),
                rule_title: render_fields(&render_detection_tokens(title_tpl, det), row),
                rule_description: render_fields(&render_detection_tokens(desc_tpl, det), row),
                security_domain: det.tags.security_domain.clone(),
                severity,
                urgency: urgency(Severity::Unknown, severity),
                risk_score: max_score,
                detection_id: det.id.clone(),
                detection_version: version.clone(),
                annotations: annotations.clone(),
                drilldown_searches: drilldowns(det, row, ctx),
                fields,
                orig: Orig(row.clone()),
                contributing_risk_events: Vec::new(),
                event_hash: hash_hex(&[det.id.as_bytes(), identity.as_bytes()]),
            }));
        }
        if !risk_enabled {
            continue;
        }
        let mut threat_object = Vec::new();
        let mut threat_object_type = Vec::new();
        for t in &spec.threat_objects {
            for v in object_values(row, &t.field) {
                threat_object.push(v);
                threat_object_type.push(t.kind.clone());
            }
        }
        let message = render_fields(&spec.message, row);
        for o in &spec.risk_objects {
            for value in object_values(row, &o.field) {
                let normalized = value.to_lowercase();
                out.push(Alert::Risk(RiskEvent {
                    time,
                    search_name: name.clone(),
                    detection_id: det.id.clone(),
                    detection_version: version.clone(),
                    event_hash: hash_hex(&[det.id.as_bytes(), identity.as_bytes(), normalized.as_bytes(), o.kind.as_bytes()]),
                    risk_object: value,
                    normalized_risk_object: normalized,
                    risk_object_type: o.kind.clone(),
                    risk_score: o.score,
                    risk_message: message.clone(),
                    threat_object: threat_object.clone(),
                    threat_object_type: threat_object_type.clone(),
                    annotations: annotations.clone(),
                    orig: Orig(row.clone()),
                }));
            }
        }
    }
    out
}

/// Drilldowns with `%original_detection_search%` and `$field$` / `$info_min_time$` /
/// `$info_max_time$` rendered.
fn drilldowns(det: &Detection, row: &Record, ctx: &AlertContext) -> Vec<Drilldown> {
    let (min, max) = match ctx.window {
        Some((a, b)) => (secs_text(a), secs_text(b)),
        None => ("0".to_string(), "now".to_string()),
    };
    let lookup = |name: &str| -> Option<String> {
        match name {
            "info_min_time" => Some(min.clone()),
            "info_max_time" => Some(max.clone()),
            _ => row.get(name).and_then(value_text),
        }
    };
    let search = ctx.search.as_deref().unwrap_or(&det.search).trim();
    det.drilldown_searches
        .iter()
        .map(|d| Drilldown {
            name: render_tokens(&d.name, &lookup),
            search: render_tokens(&d.search.replace("%original_detection_search%", search), &lookup),
            earliest_offset: d.earliest_offset.as_deref().map(|s| render_tokens(s, &lookup)),
            latest_offset: d.latest_offset.as_deref().map(|s| render_tokens(s, &lookup)),
        })
        .collect()
}

fn secs_text(t: Micros) -> String {
    vigil_model::value::format_num(t as f64 / 1_000_000.0)
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
