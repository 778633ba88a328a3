//! `vigil.toml` and the embedded defaults.
//!
//! ```toml
//! listen = "127.0.0.1:8088"          # loopback unless changed
//! data_dir = "/var/lib/vigil"        # default: $XDG_DATA_HOME/vigil, else ~/.local/share/vigil
//!
//! [limits]
//! max_body_bytes = 16777216          # a request body, after gzip
//! max_event_bytes = 1048576          # one event's text
//! max_queued_events = 200000         # waiting for the disk; past it: 503 server busy
//! max_inflight_body_bytes = 67108864 # bodies in memory until durable; past it: 503 server busy
//! max_connections = 512              # past it: 503 and close (listener/)
//! header_timeout_secs = 10           # headers (or the next request on a kept-alive connection)
//! body_timeout_secs = 10             # a body gets this long plus 1 s per min_body_rate bytes
//! min_body_rate = 16384              #   (slow clients are cut off, listener/slow_body.rs)
//!
//! [[tokens]]                         # none: one token generated into the data directory
//! token = "00000000-0000-0000-0000-000000000000"
//! name = "sysmon"
//! indexes = ["main", "win"]          # allowed; empty: any
//! default_index = "main"
//! sourcetype = "XmlWinEventLog"      # when the sender gives none
//! ack = true                         # indexer acknowledgement (channel required)
//!
//! [store]
//! seal_idle_secs = 600               # hour over and idle this long: segment zstd-compressed
//! max_age = "30d"                    # sealed partitions older than this are deleted
//! max_size = "10GB"                  # past this, the oldest sealed partitions are deleted
//!
//! [[inputs.directory]]               # tailed into the store (see tail/mod.rs)
//! path = "/var/log/vigil-in"
//! pattern = "*.xml"
//!
//! [alerts]                         # the alert store (vigil_alert::RiskStore)
//! postgres = "postgres://vigil@db/vigil"   # shared by several processes; default: risk.db (SQLite)
//!
//! [api]
//! secure_cookies = false             # true behind a TLS-terminating proxy: session cookies get `Secure`
//!
//! [sigma]                            # Sigma rules beside the ESCU content (adds to --sigma)
//! paths = ["/etc/vigil/sigma"]       # .yml files or directories
//! cron = "0 * * * *"                 # every rule's schedule (these three are the defaults;
//! earliest = "-70m@m"                #  a correlation with a longer timespan looks back
//! latest = "-10m@m"                  #  timespan + 10m), overridden by --sigma-cron ...
//!
//! [scheduler]                        # detections beyond their deployment's `disabled`
//! enable = ["Windows MSIExec Remote Download"]   # names or globs (selection.rs)
//! disable = []
//!
//! [[scheduler.override]]             # a detection's schedule replaced (selection.rs)
//! detection = "Windows MSIExec*"
//! cron = "*/15 * * * *"
//!
//! [tls]                              # HTTPS (tls.rs)
//! cert = "/etc/vigil/cert.pem"
//! key = "/etc/vigil/key.pem"
//!
//! [[actions]]                        # where alerts go besides the risk index (actions/config.rs)
//! name = "archive"
//! type = "file"
//! path = "/var/log/vigil/alerts.jsonl"
//! ```
//!
//! A top-level `content = ["/etc/vigil/filters"]` adds content layers (filter macros, lookups,
//! detections) over the built-in content and `--content`; it must come before the first table.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    #[serde(default)]
    pub scheduler: crate::selection::Selection,
    #[serde(default)]
    pub store: StoreConfig,
    /// `[[actions]]`: see `actions/config.rs`.
    #[serde(default)]
    pub actions: Vec<crate::actions::ActionConfig>,
    /// `[tls]`: HTTPS with this certificate (see `tls.rs`).
    #[serde(default)]
    pub tls: Option<crate::tls::TlsConfig>,
    /// Content directories loaded over the built-in content and `--content` (later ones
    /// override earlier: filter macros, lookups, detections); read again on reload.
    #[serde(default)]
    pub content: Vec<PathBuf>,
    #[serde(default)]
    pub api: ApiConfig,
    /// `[alerts]`: where notables, risk events, triage and run records are kept.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// `[inputs]`: directories tailed into the store (`tail/`).
    #[serde(default)]
    pub inputs: crate::tail::InputsConfig,
    #[serde(default)]
    pub sigma: SigmaConfig,
    /// `[cluster]`: Kafka brokers, topics and groups of the cluster roles (read by vigil-cluster).
    #[serde(default)]
    pub cluster: Option<toml::Table>,
}

/// `[api]`: the console API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Session cookies carry `Secure` (browsers send them over HTTPS only): for a server
    /// behind a TLS-terminating proxy.
    pub secure_cookies: bool,
}

/// `[alerts]`: the alert store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// A PostgreSQL connection string: the alert store (notables, risk events, incidents,
    /// triage, run records) and the console's users, sessions and API tokens live there,
    /// shared by every process configured with it (reducers, single nodes, `--role api`). Unset: `risk.db` (SQLite) in the data directory.
    pub postgres: Option<String>,
}

