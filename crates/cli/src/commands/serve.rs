//! `vigil serve`: the server (Splunk HEC ingest into a durable event store); see vigil-serve.

use crate::{exit, ContentArgs};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use vigil_serve::config::{default_data_dir, Config};

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (listen address, data directory, HEC tokens, limits).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8088, or the config's `listen`); for
    /// `--role worker|reducer`, where /metrics is served (over `[cluster] metrics_listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Where events, the generated token and run records are kept (default: the config's
    /// `data_dir`, else $XDG_DATA_HOME/vigil, else ~/.local/share/vigil).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub content: ContentArgs,
    /// Also schedule this detection although its deployment says `disabled: true`
    /// (repeatable; adds to the config's `[scheduler] enable`).
    #[arg(long = "enable", value_name = "NAME")]
    pub enable: Vec<String>,
    /// Test clock: the server's time starts here (epoch seconds or ISO 8601) and
    /// `POST /vigil/clock?to=TIME` moves it forward, running the ticks it passes.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub now: Option<String>,
    #[command(flatten)]
    pub sigma_schedule: crate::sigma_schedule::SigmaScheduleArgs,
    /// Cluster mode on Kafka (`[cluster]` in the config): `ingest` (HEC into the events
    /// topic), `worker` (events into window partials) or `reducer` (partials into alerts);
    /// `api`: the console and API alone over the alert store (`[alerts] postgres`), without
    /// ingest or scheduler, so several processes show the same alerts.
    #[arg(long, value_enum, value_name = "ROLE")]
    pub role: Option<Role>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Role {
    Ingest,
    Worker,
    Reducer,
    Api,
}

pub fn run(args: ServeArgs) -> u8 {
    match serve(args) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("vigil: {e}");
            exit::USAGE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    // Applied over the config file at start and at every reload.
    let (listen, enable) = (args.listen, args.enable.clone());
    let apply_flags = move |config: &mut Config| {
        if let Some(l) = listen {
            config.listen = l;
        }
        config.scheduler.enable.extend(enable.iter().cloned());
    };
    let layers = args.content.clone();
    let load_content = move |extra: &[PathBuf]| {
        let mut args = layers.clone();
        args.content.extend(extra.iter().cloned());
        super::load_content(&args, false)
    };
    let source = vigil_serve::reload::Source {
        config_path: args.config.clone(),
        apply_flags: Box::new(apply_flags),
        load_content: Box::new(load_content),
    };
    let config = source.config()?;
    let data_dir = match args.data_dir.clone().or_else(|| config.data_dir.clone()) {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let content = (source.load_content)(&config.content)?;
    let now = match &args.now {
        Some(t) => Some(crate::window::parse_now("--now", t, &vigil_time::Tz::utc())?),
        None => None,
    };
    let selection = config.scheduler.clone();
    if let Some(role) = args.role {
        let kind = match role {
            Role::Ingest => vigil_cluster::RoleKind::Ingest,
            Role::Worker => vigil_cluster::RoleKind::Worker,
            Role::Reducer => vigil_cluster::RoleKind::Reducer,
            Role::Api => {
                let extra = std::sync::Arc::new(Vec::new);
                return vigil_serve::run_api(vigil_serve::Options { config, data_dir, content, selection, now, reload: source, extra });
            }
        };
        // Workers and reducers plan the same rules alike (a schedule's identity depends on it).
        let (sigma, schedule) = sigma_rules(&args, &config)?;
        let normalizer = super::normalizer()?;
        let mut planner = vigil_engine::Planner::new(normalizer.catalog(), &content);
        let extra = crate::sigma_schedule::scheduled(&sigma, &mut planner, &[], &schedule, false);
        let listen = args.listen;
        return vigil_cluster::run(kind, vigil_cluster::Options { config, data_dir, content, selection, now, listen, extra });
    }
    let (sigma, schedule) = sigma_rules(&args, &config)?;
    let normalizer = super::normalizer()?;
    let planned_with = content.clone();
    // Planned at start and again at each reload (unchanged rules keep their engines).
    let extra: vigil_serve::schedule::ExtraDetections = std::sync::Arc::new(move || {
        let mut planner = vigil_engine::Planner::new(normalizer.catalog(), &planned_with);
        crate::sigma_schedule::scheduled(&sigma, &mut planner, &[], &schedule, false)
    });
    vigil_serve::run(vigil_serve::Options { config, data_dir, content, selection, now, reload: source, extra })
}

/// Sigma rules (--sigma and the config's [sigma] paths) and the schedule they run on.
fn sigma_rules(
    args: &ServeArgs,
    config: &vigil_serve::config::Config,
) -> Result<(crate::sigma::SigmaSet, crate::sigma_schedule::SigmaScheduleArgs), String> {
    let mut sigma_paths = config.sigma.paths.clone();
    sigma_paths.extend(args.content.sigma.iter().cloned());
    let sigma = crate::sigma::load(&sigma_paths)?;
    let schedule = crate::sigma_schedule::SigmaScheduleArgs {
        sigma_cron: args.sigma_schedule.sigma_cron.clone().or_else(|| config.sigma.cron.clone()),
        sigma_earliest: args.sigma_schedule.sigma_earliest.clone().or_else(|| config.sigma.earliest.clone()),
        sigma_latest: args.sigma_schedule.sigma_latest.clone().or_else(|| config.sigma.latest.clone()),
    };
    Ok((sigma, schedule))
}
