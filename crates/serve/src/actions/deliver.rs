//! The three targets: a webhook (one JSON POST per alert), a Splunk HEC (ES's notable and risk
//! indexes), a JSON-lines file. Each delivers a batch of alert payloads (their JSON) or says
//! why not; retrying is the outbox's business.

use super::config::{ActionConfig, ActionKind, EventFormat};
use serde_json::{json, Map, Value as J};
use std::io::Write;
use std::time::{Duration, Instant};

/// How long an acknowledged HEC delivery waits for its ackId to turn true.
const ACK_WAIT: Duration = Duration::from_secs(60);

pub enum Target {
    Webhook { client: reqwest::Client, url: String, headers: Vec<(String, String)> },
    Hec(Box<HecTarget>),
    File { path: std::path::PathBuf },
}

pub struct HecTarget {
    client: reqwest::Client,
    event_url: String,
    ack_url: String,
    token: String,
    /// Indexer acknowledgement: the channel this action sends on.
    channel: Option<String>,
    host: String,
    notable_index: String,
    risk_index: String,
    format: EventFormat,
}

impl Target {
    pub fn new(cfg: &ActionConfig) -> Result<Target, String> {
        let at = |e: String| format!("actions `{}`: {e}", cfg.name);
        Ok(match cfg.kind {
            ActionKind::Webhook => Target::Webhook {
                client: client(cfg).map_err(at)?,
                url: cfg.url.clone().unwrap_or_default(),
                headers: cfg.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            },
            ActionKind::SplunkHec => {
                let url = cfg.url.clone().unwrap_or_default();
                let (event_url, ack_url) = hec_urls(&url);
                Target::Hec(Box::new(HecTarget {
                    client: client(cfg).map_err(at)?,
                    event_url,
                    ack_url,
                    token: cfg.token.clone().unwrap_or_default(),
                    channel: cfg.ack.then(new_channel).transpose().map_err(at)?,
                    host: cfg.host.clone().unwrap_or_else(host_name),
                    notable_index: cfg.notable_index.clone(),
                    risk_index: cfg.risk_index.clone(),
                    format: cfg.event_format,
                }))
            }
            ActionKind::File => Target::File { path: cfg.path.clone().unwrap_or_default() },
        })
    }

    /// Alerts per delivery: a webhook takes one, the others `batch`.
    pub fn batch(&self, configured: usize) -> usize {
        match self {
            Target::Webhook { .. } => 1,
            _ => configured,
        }
    }

    /// Delivers `payloads` (alert JSON texts) in order, all or none as far as the caller knows.
    pub fn deliver(&self, rt: &tokio::runtime::Handle, payloads: &[&str]) -> Result<(), String> {
        match self {
            Target::Webhook { client, url, headers } => {
                for p in payloads {
                    let mut req = client.post(url).header("content-type", "application/json").body(p.to_string());
                    for (k, v) in headers {
                        req = req.header(k, v);
                    }
                    rt.block_on(async {
                        let resp = req.send().await.map_err(describe)?;
                        let status = resp.status();
                        if status.is_success() {
                            return Ok(());
                        }
                        let body = resp.text().await.unwrap_or_default();
                        Err(format!("HTTP {}: {}", status.as_u16(), clip(&body)))
                    })?;
                }
                Ok(())
            }
            Target::Hec(h) => rt.block_on(h.send(payloads)),
            Target::File { path } => append_lines(path, payloads),
        }
    }
}

/// A client with the action's timeout; trusting only `ca_file` when given, else the system's
/// roots.
fn client(cfg: &ActionConfig) -> Result<reqwest::Client, String> {
    crate::tls::install_provider();
    let mut b = reqwest::Client::builder().timeout(cfg.timeout()).connect_timeout(cfg.timeout());
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        b = b.tls_certs_only(certs);
    }
    b.build().map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// `.../services/collector/event` and `.../services/collector/ack` for a configured URL: a
/// bare `scheme://host:port` gets HEC's paths; a URL naming the event endpoint keeps it.
fn hec_urls(url: &str) -> (String, String) {
    let base = url.trim_end_matches('/');
    match base.find("/services/collector") {
        Some(i) => {
            let root = &base[..i];
            let event = if base.ends_with("/services/collector") { format!("{base}/event") } else { base.to_string() };
            (event, format!("{root}/services/collector/ack"))
        }
        None => (format!("{base}/services/collector/event"), format!("{base}/services/collector/ack")),
    }
}

impl HecTarget {
    async fn send(&self, payloads: &[&str]) -> Result<(), String> {
        let mut body = String::new();
        for p in payloads {
            let alert: J = serde_json::from_str(p).map_err(|e| format!("queued alert is not JSON: {e}"))?;
            body.push_str(&self.envelope(&alert).to_string());
        }
        let mut req = self.client.post(&self.event_url).header("authorization", format!("Splunk {}", self.token)).body(body);
        if let Some(c) = &self.channel {
            req = req.header("x-splunk-request-channel", c);
        }
        let resp = req.send().await.map_err(describe)?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let answer: J = serde_json::from_str(&text).unwrap_or(J::Null);
        if !status.is_success() || answer.get("code").and_then(J::as_i64) != Some(0) {
            return Err(format!("HEC HTTP {}: {}", status.as_u16(), clip(&text)));
        }
        match (&self.channel, answer.get("ackId").and_then(J::as_u64)) {
            (Some(channel), Some(id)) => self.wait_ack(channel, id).await,
            (Some(_), None) => Err(format!("HEC answered without an ackId although ack = true: {}", clip(&text))),
            _ => Ok(()),
        }
    }

