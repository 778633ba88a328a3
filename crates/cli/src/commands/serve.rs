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
    /// Address to listen on (default 127.0.0.1:8088, or the config's `listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Where events, the generated token and run records are kept (default: the config's
    /// `data_dir`, else $XDG_DATA_HOME/vigil, else ~/.local/share/vigil).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub content: ContentArgs,
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
    let mut config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    let data_dir = match args.data_dir.clone().or_else(|| config.data_dir.clone()) {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let content = super::load_content(&args.content, false)?;
    eprintln!(
        "vigil serve: content: {} detection(s) loaded (scheduled runs are not part of this version yet: events are kept, not yet searched)",
        content.detections().len()
    );
    vigil_serve::run(vigil_serve::Options { config, data_dir })
}
