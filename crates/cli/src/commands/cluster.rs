//! `vigil cluster`: operating a cluster on Kafka (`[cluster]` in the config); see vigil-cluster.

use crate::exit;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Members of the worker and reducer groups, their partitions, the lag per partition
    /// (committed offset vs high watermark) and the oldest open window (from checkpoints).
    Status(StatusArgs),
}

#[derive(Args)]
pub struct StatusArgs {
    /// The cluster's configuration file (its `[cluster]` table).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: ClusterCommand) -> u8 {
    let ClusterCommand::Status(args) = cmd;
    let status = vigil_serve::config::Config::load(&args.config)
        .and_then(|config| vigil_cluster::ClusterConfig::from_table(config.cluster.as_ref()))
        .and_then(|cfg| vigil_cluster::status::read(&cfg));
    match status {
        Ok(s) if args.json => match serde_json::to_string_pretty(&s) {
            Ok(text) => {
                println!("{text}");
                exit::OK
            }
            Err(e) => {
                eprintln!("vigil: {e}");
                exit::USAGE
            }
        },
        Ok(s) => {
            print!("{}", vigil_cluster::status::render(&s));
            exit::OK
        }
        Err(e) => {
            eprintln!("vigil: {e}");
            exit::USAGE
        }
    }
}