    async fn wait_ack(&self, channel: &str, id: u64) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let resp = self
                .client
                .post(&self.ack_url)
                .header("authorization", format!("Splunk {}", self.token))
                .header("x-splunk-request-channel", channel)
                .body(json!({ "acks": [id] }).to_string())
                .send()
                .await
                .map_err(describe)?;
            let text = resp.text().await.unwrap_or_default();
            let answer: J = serde_json::from_str(&text).unwrap_or(J::Null);
            if answer["acks"][id.to_string()].as_bool() == Some(true) {
                return Ok(());
            }
            if answer.get("acks").is_none() {
                return Err(format!("HEC ack query failed: {}", clip(&text)));
            }
            if started.elapsed() > ACK_WAIT {
                return Err(format!("HEC ackId {id} not acknowledged within {}s", ACK_WAIT.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The HEC envelope of one alert, as ES indexes it: `sourcetype=stash`, `source` the
    /// search name, the notable or risk index, `time` the alert's time.
    fn envelope(&self, alert: &J) -> J {
        let index = match alert.get("kind").and_then(J::as_str) {
            Some("risk") => &self.risk_index,
            _ => &self.notable_index,
        };
        let mut fields = alert.as_object().cloned().unwrap_or_default();
        fields.remove("kind");
        let event = match self.format {
            EventFormat::Stash => J::String(stash_text(&fields)),
            EventFormat::Json => J::Object(fields),
        };
        json!({
            "time": alert.get("_time").cloned().unwrap_or(J::Null),
            "host": self.host,
            "source": alert.get("search_name").and_then(J::as_str).unwrap_or("vigil"),
            "sourcetype": vigil_alert::STASH_SOURCETYPE,
            "index": index,
            "event": event,
        })
    }
}

/// An alert as ES writes it into the notable and risk indexes (sourcetype stash): `_time`
/// first, then `key="value"` pairs, which Splunk's automatic key-value extraction reads back.
/// Multivalue fields repeat the key; an object's fields are named `object.field`; a list of
/// objects (drilldown searches, contributing risk events) is one JSON value.
pub fn stash_text(fields: &Map<String, J>) -> String {
    let mut out = match fields.get("_time") {
        Some(t) => t.to_string(),
        None => String::new(),
    };
    let mut pair = |k: &str, v: &str| {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    };
    fn walk(prefix: &str, v: &J, pair: &mut dyn FnMut(&str, &str)) {
        match v {
            J::Null => {}
            J::String(s) => pair(prefix, s),
            J::Array(items) if items.iter().any(|i| i.is_object()) => pair(prefix, &v.to_string()),
            J::Array(items) => items.iter().for_each(|i| walk(prefix, i, pair)),
            J::Object(m) => m.iter().for_each(|(k, v)| walk(&format!("{prefix}.{k}"), v, pair)),
            other => pair(prefix, &other.to_string()),
        }
    }
    for (k, v) in fields {
        if k != "_time" {
            walk(k, v, &mut pair);
        }
    }
    out
}

fn append_lines(path: &std::path::Path, payloads: &[&str]) -> Result<(), String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(at)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(at)?;
    let mut text = String::new();
    for p in payloads {
        text.push_str(p);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).map_err(at)?;
    f.sync_data().map_err(at)
}

/// A GUID-shaped HEC channel.
fn new_channel() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("cannot generate a channel: {e}"))?;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vigil".into())
}

/// A request error with its causes (reqwest's top-level message alone says little).
fn describe(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stash_text_is_es_key_value_text() {
        let alert = json!({"_time": 1700000000, "search_name": "ESCU - X - Rule", "dest": "H\"1", "risk_score": 56,
            "annotations": {"mitre_attack": ["T1", "T2"]}, "drilldown_searches": [{"name": "d"}], "nothing": null});
        let text = stash_text(alert.as_object().unwrap());
        assert!(text.starts_with("1700000000, "), "{text}");
        for part in [
            r#"search_name="ESCU - X - Rule""#,
            r#"dest="H\"1""#,
            r#"risk_score="56""#,
            r#"annotations.mitre_attack="T1", annotations.mitre_attack="T2""#,
            r#"drilldown_searches="[{\"name\":\"d\"}]""#,
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        assert!(!text.contains("nothing"));
    }

    #[test]
    fn hec_urls_from_a_base_or_an_endpoint() {
        assert_eq!(
            hec_urls("https://es:8088/"),
            ("https://es:8088/services/collector/event".into(), "https://es:8088/services/collector/ack".into())
        );
        assert_eq!(hec_urls("http://h/services/collector").0, "http://h/services/collector/event");
        assert_eq!(hec_urls("http://h/services/collector/event/1.0").0, "http://h/services/collector/event/1.0");
        assert_eq!(hec_urls("http://h/services/collector/event/1.0").1, "http://h/services/collector/ack");
    }
}