impl AlertsConfig {
    /// Opens the configured store: PostgreSQL, else `<data_dir>/risk.db`.
    pub fn open(&self, data_dir: &Path) -> Result<vigil_alert::RiskStore, String> {
        vigil_alert::RiskStore::open_configured(self.postgres_url(), &data_dir.join("risk.db")).map_err(|e| e.to_string())
    }

    /// The PostgreSQL connection string, when one is set (the console's users live there too).
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }
}

/// `[sigma]`: Sigma rules to schedule, and their schedule (the CLI loads and plans them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigmaConfig {
    pub paths: Vec<PathBuf>,
    pub cron: Option<String>,
    pub earliest: Option<String>,
    pub latest: Option<String>,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// A partition whose hour is over and that was not written for this long is sealed
    /// (compressed with zstd).
    pub seal_idle_secs: u64,
    /// Sealed partitions whose hour is older than this are deleted (`"30d"`; `retention.rs`).
    pub max_age: Option<String>,
    /// Past this store size the oldest sealed partitions are deleted (`"10GB"`).
    pub max_size: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { seal_idle_secs: 600, max_age: None, max_size: None }
    }
}

/// `[limits]`: what one client may cost the server. Past each, the client gets HEC's error or
/// backpressure (and a metric), never unbounded memory or a hung server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_event_bytes: usize,
    pub max_queued_events: usize,
    /// Open connections; past it new ones get 503 and are closed (read at start only).
    pub max_connections: usize,
    /// A request's headers (and the wait for the next request on a kept-alive connection)
    /// must arrive within this (read at start only).
    pub header_timeout_secs: u64,
    /// A body gets this long plus one second per `min_body_rate` bytes received: a client
    /// that trickles its body is cut off (read at start only).
    pub body_timeout_secs: u64,
    pub min_body_rate: u64,
    /// HEC request bodies held in memory at once, from the first byte read until their events
    /// are durable (gunzipped size counted too); past it: 503 server busy.
    pub max_inflight_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 << 20,
            max_event_bytes: 1 << 20,
            max_queued_events: 200_000,
            max_connections: 512,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            min_body_rate: 16 << 10,
            max_inflight_body_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub token: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub indexes: Vec<String>,
    #[serde(default)]
    pub default_index: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub ack: bool,
}

/// Loopback only unless configured: 127.0.0.1:8088, Splunk HEC's port.
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8088))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data_dir: None,
            limits: Limits::default(),
            tokens: Vec::new(),
            scheduler: Default::default(),
            store: StoreConfig::default(),
            actions: Vec::new(),
            tls: None,
            content: Vec::new(),
            cluster: None,
            api: ApiConfig::default(),
            alerts: AlertsConfig::default(),
            inputs: Default::default(),
            sigma: SigmaConfig::default(),
        }
    }
}

impl Config {
    /// Reads a config file; errors name the file (and line, from the TOML parser).
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cfg: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (i, t) in cfg.tokens.iter().enumerate() {
            if t.token.trim().is_empty() {
                return Err(format!("{}: tokens[{i}]: empty token", path.display()));
            }
        }
        let l = &cfg.limits;
        if l.max_inflight_body_bytes < l.max_body_bytes {
            return Err(format!(
                "{}: limits: max_inflight_body_bytes ({}) is below max_body_bytes ({}): a full-size body could never be taken",
                path.display(),
                l.max_inflight_body_bytes,
                l.max_body_bytes
            ));
        }
        crate::actions::config::validate_all(&cfg.actions).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(cfg)
    }
}

/// `$XDG_DATA_HOME/vigil`, else `$HOME/.local/share/vigil`.
pub fn default_data_dir() -> Result<PathBuf, String> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local").join("share"),
            None => return Err("no data directory: neither XDG_DATA_HOME nor HOME is set; use --data-dir".into()),
        },
    };
    Ok(base.join("vigil"))
}

/// The token kept in `<data_dir>/hec_token`, generated on first start. Returns it and whether
/// it was just created.
pub fn generated_token(data_dir: &Path) -> Result<(String, bool), String> {
    let path = data_dir.join("hec_token");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let t = text.trim().to_string();
        if !t.is_empty() {
            return Ok((t, false));
        }
    }
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("cannot generate a token: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // The GUID shape Splunk's tokens have, so senders that check it accept ours.
    let token = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
    write_private(&path, &format!("{token}\n")).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((token, true))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_with_tokens_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vigil.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9000\"\n[limits]\nmax_event_bytes = 10\n[[tokens]]\ntoken = \"abc\"\nindexes = [\"main\"]\nack = true\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.limits.max_event_bytes, 10);
        assert_eq!(c.limits.max_body_bytes, Limits::default().max_body_bytes);
        assert!(c.tokens[0].ack);
        std::fs::write(&p, "[limits]\nmax_body_bytes = 100\nmax_inflight_body_bytes = 99\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(e.contains("max_inflight_body_bytes (99) is below max_body_bytes (100)"), "{e}");
        std::fs::write(&p, "listen = \"127.0.0.1:9000\"\nlisten_port = 3\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(e.contains("vigil.toml") && e.contains("listen_port"), "{e}");
    }

    #[test]
    fn the_generated_token_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (t, new) = generated_token(dir.path()).unwrap();
        assert!(new && t.len() == 36, "{t}");
        assert_eq!(generated_token(dir.path()).unwrap(), (t, false));
    }
}
