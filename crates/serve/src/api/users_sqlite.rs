//! The console's users in `<data dir>/users.db` (SQLite), the single-node default.
//! `vigil user add` and the server open the same file; SQLite serialises the writers.

use super::users_backend::{secs, user_of, Role, Session, TokenInfo, User, UserBackend, UserError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
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

pub struct SqliteUsers {
    conn: Connection,
    at: String,
}

impl SqliteUsers {
    /// Opens (creating) the users database, readable by its owner only.
    pub fn open(path: &Path) -> Result<SqliteUsers, UserError> {
        let at = path.display().to_string();
        let sql = |e: rusqlite::Error| UserError::Db { at: at.clone(), message: e.to_string() };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| UserError::Internal(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        restrict_permissions(path);
        Ok(SqliteUsers { conn, at })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, UserError> {
        f(&self.conn).map_err(|e| UserError::Db { at: self.at.clone(), message: e.to_string() })
    }
}

fn user_row(r: &rusqlite::Row) -> rusqlite::Result<User> {
    Ok(user_of(r.get(0)?, &r.get::<_, String>(1)?, r.get(2)?))
}

impl UserBackend for SqliteUsers {
    fn insert_user(&mut self, name: &str, role: Role, phc: &str, now: Micros) -> Result<bool, UserError> {
        let sql = "INSERT OR IGNORE INTO users (name, role, password, created) VALUES (?1, ?2, ?3, ?4)";
        self.with(|c| c.execute(sql, params![name, role.as_str(), phc, now])).map(|n| n > 0)
    }

    fn update_password(&mut self, name: &str, phc: &str) -> Result<bool, UserError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let n = tx.execute("UPDATE users SET password = ?2 WHERE name = ?1", params![name, phc])?;
            tx.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn update_role(&mut self, name: &str, role: Role) -> Result<bool, UserError> {
        self.with(|c| c.execute("UPDATE users SET role = ?2 WHERE name = ?1", params![name, role.as_str()])).map(|n| n > 0)
    }

    fn delete_user(&mut self, name: &str) -> Result<bool, UserError> {
        self.with(|c| c.execute("DELETE FROM users WHERE name = ?1", params![name])).map(|n| n > 0)
    }

    fn users(&mut self) -> Result<Vec<User>, UserError> {
        self.with(|c| c.prepare_cached("SELECT name, role, created FROM users ORDER BY name")?.query_map([], user_row)?.collect())
    }

    fn user(&mut self, name: &str) -> Result<Option<(User, String)>, UserError> {
        let sql = "SELECT name, role, created, password FROM users WHERE name = ?1";
        self.with(|c| c.query_row(sql, params![name], |r| Ok((user_row(r)?, r.get(3)?))).optional())
    }

    fn admins(&mut self) -> Result<usize, UserError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |r| r.get::<_, i64>(0))).map(|n| n.max(0) as usize)
    }

    fn insert_token(&mut self, info: &TokenInfo, hash: &str, now: Micros) -> Result<(), UserError> {
        let sql = "INSERT INTO api_tokens (id, hash, user, label, created) VALUES (?1, ?2, ?3, ?4, ?5)";
        self.with(|c| c.execute(sql, params![info.id, hash, info.user, info.label, now])).map(|_| ())
    }

    fn tokens(&mut self, user: Option<&str>) -> Result<Vec<TokenInfo>, UserError> {
        let sql = "SELECT id, user, label, created, last_used FROM api_tokens WHERE ?1 IS NULL OR user = ?1 ORDER BY created, id";
        self.with(|c| {
            let mut stmt = c.prepare_cached(sql)?;
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

    fn delete_token(&mut self, id: &str, owner: Option<&str>) -> Result<bool, UserError> {
        let sql = "DELETE FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user = ?2)";
        self.with(|c| c.execute(sql, params![id, owner])).map(|n| n > 0)
    }

    fn token_user(&mut self, hash: &str, now: Micros) -> Result<Option<(User, String)>, UserError> {
        let sql = "SELECT u.name, u.role, u.created, t.id FROM api_tokens t JOIN users u ON u.name = t.user WHERE t.hash = ?1";
        self.with(|c| {
            let user = c.query_row(sql, params![hash], |r| Ok((user_row(r)?, r.get::<_, String>(3)?))).optional()?;
            if user.is_some() {
                c.execute("UPDATE api_tokens SET last_used = ?2 WHERE hash = ?1", params![hash, now])?;
            }
            Ok(user)
        })
    }

    fn insert_session(&mut self, hash: &str, user: &str, csrf: &str, now: Micros, expires: Micros) -> Result<(), UserError> {
        self.with(|c| {
            // Expired sessions go when new ones come.
            c.execute("DELETE FROM sessions WHERE expires <= ?1", params![now])?;
            c.execute(
                "INSERT INTO sessions (hash, user, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, user, csrf, now, expires],
            )
        })
        .map(|_| ())
    }

    fn session(&mut self, hash: &str, now: Micros) -> Result<Option<Session>, UserError> {
        let sql = "SELECT u.name, u.role, u.created, s.csrf, s.expires FROM sessions s JOIN users u ON u.name = s.user
                   WHERE s.hash = ?1 AND s.expires > ?2";
        self.with(|c| {
            c.query_row(sql, params![hash, now], |r| Ok(Session { user: user_row(r)?, csrf: r.get(3)?, expires: r.get(4)? })).optional()
        })
    }

    fn delete_session(&mut self, hash: &str) -> Result<(), UserError> {
        self.with(|c| c.execute("DELETE FROM sessions WHERE hash = ?1", params![hash])).map(|_| ())
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}
