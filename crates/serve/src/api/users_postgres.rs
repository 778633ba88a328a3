//! The console's users in PostgreSQL (`[alerts] postgres`): the database of the shared alert
//! store, so every `--role api` process (and `vigil user` with the same config) sees the same
//! users, tokens and sessions: a login on one API process is valid on all of them.
//!
//! The tables are vigil-alert's migration `003_console_users.sql` (one migration list per
//! database, applied on connect by `vigil_alert::PgConnection`); they are users.db's, with
//! `user` (reserved in PostgreSQL) spelled `user_name`.

use super::users_backend::{secs, user_of, Role, Session, TokenInfo, User, UserBackend, UserError};
use postgres::types::ToSql;
use postgres::Row;
use vigil_alert::PgConnection;
use vigil_model::Micros;

pub struct PgUsers {
    conn: PgConnection,
}

impl PgUsers {
    pub fn connect(url: &str) -> Result<PgUsers, UserError> {
        let conn = PgConnection::connect(url).map_err(|e| UserError::Internal(e.to_string()))?;
        Ok(PgUsers { conn })
    }

    fn db(&self, e: impl std::fmt::Display) -> UserError {
        UserError::Db { at: self.conn.describe().to_string(), message: e.to_string() }
    }

    fn query(&mut self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, UserError> {
        let client = self.conn.client().map_err(|e| UserError::Internal(e.to_string()))?;
        let rows = client.query(sql, args);
        rows.map_err(|e| self.db(e))
    }

    fn execute(&mut self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64, UserError> {
        let client = self.conn.client().map_err(|e| UserError::Internal(e.to_string()))?;
        let n = client.execute(sql, args);
        n.map_err(|e| self.db(e))
    }
}

fn user_row(r: &Row) -> Result<User, postgres::Error> {
    Ok(user_of(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
}

impl UserBackend for PgUsers {
    fn insert_user(&mut self, name: &str, role: Role, phc: &str, now: Micros) -> Result<bool, UserError> {
        let sql = "INSERT INTO console_users (name, role, password, created) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING";
        self.execute(sql, &[&name, &role.as_str(), &phc, &now]).map(|n| n > 0)
    }

    fn update_password(&mut self, name: &str, phc: &str) -> Result<bool, UserError> {
        let client = self.conn.client().map_err(|e| UserError::Internal(e.to_string()))?;
        let done = (|| {
            let mut tx = client.transaction()?;
            let n = tx.execute("UPDATE console_users SET password = $2 WHERE name = $1", &[&name, &phc])?;
            tx.execute("DELETE FROM console_sessions WHERE user_name = $1", &[&name])?;
            tx.commit()?;
            Ok::<_, postgres::Error>(n > 0)
        })();
        done.map_err(|e| self.db(e))
    }

    fn update_role(&mut self, name: &str, role: Role) -> Result<bool, UserError> {
        self.execute("UPDATE console_users SET role = $2 WHERE name = $1", &[&name, &role.as_str()]).map(|n| n > 0)
    }

    fn delete_user(&mut self, name: &str) -> Result<bool, UserError> {
        self.execute("DELETE FROM console_users WHERE name = $1", &[&name]).map(|n| n > 0)
    }

    fn users(&mut self) -> Result<Vec<User>, UserError> {
        let rows = self.query("SELECT name, role, created FROM console_users ORDER BY name", &[])?;
        rows.iter().map(user_row).collect::<Result<_, _>>().map_err(|e| self.db(e))
    }

    fn user(&mut self, name: &str) -> Result<Option<(User, String)>, UserError> {
        let rows = self.query("SELECT name, role, created, password FROM console_users WHERE name = $1", &[&name])?;
        rows.first().map(|r| Ok((user_row(r)?, r.try_get(3)?))).transpose().map_err(|e: postgres::Error| self.db(e))
    }

    fn admins(&mut self) -> Result<usize, UserError> {
        let rows = self.query("SELECT COUNT(*) FROM console_users WHERE role = 'admin'", &[])?;
        let n: i64 = rows.first().map_or(Ok(0), |r| r.try_get(0)).map_err(|e| self.db(e))?;
        Ok(n.max(0) as usize)
    }

    fn insert_token(&mut self, info: &TokenInfo, hash: &str, now: Micros) -> Result<(), UserError> {
        let sql = "INSERT INTO console_api_tokens (id, hash, user_name, label, created) VALUES ($1, $2, $3, $4, $5)";
        self.execute(sql, &[&info.id, &hash, &info.user, &info.label, &now]).map(|_| ())
    }

    fn tokens(&mut self, user: Option<&str>) -> Result<Vec<TokenInfo>, UserError> {
        let sql = "SELECT id, user_name, label, created, last_used FROM console_api_tokens
                   WHERE $1::TEXT IS NULL OR user_name = $1 ORDER BY created, id";
        let rows = self.query(sql, &[&user])?;
        let token = |r: &Row| -> Result<TokenInfo, postgres::Error> {
            Ok(TokenInfo {
                id: r.try_get(0)?,
                user: r.try_get(1)?,
                label: r.try_get(2)?,
                created: secs(r.try_get(3)?),
                last_used: r.try_get::<_, Option<i64>>(4)?.map(secs),
            })
        };
        rows.iter().map(token).collect::<Result<_, _>>().map_err(|e| self.db(e))
    }

    fn delete_token(&mut self, id: &str, owner: Option<&str>) -> Result<bool, UserError> {
        let sql = "DELETE FROM console_api_tokens WHERE id = $1 AND ($2::TEXT IS NULL OR user_name = $2)";
        self.execute(sql, &[&id, &owner]).map(|n| n > 0)
    }

    fn token_user(&mut self, hash: &str, now: Micros) -> Result<Option<(User, String)>, UserError> {
        // One statement: the use is noted and the user read together.
        let sql = "UPDATE console_api_tokens t SET last_used = $2 FROM console_users u
                   WHERE t.hash = $1 AND u.name = t.user_name RETURNING u.name, u.role, u.created, t.id";
        let rows = self.query(sql, &[&hash, &now])?;
        rows.first().map(|r| Ok((user_row(r)?, r.try_get(3)?))).transpose().map_err(|e: postgres::Error| self.db(e))
    }

    fn insert_session(&mut self, hash: &str, user: &str, csrf: &str, now: Micros, expires: Micros) -> Result<(), UserError> {
        // Expired sessions go when new ones come.
        self.execute("DELETE FROM console_sessions WHERE expires <= $1", &[&now])?;
        let sql = "INSERT INTO console_sessions (hash, user_name, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)";
        self.execute(sql, &[&hash, &user, &csrf, &now, &expires]).map(|_| ())
    }

    fn session(&mut self, hash: &str, now: Micros) -> Result<Option<Session>, UserError> {
        let sql = "SELECT u.name, u.role, u.created, s.csrf, s.expires FROM console_sessions s
                   JOIN console_users u ON u.name = s.user_name WHERE s.hash = $1 AND s.expires > $2";
        let rows = self.query(sql, &[&hash, &now])?;
        let session = |r: &Row| -> Result<Session, postgres::Error> {
            Ok(Session { user: user_row(r)?, csrf: r.try_get(3)?, expires: r.try_get(4)? })
        };
        rows.first().map(session).transpose().map_err(|e| self.db(e))
    }

    fn delete_session(&mut self, hash: &str) -> Result<(), UserError> {
        self.execute("DELETE FROM console_sessions WHERE hash = $1", &[&hash]).map(|_| ())
    }
}
