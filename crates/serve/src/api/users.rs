//! Console users, their sessions and API tokens, in `<data dir>/users.db` (SQLite).
//!
//! Decisions:
//! - Passwords are kept as argon2id PHC strings (the crate's defaults: 19 MiB, 2 passes).
//!   Checking a name that does not exist still runs argon2 on a fixed hash, so the answer's
//!   time does not tell which names exist.
//! - Session ids and API tokens are 256-bit random secrets shown once; the database keeps only
//!   their SHA-256, so a copy of users.db logs nobody in.
//! - Two roles: `analyst` (triage, search) and `admin` (also detections, users, tokens).
//! - `vigil user add` and the server open the same file; SQLite serialises the writers.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vigil_model::Micros;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,                -- argon2id PHC string
    created INTEGER NOT NULL               -- microseconds since the epoch
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,                   -- short public id, for listing and revoking
    hash TEXT NOT NULL UNIQUE,             -- SHA-256 of the secret, hex
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_used INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY,                 -- SHA-256 of the session id, hex
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
PRAGMA foreign_keys = ON;
";

/// Minimum password length.
pub const MIN_PASSWORD: usize = 8;

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
    #[error("users database {path}: {source}")]
    Sql { path: PathBuf, source: rusqlite::Error },
    #[error("{0}")]
    Internal(String),
}

pub struct Users {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// 32 random bytes as hex.
pub fn secret() -> Result<String, UserError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| UserError::Internal(format!("no randomness: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn secs(t: Micros) -> i64 {
    t.div_euclid(1_000_000)
}

/// A name people can type and URLs can carry: 1 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    match ok {
        true => Ok(()),
        false => Err(UserError::Invalid(format!("user name `{name}`: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"))),
    }
}

fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::Invalid(format!("the password must have at least {MIN_PASSWORD} characters")));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UserError::Internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Internal(e.to_string()))?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| UserError::Internal(e.to_string()))
}

/// A valid hash of a password nobody has: checked when the name is unknown (same cost).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3pxOJQqvKqStJ5Xt2Zf4YDr+m9ZOTg7VHwzgnbqXyE8";

