//! The API's shared state, what the server hands it when it starts, and the route table
//! every handler module registers into.

use super::control::DetectionControl;
use super::http::{blocking, ApiError};
use super::search::jobs::Jobs;
use super::{throttle, users};
use crate::admin::Clock;
use crate::ingest::stats::IngestStats;
use axum::routing::MethodRouter;
use axum::Router;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use vigil_alert::RiskStore;
use vigil_model::Micros;

/// How long a console or Splunk-API session lasts.
pub const SESSION_TTL: Micros = 12 * 3_600 * 1_000_000;

/// The API's shared state.
pub struct Api {
    pub users: users::Users,
    pub throttle: throttle::Throttle,
    /// The API's own connection to the alert store (the scheduler writes through another; with
    /// PostgreSQL, other processes too).
    pub risk: Mutex<RiskStore>,
    pub clock: Arc<Clock>,
    pub detections: DetectionControl,
    pub ingest: Arc<IngestStats>,
    pub store_root: PathBuf,
    pub seal_idle_secs: u64,
    pub jobs: Jobs,
    /// Session cookies carry `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
}

/// What the server hands the API when it starts.
pub struct Setup {
    pub data_dir: PathBuf,
    pub clock: Arc<Clock>,
    pub detections: DetectionControl,
    pub ingest: Arc<IngestStats>,
    pub seal_idle_secs: u64,
    pub secure_cookies: bool,
    /// `[alerts]`: the alert store the API reads and triages.
    pub alerts: crate::config::AlertsConfig,
}

impl Api {
    pub fn new(s: Setup) -> Result<Api, String> {
        let users = users::Users::open_configured(s.alerts.postgres_url(), &s.data_dir).map_err(|e| e.to_string())?;
        let risk = s.alerts.open(&s.data_dir)?;
        let store_root = crate::store::store_dir(&s.data_dir);
        let jobs = Jobs::new(s.detections.content(), store_root.clone(), &s.data_dir)?;
        Ok(Api {
            users,
            throttle: throttle::Throttle::default(),
            risk: Mutex::new(risk),
            clock: s.clock,
            detections: s.detections,
            ingest: s.ingest,
            store_root,
            seal_idle_secs: s.seal_idle_secs,
            jobs,
            secure_cookies: s.secure_cookies,
        })
    }

    pub fn now(&self) -> Micros {
        self.clock.now()
    }

    /// Runs `f` with the risk index on a blocking thread.
    pub(crate) async fn with_risk<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut RiskStore) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let api = self.clone();
        blocking(move || {
            let mut risk = api.risk.lock().map_err(|_| ApiError::Internal("risk index lock poisoned".into()))?;
            f(&mut risk)
        })
        .await
    }
}

/// The router's routes with their methods, as registered (the OpenAPI test reads them).
pub struct Routes {
    pub(super) router: Router<Arc<Api>>,
    pub list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    pub(super) fn new() -> Routes {
        Routes { router: Router::new(), list: Vec::new() }
    }

    /// Registers `path` for `methods` (upper case, as listed in the OpenAPI document).
    pub(super) fn add(mut self, path: &'static str, methods: &[&'static str], handler: MethodRouter<Arc<Api>>) -> Routes {
        self.router = self.router.route(path, handler);
        self.list.extend(methods.iter().map(|m| (*m, path)));
        self
    }
}
