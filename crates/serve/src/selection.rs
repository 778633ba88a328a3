//! Which detections the server schedules, and on which schedule: `[scheduler]` in vigil.toml.
//!
//! ```toml
//! [scheduler]
//! enable = ["Windows MSIExec Remote Download", "Windows * Rundll32 *"]   # names or globs
//! disable = ["*Hunting*"]
//! max_catch_up = 24
//!
//! [[scheduler.override]]               # later overrides win, field by field
//! detection = "Windows MSIExec*"       # a name or a glob
//! cron = "*/15 * * * *"
//! earliest = "-25m@m"
//! latest = "-10m@m"
//! ```
//!
//! Decisions:
//! - A detection runs when its deployment enables it or `enable` matches it, and `disable`
//!   does not match it (`disable` wins); it needs a cron schedule (its own or an override's).
//! - Patterns are the detection's name, case-insensitive; `*` matches any run of characters
//!   (as a value in a Splunk search). A pattern that matches no loaded detection is an error (a typo would otherwise
//!   silently schedule nothing).
//! - Filter macros (`<name>_filter`) come from the content layers (`--content`, the config's
//!   `content`): a later layer's definition replaces the default `search *`, as in ES.
//! - Detections sharing `(cron, earliest, latest)` share one engine and one scan per tick.
//!   Those reading the Risk data model (ESCU Correlation) form their own groups and run after
//!   the event detections of the same tick, over the risk index (`correlate.rs`).

use serde::Deserialize;
use vigil_content::{ContentSet, Detection};
use vigil_engine::{Pattern, Planner, Query};
use vigil_model::Catalog;

/// `[scheduler]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Selection {
    pub enable: Vec<String>,
    pub disable: Vec<String>,
    pub max_catch_up: usize,
    #[serde(rename = "override")]
    pub overrides: Vec<Override>,
    /// Events arriving after the last run whose window holds them: `"count"` (listed and
    /// counted) or `"rerun"` (also those runs evaluated again; `late/`).
    pub late_events: LateMode,
}

impl Default for Selection {
    fn default() -> Self {
        Selection { enable: Vec::new(), disable: Vec::new(), max_catch_up: 24, overrides: Vec::new(), late_events: Default::default() }
    }
}

/// `[[scheduler.override]]`: a detection's schedule replaced, field by field.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub detection: String,
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub earliest: Option<String>,
    #[serde(default)]
    pub latest: Option<String>,
}

/// `(cron, earliest, latest)`.
pub type ScheduleKey = (String, String, String);

/// One scheduled detection, planned.
pub struct Planned {
    pub name: String,
    pub query: Query,
    /// Changes when the planned search changes (macros, lookups, the search itself): a
    /// reload keeps a schedule whose members' signatures are all unchanged.
    pub signature: u64,
}

/// Detections planned, by schedule; `risk` tells the groups that read the risk index.
pub struct PlannedGroup {
    pub key: ScheduleKey,
    pub members: Vec<Planned>,
    pub reads_risk: bool,
}

/// `[scheduler] late_events`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LateMode {
    /// Counted and listed (what Splunk would miss).
    #[default]
    Count,
    /// Also the runs whose windows hold them are evaluated again.
    Rerun,
}

/// A selected detection that cannot run: its name and why.
pub type NotScheduled = (String, String);

/// Whether `name` matches `pattern` (see the module notes): Splunk's search-value matching,
/// the same code as `field=value` in a search.
pub fn matches(pattern: &str, name: &str) -> bool {
    Pattern::new(pattern.trim()).matches(name)
}

impl Selection {
    /// Every pattern must match some detection.
    pub fn check(&self, content: &ContentSet, extra: &[(Detection, Query)]) -> Result<(), String> {
        let patterns = self.enable.iter().map(|p| ("enable", p)).chain(self.disable.iter().map(|p| ("disable", p)));
        let patterns = patterns.chain(self.overrides.iter().map(|o| ("override", &o.detection)));
        for (what, p) in patterns {
            let mut names = content.detections().iter().chain(extra.iter().map(|(d, _)| d)).map(|d| &d.name);
            if !names.any(|n| matches(p, n)) {
                return Err(format!("scheduler: {what}: no detection named or matching `{p}` in the loaded content"));
            }
        }
        Ok(())
    }

