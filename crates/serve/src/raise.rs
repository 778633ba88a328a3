//! A run's results to alerts: each detection's rows become notables and risk events, queued
//! for the alert actions and recorded in the risk index as soon as that detection is finished,
//! and dropped before the next one, so a run holds at most one detection's results. The
//! incident rules run once, after the run's last detection.

use crate::actions::Actions;
use crate::metrics;
use crate::run_record::RunRecord;
use std::sync::Arc;
use vigil_alert::{Alert, AlertContext, IncidentRules, RiskStore};
use vigil_content::{ContentSet, Detection};
use vigil_model::Micros;
use vigil_time::Window;

/// One detection's results in a run; a Correlation run's carry the risk events it read.
pub(crate) struct RunHit {
    pub name: String,
    pub rows: Vec<vigil_model::Record>,
    pub risk_input: Option<Arc<Vec<serde_json::Value>>>,
}

/// What turns one run's results into alerts, and where they go.
pub(crate) struct Raiser<'a> {
    pub content: &'a ContentSet,
    /// Detections planned by the caller (Sigma rules), not in `content`.
    pub extra_detections: &'a [Detection],
    pub risk: &'a mut RiskStore,
    pub actions: Option<&'a Actions>,
    pub tick: Micros,
    pub window: Window,
}

impl Raiser<'_> {
    /// One detection's results to notables and risk events: queued for the actions, then
    /// recorded in the risk index (counted in `rec`).
    pub fn raise(&mut self, hit: RunHit, rec: &mut RunRecord, errors: &mut Vec<String>) {
        rec.results += hit.rows.len();
        let alerts = self.alerts(&hit);
        drop(hit);
        let notables = alerts.iter().filter(|a| matches!(a, Alert::Notable(_))).count();
        rec.notables += notables;
        rec.risk_events += alerts.len() - notables;
        metrics::global().alerts(notables as u64, (alerts.len() - notables) as u64);
        // Queued before they are recorded: a run repeated after a crash queues only what is
        // missing (see actions/outbox.rs).
        rec.actions_queued += self.queue_actions(&alerts, errors);
        match self.risk.record(&alerts) {
            Ok(new) => rec.new_alerts += new,
            Err(e) => errors.push(format!("risk index: {e}")),
        }
    }

    /// The incident rules over the risk index, after the run's alerts were recorded.
    pub fn incidents(&mut self, rec: &mut RunRecord, errors: &mut Vec<String>) {
        match self.risk.evaluate_incidents(self.tick, &IncidentRules::default()) {
            Ok(incidents) => rec.actions_queued += self.queue_actions(&incidents, errors),
            Err(e) => errors.push(format!("risk index: {e}")),
        }
    }

    fn alerts(&self, hit: &RunHit) -> Vec<Alert> {
        let by_name = |d: &&Detection| d.name == hit.name;
        let Some(det) = self.content.detection(&hit.name).or_else(|| self.extra_detections.iter().find(by_name)) else {
            return Vec::new();
        };
        let search = vigil_spl::expand_macros(&det.search, self.content, &vigil_spl::ExpandLimits::default()).ok();
        let actx = AlertContext::scheduled_run(search, self.tick, (self.window.earliest, self.window.latest));
        vigil_alert::build_alerts_with_risk(
            det,
            self.content.deployment_for(det),
            &hit.rows,
            &actx,
            hit.risk_input.as_deref().map(Vec::as_slice),
        )
    }

    fn queue_actions(&self, alerts: &[Alert], errors: &mut Vec<String>) -> usize {
        let Some(actions) = self.actions else { return 0 };
        actions.enqueue(alerts).unwrap_or_else(|e| {
            errors.push(format!("actions: {e}"));
            0
        })
    }
}
