//! `vigil user`: console users and API tokens of a server: its data directory's users.db, or
//! with the config's `[alerts] postgres` the shared PostgreSQL database.

use crate::exit;
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use vigil_serve::api::users::{Role, Users};
use vigil_serve::config::{default_data_dir, Config};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (prompted twice on a terminal).
    Add {
        name: String,
        /// analyst (triage, search) or admin (also detections, users, tokens).
        #[arg(long, default_value = "analyst")]
        role: String,
        #[command(flatten)]
        at: DataDirArgs,
    },
    /// Set a user's password (read as for `add`); their sessions end.
    Passwd {
        name: String,
        #[command(flatten)]
        at: DataDirArgs,
    },
    /// Remove a user with their sessions and API tokens.
    Remove {
        name: String,
        #[command(flatten)]
        at: DataDirArgs,
    },
    /// List users and their API tokens (ids, not secrets).
    List {
        #[command(flatten)]
        at: DataDirArgs,
    },
    /// Create an API token for a user and print it (shown this once) for
    /// `Authorization: Bearer <token>`.
    Token {
        name: String,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        at: DataDirArgs,
    },
}

/// Which server's users: its data directory, given or as `vigil serve` finds it.
#[derive(Args)]
pub struct DataDirArgs {
    /// The server's data directory (default: the config's `data_dir`, else $XDG_DATA_HOME/vigil).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The server's configuration file (its `data_dir`; with `[alerts] postgres` the users are
    /// in that database, shared by every process configured with it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DataDirArgs {
    fn users(&self) -> Result<Users, String> {
        let config = self.config.as_deref().map(Config::load).transpose()?;
        let postgres = config.as_ref().and_then(|c| c.alerts.postgres_url()).map(str::to_string);
        let dir = match self.data_dir.clone().or(config.and_then(|c| c.data_dir)) {
            Some(d) => d,
            None => default_data_dir()?,
        };
        Users::open_configured(postgres.as_deref(), &dir).map_err(|e| e.to_string())
    }
}

pub fn run(cmd: UserCommand) -> u8 {
    match run_inner(cmd) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("vigil: {e}");
            exit::USAGE
        }
    }
}

/// The new password: prompted twice without echo on a terminal, else the first line of stdin.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Password again: ").map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn run_inner(cmd: UserCommand) -> Result<(), String> {
    let now = vigil_time::now_micros();
    match cmd {
        UserCommand::Add { name, role, at } => {
            let role = Role::parse(&role).map_err(|e| e.to_string())?;
            let users = at.users()?;
            vigil_serve::api::users::check_name(&name).map_err(|e| e.to_string())?;
            let password = read_password()?;
            users.add(&name, role, &password, now).map_err(|e| e.to_string())?;
            eprintln!("vigil: added {} user `{name}`", role.as_str());
        }
        UserCommand::Passwd { name, at } => {
            let users = at.users()?;
            if users.get(&name).map_err(|e| e.to_string())?.is_none() {
                return Err(format!("no user `{name}`"));
            }
            users.set_password(&name, &read_password()?).map_err(|e| e.to_string())?;
            eprintln!("vigil: password of `{name}` changed; their sessions ended");
        }
        UserCommand::Remove { name, at } => {
            at.users()?.remove(&name).map_err(|e| e.to_string())?;
            eprintln!("vigil: removed `{name}` with their sessions and tokens");
        }
        UserCommand::List { at } => {
            let users = at.users()?;
            let tokens = users.tokens(None).map_err(|e| e.to_string())?;
            for u in users.list().map_err(|e| e.to_string())? {
                let mine: Vec<String> =
                    tokens.iter().filter(|t| t.user == u.name).map(|t| format!("{} {}", t.id, t.label).trim().to_string()).collect();
                println!("{}\t{}\ttokens: {}", u.name, u.role.as_str(), if mine.is_empty() { "-".into() } else { mine.join(", ") });
            }
        }
        UserCommand::Token { name, label, at } => {
            let (info, token) = at.users()?.create_token(&name, &label, now).map_err(|e| e.to_string())?;
            println!("{token}");
            eprintln!("vigil: API token {} for `{name}` (shown once; send it as Authorization: Bearer <token>)", info.id);
        }
    }
    Ok(())
}