    /// The schedule of `detection` after overrides, if it is to run.
    pub fn schedule_of(&self, content: &ContentSet, d: &vigil_content::Detection) -> Option<ScheduleKey> {
        let s = content.deployment_for(d).map(|dep| dep.scheduling.clone()).unwrap_or_default();
        let enabled = s.disabled != Some(true) || self.enable.iter().any(|p| matches(p, &d.name));
        if !enabled || self.disable.iter().any(|p| matches(p, &d.name)) {
            return None;
        }
        let mut key = (
            s.cron_schedule.unwrap_or_default().trim().to_string(),
            s.earliest_time.unwrap_or_default().trim().to_string(),
            s.latest_time.unwrap_or_default().trim().to_string(),
        );
        for o in self.overrides.iter().filter(|o| matches(&o.detection, &d.name)) {
            let set = |field: &mut String, v: &Option<String>| {
                if let Some(v) = v {
                    *field = v.trim().to_string();
                }
            };
            set(&mut key.0, &o.cron);
            set(&mut key.1, &o.earliest);
            set(&mut key.2, &o.latest);
        }
        (!key.0.is_empty()).then_some(key)
    }

    /// Plans every selected detection and groups them by schedule; detections whose search
    /// cannot run are reported on stderr and returned apart, with why.
    /// `extra`: detections planned by the caller (Sigma rules), scheduled like the others.
    pub fn plan(
        &self,
        content: &ContentSet,
        extra: Vec<(Detection, Query)>,
        catalog: &Catalog,
    ) -> Result<(Vec<PlannedGroup>, Vec<NotScheduled>), String> {
        self.check(content, &extra)?;
        let mut planner = Planner::new(catalog, content);
        let mut groups: Vec<PlannedGroup> = Vec::new();
        let mut not_scheduled = Vec::new();
        let given = extra.into_iter().map(|(d, q)| (std::borrow::Cow::Owned(d), Some(q)));
        for (d, planned) in content.detections().iter().map(|d| (std::borrow::Cow::Borrowed(d), None)).chain(given) {
            let d = d.as_ref();
            let Some(key) = self.schedule_of(content, d) else { continue };
            let query = match planned.map_or_else(|| planner.plan(&d.name, &d.search), Ok) {
                Ok(q) => q,
                Err(e) => {
                    let why = e.render(&format!("detection `{}` search", d.name));
                    eprintln!("vigil serve: not scheduled, cannot run:\n{why}");
                    not_scheduled.push((d.name.clone(), why));
                    continue;
                }
            };
            let reads_risk = vigil_scan::correlation::reads_risk(&query, catalog);
            let signature = signature(&format!("{query:?}"));
            let member = Planned { name: d.name.clone(), query, signature };
            match groups.iter_mut().find(|g| g.key == key && g.reads_risk == reads_risk) {
                Some(g) => g.members.push(member),
                None => groups.push(PlannedGroup { key, members: vec![member], reads_risk }),
            }
        }
        Ok((groups, not_scheduled))
    }
}

fn signature(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names_case_insensitively() {
        assert!(matches("Windows MSIExec Remote Download", "windows msiexec remote download"));
        assert!(matches("windows*download", "Windows MSIExec Remote Download"));
        assert!(matches("*MSIExec*", "Windows MSIExec Remote Download"));
        assert!(!matches("Windows MSIExec", "Windows MSIExec Remote Download"));
        assert!(!matches("*Rundll32*", "Windows MSIExec Remote Download"));
        assert!(matches(" *download ", "Windows MSIExec Remote Download"));
        assert!(matches("a*b*c", "aXbYbZc") && !matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn enable_disable_and_overrides_decide_the_schedule() {
        let content = ContentSet::builtin();
        let seed = content.detection("Windows MSIExec Remote Download").unwrap();
        let sel = |text: &str| -> Selection { toml::from_str(text).unwrap() };
        // Disabled by its deployment (the seed ships disabled).
        assert_eq!(sel("").schedule_of(&content, seed), None);
        let on = sel("enable = [\"*msiexec*\"]");
        assert_eq!(on.schedule_of(&content, seed), Some(("0 * * * *".into(), "-70m@m".into(), "-10m@m".into())));
        assert_eq!(sel("enable = [\"*msiexec*\"]\ndisable = [\"Windows*\"]").schedule_of(&content, seed), None);
        let o = sel("enable = [\"*msiexec*\"]\n[[override]]\ndetection = \"*\"\ncron = \"*/5 * * * *\"\nlatest = \"now\"\n\
             [[override]]\ndetection = \"windows msiexec*\"\nearliest = \"-15m@m\"\n");
        assert_eq!(o.schedule_of(&content, seed), Some(("*/5 * * * *".into(), "-15m@m".into(), "now".into())));
        let e = sel("enable = [\"No Such Detection*\"]").check(&content, &[]).unwrap_err();
        assert!(e.contains("No Such Detection*"), "{e}");
        let e = sel("[[override]]\ndetection = \"nope\"\ncron = \"* * * * *\"").check(&content, &[]).unwrap_err();
        assert!(e.contains("override") && e.contains("nope"), "{e}");
    }
}
