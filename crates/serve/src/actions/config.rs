//! `[[actions]]` in vigil.toml: where notables and risk events go besides the risk index.
//!
//! ```toml
//! [[actions]]
//! name = "soc"                       # names the action in logs, metrics and the outbox
//! type = "webhook"                   # webhook | splunk_hec | file
//! url = "https://soc.example/hooks/vigil"
//! headers = { Authorization = "Bearer ..." }
//! alerts = ["notable"]               # notable, risk (default: both)
//!
//! [[actions]]
//! name = "es"
//! type = "splunk_hec"                # notables as index=notable, risk as index=risk, sourcetype stash
//! url = "https://es.example:8088"    # /services/collector/event is added when no path is given
//! token = "00000000-0000-0000-0000-000000000000"
//! ca_file = "/etc/vigil/es-ca.pem"   # trust this CA (else the system's roots)
//! ack = true                         # indexer acknowledgement: delivered = acknowledged
//!
//! [[actions]]
//! name = "archive"
//! type = "file"
//! path = "/var/log/vigil/alerts.jsonl"
//! ```
//!
//! Every action also takes `timeout_secs` (10), `max_attempts` (20; then the delivery is given
//! up, kept in the outbox as failed and counted), `backoff_initial_secs` (1) and
//! `backoff_max_secs` (300): attempt n waits `initial * 2^(n-1)`, at most the max.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ActionKind,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub ack: bool,
    /// `splunk_hec`: `stash` (ES's `key="value"` text, what ES writes) or `json`.
    #[serde(default)]
    pub event_format: EventFormat,
    /// `splunk_hec`: the `host` of forwarded events (default: this machine's host name).
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "default_notable_index")]
    pub notable_index: String,
    #[serde(default = "default_risk_index")]
    pub risk_index: String,
    /// Which alerts: `notable`, `risk`.
    #[serde(default = "default_alerts")]
    pub alerts: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial_secs: f64,
    #[serde(default = "default_backoff_max")]
    pub backoff_max_secs: f64,
    /// Alerts per delivery (a webhook POSTs one alert per request whatever this says).
    #[serde(default = "default_batch")]
    pub batch: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Webhook,
    SplunkHec,
    File,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventFormat {
    #[default]
    Stash,
    Json,
}

fn default_notable_index() -> String {
    "notable".into()
}
fn default_risk_index() -> String {
    "risk".into()
}
fn default_alerts() -> Vec<String> {
    vec!["notable".into(), "risk".into()]
}
fn default_timeout() -> f64 {
    10.0
}
fn default_max_attempts() -> u32 {
    20
}
fn default_backoff_initial() -> f64 {
    1.0
}
fn default_backoff_max() -> f64 {
    300.0
}
fn default_batch() -> usize {
    100
}

impl ActionConfig {
    /// Checks what the TOML types cannot: required fields per type, names, ranges.
    pub fn validate(&self) -> Result<(), String> {
        let at = format!("actions `{}`", self.name);
        if self.name.trim().is_empty() {
            return Err("actions: every action needs a `name`".into());
        }
        let needs = |field: &str, present: bool| if present { Ok(()) } else { Err(format!("{at}: `{field}` is required")) };
        match self.kind {
            ActionKind::Webhook => needs("url", self.url.is_some())?,
            ActionKind::SplunkHec => {
                needs("url", self.url.is_some())?;
                needs("token", self.token.is_some())?;
            }
            ActionKind::File => needs("path", self.path.is_some())?,
        }
        if let Some(u) = &self.url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!("{at}: url `{u}` must start with http:// or https://"));
            }
        }
        for a in &self.alerts {
            if a != "notable" && a != "risk" {
                return Err(format!("{at}: alerts: `{a}` is neither `notable` nor `risk`"));
            }
        }
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{at}: `{name}` must be a positive number of seconds"))
            }
        };
        positive("timeout_secs", self.timeout_secs)?;
        positive("backoff_initial_secs", self.backoff_initial_secs)?;
        positive("backoff_max_secs", self.backoff_max_secs)?;
        if self.max_attempts == 0 || self.batch == 0 {
            return Err(format!("{at}: `max_attempts` and `batch` must be at least 1"));
        }
        Ok(())
    }

    pub fn wants(&self, alert_kind: &str) -> bool {
        self.alerts.iter().any(|a| a == alert_kind)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }

    /// The wait before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2f64.powi(attempts.saturating_sub(1).min(62) as i32);
        Duration::from_secs_f64((self.backoff_initial_secs * factor).min(self.backoff_max_secs))
    }
}

/// Checks a list of actions: each valid, names unique.
pub fn validate_all(actions: &[ActionConfig]) -> Result<(), String> {
    for (i, a) in actions.iter().enumerate() {
        a.validate()?;
        if actions[..i].iter().any(|b| b.name == a.name) {
            return Err(format!("actions: two actions are named `{}`", a.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ActionConfig>, String> {
        #[derive(Deserialize)]
        struct T {
            actions: Vec<ActionConfig>,
        }
        let t: T = toml::from_str(text).map_err(|e| e.to_string())?;
        validate_all(&t.actions)?;
        Ok(t.actions)
    }

    #[test]
    fn actions_parse_and_check_their_fields() {
        let a = parse("[[actions]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://x/\"\nalerts = [\"notable\"]\n").unwrap();
        assert_eq!(a[0].kind, ActionKind::Webhook);
        assert!(a[0].wants("notable") && !a[0].wants("risk"));
        assert_eq!(a[0].max_attempts, 20);
        let e = parse("[[actions]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"http://x/\"\n").unwrap_err();
        assert!(e.contains("`token` is required"), "{e}");
        let e = parse("[[actions]]\nname = \"f\"\ntype = \"file\"\n").unwrap_err();
        assert!(e.contains("`path`"), "{e}");
        let e = parse("[[actions]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"ftp://x\"\n").unwrap_err();
        assert!(e.contains("http://"), "{e}");
        let e = parse("[[actions]]\nname = \"w\"\ntype = \"email\"\n").unwrap_err();
        assert!(e.contains("email"), "{e}");
        let two = "[[actions]]\nname = \"f\"\ntype = \"file\"\npath = \"a\"\n[[actions]]\nname = \"f\"\ntype = \"file\"\npath = \"b\"\n";
        assert!(parse(two).unwrap_err().contains("two actions"));
    }

    #[test]
    fn backoff_doubles_up_to_the_max() {
        let a =
            parse("[[actions]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://x\"\nbackoff_initial_secs = 0.5\nbackoff_max_secs = 3\n")
                .unwrap()
                .remove(0);
        let secs: Vec<f64> = (1..=5).map(|n| a.backoff(n).as_secs_f64()).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 3.0, 3.0]);
        assert_eq!(a.backoff(10_000).as_secs_f64(), 3.0);
    }
}
