//! What a backend of the console's users does (`users_sqlite.rs`, `users_postgres.rs`): the
//! rows [`super::users::Users`] is written on. Passwords arrive hashed and secrets as their
//! SHA-256; the backends only store and find rows.

use serde::Serialize;
use vigil_model::Micros;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Analyst,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, UserError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(UserError::Invalid(format!("role `{other}` is not analyst or admin"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// Epoch seconds.
    pub created: i64,
}

/// An API token as listed (the secret is shown only when created).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub label: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// A logged-in browser or Splunk-API session.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub expires: Micros,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("user `{0}` exists")]
    Exists(String),
    #[error("no user `{0}`")]
    NoUser(String),
    #[error("no API token `{0}`")]
    NoToken(String),
    /// A query failed; `at` is the database (a path, or a server without its password).
    #[error("users database {at}: {message}")]
    Db { at: String, message: String },
    #[error("{0}")]
    Internal(String),
}

/// Seconds of a microsecond time (what users and tokens are listed with).
pub fn secs(t: Micros) -> i64 {
    t.div_euclid(1_000_000)
}

/// A user's row as stored; `created` in microseconds.
pub fn user_of(name: String, role: &str, created: Micros) -> User {
    User { name, role: Role::parse(role).unwrap_or(Role::Analyst), created: secs(created) }
}

/// The rows of users, API tokens and sessions. Every method is one statement or one
/// transaction, so two processes sharing the database see each other's changes at once.
pub trait UserBackend: Send {
    /// Adds a user; false when the name exists.
    fn insert_user(&mut self, name: &str, role: Role, phc: &str, now: Micros) -> Result<bool, UserError>;
    /// Sets a password and ends the user's sessions; false when there is no such user.
    fn update_password(&mut self, name: &str, phc: &str) -> Result<bool, UserError>;
    fn update_role(&mut self, name: &str, role: Role) -> Result<bool, UserError>;
    /// Removes a user with its sessions and tokens.
    fn delete_user(&mut self, name: &str) -> Result<bool, UserError>;
    /// Every user, by name.
    fn users(&mut self) -> Result<Vec<User>, UserError>;
    /// A user with its password's PHC string.
    fn user(&mut self, name: &str) -> Result<Option<(User, String)>, UserError>;
    fn admins(&mut self) -> Result<usize, UserError>;
    fn insert_token(&mut self, info: &TokenInfo, hash: &str, now: Micros) -> Result<(), UserError>;
    /// Tokens of one user or of all, oldest first.
    fn tokens(&mut self, user: Option<&str>) -> Result<Vec<TokenInfo>, UserError>;
    /// False when there is no such token (of `owner`, if given).
    fn delete_token(&mut self, id: &str, owner: Option<&str>) -> Result<bool, UserError>;
    /// The user of the token with this hash, with the token's id; notes the use at `now`.
    fn token_user(&mut self, hash: &str, now: Micros) -> Result<Option<(User, String)>, UserError>;
    /// Adds a session (and drops the expired ones).
    fn insert_session(&mut self, hash: &str, user: &str, csrf: &str, now: Micros, expires: Micros) -> Result<(), UserError>;
    /// The session with this hash, live at `now`.
    fn session(&mut self, hash: &str, now: Micros) -> Result<Option<Session>, UserError>;
    fn delete_session(&mut self, hash: &str) -> Result<(), UserError>;
}
