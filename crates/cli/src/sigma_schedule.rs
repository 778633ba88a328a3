//! Sigma rules on a schedule (`backtest`, `serve`): Sigma has no schedule of its own, so each
//! rule gets the documented default, as ESCU's TTP detections have: every hour at minute 0
//! over `-70m@m` to `-10m@m` (ten minutes for late events). A correlation whose `timespan`
//! is longer than that hour looks back `timespan + 10m` instead, so one run can see a whole
//! window. `--sigma-cron`/`--sigma-earliest`/`--sigma-latest` (or the serve config's
//! `[sigma]`) set another schedule for every rule.

use crate::sigma::{Planned, SigmaSet};
use clap::Args;
use vigil_content::{Detection, Scheduling};
use vigil_engine::{Planner, Query};

pub const DEFAULT_CRON: &str = "0 * * * *";
pub const DEFAULT_EARLIEST: &str = "-70m@m";
pub const DEFAULT_LATEST: &str = "-10m@m";
/// The default window's length, which a correlation's timespan may exceed.
const DEFAULT_WINDOW_SECS: f64 = 3600.0;

/// The schedule Sigma rules run on.
#[derive(Args, Clone, Debug, Default)]
pub struct SigmaScheduleArgs {
    /// Cron schedule of every Sigma rule (default `0 * * * *`).
    #[arg(long, value_name = "CRON")]
    pub sigma_cron: Option<String>,
    /// Window start of every Sigma run, relative to its scheduled time (default `-70m@m`;
    /// correlations with a longer timespan look back timespan + 10m).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub sigma_earliest: Option<String>,
    /// Window end of every Sigma run (default `-10m@m`).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub sigma_latest: Option<String>,
}

impl SigmaScheduleArgs {
    /// The schedule of one rule or correlation (`timespan`: a correlation's, in seconds).
    fn scheduling(&self, timespan: Option<f64>) -> Scheduling {
        let earliest = match (&self.sigma_earliest, timespan) {
            (Some(e), _) => e.clone(),
            (None, Some(t)) if t > DEFAULT_WINDOW_SECS => format!("-{}m@m", (t / 60.0).ceil() as u64 + 10),
            (None, _) => DEFAULT_EARLIEST.to_string(),
        };
        Scheduling {
            cron_schedule: Some(self.sigma_cron.clone().unwrap_or_else(|| DEFAULT_CRON.to_string())),
            earliest_time: Some(earliest),
            latest_time: Some(self.sigma_latest.clone().unwrap_or_else(|| DEFAULT_LATEST.to_string())),
            ..Default::default()
        }
    }
}

/// The loaded Sigma rules and correlations (those `names` selects, when given) as scheduled
/// detections with their planned queries; those that do not plan are reported.
pub fn scheduled(
    set: &SigmaSet,
    planner: &mut Planner,
    names: &[String],
    schedule: &SigmaScheduleArgs,
    verbose: bool,
) -> Vec<(Detection, Query)> {
    let (queries, planned, broken) = crate::sigma::plan(set, planner, names);
    crate::sigma::report(set, &broken, verbose);
    planned
        .iter()
        .zip(queries)
        .map(|(p, q)| {
            let mut d = crate::sigma::as_detection(p.meta());
            let timespan = match p {
                Planned::Correlation(c) => Some(c.spec.timespan_secs),
                Planned::Rule(_) => None,
            };
            if let Some(dep) = d.deployment.as_mut() {
                dep.scheduling = schedule.scheduling(timespan);
            }
            (d, q)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_and_long_correlations() {
        let s = SigmaScheduleArgs::default();
        let rule = s.scheduling(None);
        assert_eq!(
            (rule.cron_schedule.as_deref(), rule.earliest_time.as_deref(), rule.latest_time.as_deref()),
            (Some("0 * * * *"), Some("-70m@m"), Some("-10m@m"))
        );
        assert_eq!(s.scheduling(Some(600.0)).earliest_time.as_deref(), Some("-70m@m"));
        assert_eq!(s.scheduling(Some(86400.0)).earliest_time.as_deref(), Some("-1450m@m"));
        let custom = SigmaScheduleArgs { sigma_cron: Some("*/5 * * * *".into()), sigma_earliest: Some("-5m".into()), sigma_latest: None };
        assert_eq!(custom.scheduling(Some(86400.0)).earliest_time.as_deref(), Some("-5m"));
        assert_eq!(custom.scheduling(None).cron_schedule.as_deref(), Some("*/5 * * * *"));
    }
}