fn password_matches(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

impl Users {
    /// Opens (creating) the users database.
    pub fn open(path: &Path) -> Result<Users, UserError> {
        let sql = |source| UserError::Sql { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| UserError::Internal(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        restrict_permissions(path);
        Ok(Users { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    /// `<data dir>/users.db`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("users.db")
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, UserError> {
        let conn = self.conn.lock().map_err(|_| UserError::Internal("users database lock poisoned".into()))?;
        f(&conn).map_err(|source| UserError::Sql { path: self.path.clone(), source })
    }

    pub fn add(&self, name: &str, role: Role, password: &str, now: Micros) -> Result<User, UserError> {
        check_name(name)?;
        let phc = hash_password(password)?;
        let added = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (name, role, password, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), phc, now],
            )
        })?;
        match added {
            0 => Err(UserError::Exists(name.to_string())),
            _ => Ok(User { name: name.to_string(), role, created: secs(now) }),
        }
    }

    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        let phc = hash_password(password)?;
        match self.with(|c| c.execute("UPDATE users SET password = ?2 WHERE name = ?1", params![name, phc]))? {
            0 => Err(UserError::NoUser(name.to_string())),
            // A new password ends the user's sessions.
            _ => self.with(|c| c.execute("DELETE FROM sessions WHERE user = ?1", params![name])).map(|_| ()),
        }
    }

    pub fn set_role(&self, name: &str, role: Role) -> Result<(), UserError> {
        match self.with(|c| c.execute("UPDATE users SET role = ?2 WHERE name = ?1", params![name, role.as_str()]))? {
            0 => Err(UserError::NoUser(name.to_string())),
            _ => Ok(()),
        }
    }

    /// Removes a user with its sessions and tokens.
    pub fn remove(&self, name: &str) -> Result<(), UserError> {
        match self.with(|c| c.execute("DELETE FROM users WHERE name = ?1", params![name]))? {
            0 => Err(UserError::NoUser(name.to_string())),
            _ => Ok(()),
        }
    }

    pub fn list(&self) -> Result<Vec<User>, UserError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT name, role, created FROM users ORDER BY name")?;
            let rows = stmt.query_map([], user_row)?;
            rows.collect()
        })
    }

    pub fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        self.with(|c| c.query_row("SELECT name, role, created FROM users WHERE name = ?1", params![name], user_row).optional())
    }

    /// How many admins there are (the last one cannot be removed or demoted from the API).
    pub fn admins(&self) -> Result<usize, UserError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |r| r.get::<_, i64>(0))).map(|n| n.max(0) as usize)
    }

    /// The user, when `password` is theirs.
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<User>, UserError> {
        let found = self.with(|c| {
            c.query_row("SELECT name, role, created, password FROM users WHERE name = ?1", params![name], |r| {
                Ok((user_row(r)?, r.get::<_, String>(3)?))
            })
            .optional()
        })?;
        Ok(match found {
            Some((user, phc)) => password_matches(&phc, password).then_some(user),
            None => {
                password_matches(DUMMY_HASH, password);
                None
            }
        })
    }

    /// A new API token for `user`; returns it with its secret (shown once).
    pub fn create_token(&self, user: &str, label: &str, now: Micros) -> Result<(TokenInfo, String), UserError> {
        if self.get(user)?.is_none() {
            return Err(UserError::NoUser(user.to_string()));
        }
        let raw = secret()?;
        let id = raw[..12].to_string();
        let token = format!("vigil_{raw}");
        let label = label.trim().chars().take(200).collect::<String>();
        self.with(|c| {
            c.execute(
                "INSERT INTO api_tokens (id, hash, user, label, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, digest(&token), user, label, now],
            )
        })?;
        Ok((TokenInfo { id, user: user.to_string(), label, created: secs(now), last_used: None }, token))
    }

    /// Tokens, of one user or of all.
    pub fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, UserError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, user, label, created, last_used FROM api_tokens WHERE ?1 IS NULL OR user = ?1 ORDER BY created, id",
            )?;
            let rows = stmt.query_map(params![user], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    label: r.get(2)?,
                    created: secs(r.get(3)?),
                    last_used: r.get::<_, Option<i64>>(4)?.map(secs),
                })
            })?;
            rows.collect()
        })
    }

    /// Revokes a token; `owner` restricts to that user's tokens.
    pub fn revoke_token(&self, id: &str, owner: Option<&str>) -> Result<(), UserError> {
        match self.with(|c| c.execute("DELETE FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user = ?2)", params![id, owner]))? {
            0 => Err(UserError::NoToken(id.to_string())),
            _ => Ok(()),
        }
    }

    /// The user an API token belongs to, with the token's id (and notes its use).
    pub fn token_user(&self, token: &str, now: Micros) -> Result<Option<(User, String)>, UserError> {
        let hash = digest(token.trim());
        self.with(|c| {
            let user = c
                .query_row(
                    "SELECT u.name, u.role, u.created, t.id FROM api_tokens t JOIN users u ON u.name = t.user WHERE t.hash = ?1",
                    params![hash],
                    |r| Ok((user_row(r)?, r.get::<_, String>(3)?)),
                )
                .optional()?;
            if user.is_some() {
                c.execute("UPDATE api_tokens SET last_used = ?2 WHERE hash = ?1", params![hash, now])?;
            }
            Ok(user)
        })
    }

    /// Starts a session for `user` lasting `ttl`; returns its id (the secret) and CSRF token.
    pub fn create_session(&self, user: &str, now: Micros, ttl: Micros) -> Result<(String, String), UserError> {
        let (id, csrf) = (secret()?, secret()?);
        self.with(|c| {
            // Expired sessions go when new ones come.
            c.execute("DELETE FROM sessions WHERE expires <= ?1", params![now])?;
            c.execute(
                "INSERT INTO sessions (hash, user, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![digest(&id), user, csrf, now, now.saturating_add(ttl)],
            )
        })?;
        Ok((id, csrf))
    }

    /// The live session with this id.
    pub fn session(&self, id: &str, now: Micros) -> Result<Option<Session>, UserError> {
        self.with(|c| {
            c.query_row(
                "SELECT u.name, u.role, u.created, s.csrf, s.expires FROM sessions s JOIN users u ON u.name = s.user
                 WHERE s.hash = ?1 AND s.expires > ?2",
                params![digest(id), now],
                |r| Ok(Session { user: user_row(r)?, csrf: r.get(3)?, expires: r.get(4)? }),
            )
            .optional()
        })
    }

    pub fn end_session(&self, id: &str) -> Result<(), UserError> {
        self.with(|c| c.execute("DELETE FROM sessions WHERE hash = ?1", params![digest(id)])).map(|_| ())
    }
}

fn user_row(r: &rusqlite::Row) -> rusqlite::Result<User> {
    let role: String = r.get(1)?;
    Ok(User { name: r.get(0)?, role: Role::parse(&role).unwrap_or(Role::Analyst), created: secs(r.get(2)?) })
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Micros = 1_800_000_000_000_000;

    fn users() -> (tempfile::TempDir, Users) {
        let dir = tempfile::tempdir().unwrap();
        let u = Users::open(&Users::path_in(dir.path())).unwrap();
        (dir, u)
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn passwords_are_argon2_and_checked() {
        let (dir, u) = users();
        u.add("ann", Role::Admin, "correct horse", NOW).unwrap();
        assert!(matches!(u.add("ann", Role::Analyst, "another one", NOW), Err(UserError::Exists(_))));
        assert!(matches!(u.add("bob", Role::Analyst, "short", NOW), Err(UserError::Invalid(_))));
        assert!(matches!(u.add("b b", Role::Analyst, "long enough", NOW), Err(UserError::Invalid(_))));
        assert_eq!(u.verify("ann", "correct horse").unwrap().unwrap().role, Role::Admin);
        assert_eq!(u.verify("ann", "wrong horse").unwrap(), None);
        assert_eq!(u.verify("nobody", "correct horse").unwrap(), None);
        // Kept as an argon2id PHC string, never in clear.
        let raw = std::fs::read(Users::path_in(dir.path())).unwrap();
        assert!(raw.windows(9).any(|w| w == b"$argon2id"));
        assert!(!raw.windows(13).any(|w| w == b"correct horse"));
        u.set_password("ann", "battery staple").unwrap();
        assert!(u.verify("ann", "correct horse").unwrap().is_none());
        assert!(u.verify("ann", "battery staple").unwrap().is_some());
    }

    #[test]
    fn tokens_and_sessions() {
        let (_dir, u) = users();
        u.add("ann", Role::Analyst, "correct horse", NOW).unwrap();
        let (info, secret) = u.create_token("ann", "script", NOW).unwrap();
        assert!(secret.starts_with("vigil_") && secret.len() == 70, "{secret}");
        assert_eq!(u.token_user(&secret, NOW + 5_000_000).unwrap().unwrap(), (u.get("ann").unwrap().unwrap(), info.id.clone()));
        assert_eq!(u.token_user("vigil_00", NOW).unwrap(), None);
        assert_eq!(u.tokens(Some("ann")).unwrap()[0].last_used, Some(secs(NOW) + 5));
        assert!(matches!(u.revoke_token(&info.id, Some("bob")), Err(UserError::NoToken(_))));
        u.revoke_token(&info.id, Some("ann")).unwrap();
        assert_eq!(u.token_user(&secret, NOW).unwrap(), None);

        let (sid, csrf) = u.create_session("ann", NOW, 1_000_000).unwrap();
        let s = u.session(&sid, NOW + 1).unwrap().unwrap();
        assert_eq!((s.user.name.as_str(), s.csrf.as_str()), ("ann", csrf.as_str()));
        assert_eq!(u.session(&sid, NOW + 1_000_000).unwrap(), None, "expired");
        let (sid, _) = u.create_session("ann", NOW, 1_000_000).unwrap();
        u.end_session(&sid).unwrap();
        assert_eq!(u.session(&sid, NOW).unwrap(), None);
        // Removing the user ends its sessions and tokens.
        let (sid, _) = u.create_session("ann", NOW, 1_000_000).unwrap();
        let (_, secret) = u.create_token("ann", "", NOW).unwrap();
        u.remove("ann").unwrap();
        assert_eq!(u.session(&sid, NOW).unwrap(), None);
        assert_eq!(u.token_user(&secret, NOW).unwrap(), None);
    }
}
