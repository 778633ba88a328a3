//! Console users, their sessions and API tokens: in `<data dir>/users.db` (SQLite,
//! `users_sqlite.rs`), or with `[alerts] postgres` in the shared PostgreSQL database
//! (`users_postgres.rs`), so every `--role api` process shares logins.
//!
//! Decisions:
//! - Passwords are kept as argon2id PHC strings (the crate's defaults: 19 MiB, 2 passes).
//!   Checking a name that does not exist still runs argon2 on a fixed hash, so the answer's
//!   time does not tell which names exist.
//! - Session ids and API tokens are 256-bit random secrets shown once; the database keeps only
//!   their SHA-256, so a copy of the database logs nobody in.
//! - Two roles: `analyst` (triage, search) and `admin` (also detections, users, tokens).
//! - What is decided here (hashing, secrets, checks) is the same on both backends; a backend
//!   only stores and finds rows (`users_backend.rs`).

use super::users_backend::secs;
use super::users_backend::UserBackend;
pub use super::users_backend::{Role, Session, TokenInfo, User, UserError};
use super::users_postgres::PgUsers;
use super::users_sqlite::SqliteUsers;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vigil_model::Micros;

/// Minimum password length.
pub const MIN_PASSWORD: usize = 8;

pub struct Users {
    backend: Mutex<Box<dyn UserBackend>>,
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
    /// Opens (creating) the users database `users.db` at `path`.
    pub fn open(path: &Path) -> Result<Users, UserError> {
        Ok(Users::on(Box::new(SqliteUsers::open(path)?)))
    }

    /// The users in the PostgreSQL database at `url` (the alert store's).
    pub fn connect(url: &str) -> Result<Users, UserError> {
        Ok(Users::on(Box::new(PgUsers::connect(url)?)))
    }

    /// PostgreSQL when `postgres` is given (`[alerts] postgres`), else `<data_dir>/users.db`.
    pub fn open_configured(postgres: Option<&str>, data_dir: &Path) -> Result<Users, UserError> {
        match postgres {
            Some(url) => Users::connect(url),
            None => Users::open(&Users::path_in(data_dir)),
        }
    }

    fn on(backend: Box<dyn UserBackend>) -> Users {
        Users { backend: Mutex::new(backend) }
    }

    /// `<data dir>/users.db`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("users.db")
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn UserBackend) -> Result<T, UserError>) -> Result<T, UserError> {
        let mut backend = self.backend.lock().map_err(|_| UserError::Internal("users database lock poisoned".into()))?;
        f(backend.as_mut())
    }

    pub fn add(&self, name: &str, role: Role, password: &str, now: Micros) -> Result<User, UserError> {
        check_name(name)?;
        let phc = hash_password(password)?;
        match self.with(|b| b.insert_user(name, role, &phc, now))? {
            false => Err(UserError::Exists(name.to_string())),
            true => Ok(User { name: name.to_string(), role, created: secs(now) }),
        }
    }

    /// Sets a password; the user's sessions end.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        let phc = hash_password(password)?;
        match self.with(|b| b.update_password(name, &phc))? {
            false => Err(UserError::NoUser(name.to_string())),
            true => Ok(()),
        }
    }

    pub fn set_role(&self, name: &str, role: Role) -> Result<(), UserError> {
        match self.with(|b| b.update_role(name, role))? {
            false => Err(UserError::NoUser(name.to_string())),
            true => Ok(()),
        }
    }

    /// Removes a user with its sessions and tokens.
    pub fn remove(&self, name: &str) -> Result<(), UserError> {
        match self.with(|b| b.delete_user(name))? {
            false => Err(UserError::NoUser(name.to_string())),
            true => Ok(()),
        }
    }

    pub fn list(&self) -> Result<Vec<User>, UserError> {
        self.with(|b| b.users())
    }

    pub fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        Ok(self.with(|b| b.user(name))?.map(|(user, _)| user))
    }

    /// How many admins there are (the last one cannot be removed or demoted from the API).
    pub fn admins(&self) -> Result<usize, UserError> {
        self.with(|b| b.admins())
    }

    /// The user, when `password` is theirs.
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<User>, UserError> {
        // The lock is not held while argon2 runs.
        Ok(match self.with(|b| b.user(name))? {
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
        let token = format!("vigil_{raw}");
        let label = label.trim().chars().take(200).collect::<String>();
        let info = TokenInfo { id: raw[..12].to_string(), user: user.to_string(), label, created: secs(now), last_used: None };
        self.with(|b| b.insert_token(&info, &digest(&token), now))?;
        Ok((info, token))
    }

    /// Tokens, of one user or of all.
    pub fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, UserError> {
        self.with(|b| b.tokens(user))
    }

    /// Revokes a token; `owner` restricts to that user's tokens.
    pub fn revoke_token(&self, id: &str, owner: Option<&str>) -> Result<(), UserError> {
        match self.with(|b| b.delete_token(id, owner))? {
            false => Err(UserError::NoToken(id.to_string())),
            true => Ok(()),
        }
    }

    /// The user an API token belongs to, with the token's id (and notes its use).
    pub fn token_user(&self, token: &str, now: Micros) -> Result<Option<(User, String)>, UserError> {
        let hash = digest(token.trim());
        self.with(|b| b.token_user(&hash, now))
    }

    /// Starts a session for `user` lasting `ttl`; returns its id (the secret) and CSRF token.
    pub fn create_session(&self, user: &str, now: Micros, ttl: Micros) -> Result<(String, String), UserError> {
        let (id, csrf) = (secret()?, secret()?);
        self.with(|b| b.insert_session(&digest(&id), user, &csrf, now, now.saturating_add(ttl)))?;
        Ok((id, csrf))
    }

    /// The live session with this id.
    pub fn session(&self, id: &str, now: Micros) -> Result<Option<Session>, UserError> {
        self.with(|b| b.session(&digest(id), now))
    }

    pub fn end_session(&self, id: &str) -> Result<(), UserError> {
        self.with(|b| b.delete_session(&digest(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_alert::scratch::ScratchSchema;

    const NOW: Micros = 1_800_000_000_000_000;

    /// A fresh users database: SQLite in a scratch directory, or PostgreSQL in a scratch
    /// schema (`None` where PostgreSQL is not reachable outside CI: the test skips).
    struct Db {
        dir: tempfile::TempDir,
        schema: Option<ScratchSchema>,
    }

    impl Db {
        fn new(postgres: bool) -> Option<Db> {
            let schema = match postgres {
                true => Some(ScratchSchema::new()?),
                false => None,
            };
            Some(Db { dir: tempfile::tempdir().unwrap(), schema })
        }

        /// A connection, as one more process would open it.
        fn open(&self) -> Users {
            let url = self.schema.as_ref().map(ScratchSchema::url);
            Users::open_configured(url.as_deref(), self.dir.path()).unwrap()
        }
    }

    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => {
            $(
                mod $name {
                    #[test]
                    fn sqlite() {
                        super::$name(super::Db::new(false).unwrap())
                    }
                    #[test]
                    fn postgres() {
                        if let Some(db) = super::Db::new(true) {
                            super::$name(db)
                        }
                    }
                }
            )*
        };
    }

    on_both_backends!(passwords_are_argon2_and_checked, tokens_and_sessions, every_process_sees_the_same_logins);

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    fn passwords_are_argon2_and_checked(db: Db) {
        let u = db.open();
        u.add("ann", Role::Admin, "correct horse", NOW).unwrap();
        assert!(matches!(u.add("ann", Role::Analyst, "another one", NOW), Err(UserError::Exists(_))));
        assert!(matches!(u.add("bob", Role::Analyst, "short", NOW), Err(UserError::Invalid(_))));
        assert!(matches!(u.add("b b", Role::Analyst, "long enough", NOW), Err(UserError::Invalid(_))));
        assert_eq!(u.verify("ann", "correct horse").unwrap().unwrap().role, Role::Admin);
        assert_eq!(u.verify("ann", "wrong horse").unwrap(), None);
        assert_eq!(u.verify("nobody", "correct horse").unwrap(), None);
        // Kept as an argon2id PHC string, never in clear.
        let (_, phc) = u.with(|b| b.user("ann")).unwrap().unwrap();
        assert!(phc.starts_with("$argon2id$") && !phc.contains("correct horse"), "{phc}");
        if db.schema.is_none() {
            let raw = std::fs::read(Users::path_in(db.dir.path())).unwrap();
            assert!(raw.windows(9).any(|w| w == b"$argon2id"));
            assert!(!raw.windows(13).any(|w| w == b"correct horse"));
        }
        u.set_password("ann", "battery staple").unwrap();
        assert!(u.verify("ann", "correct horse").unwrap().is_none());
        assert!(u.verify("ann", "battery staple").unwrap().is_some());
        assert!(matches!(u.set_password("nobody", "battery staple"), Err(UserError::NoUser(_))));
        u.add("bob", Role::Analyst, "long enough", NOW + 1_000_000).unwrap();
        assert_eq!(u.admins().unwrap(), 1);
        u.set_role("bob", Role::Admin).unwrap();
        assert_eq!(u.admins().unwrap(), 2);
        let names: Vec<(String, Role, i64)> = u.list().unwrap().into_iter().map(|u| (u.name, u.role, u.created)).collect();
        assert_eq!(names, [("ann".to_string(), Role::Admin, secs(NOW)), ("bob".to_string(), Role::Admin, secs(NOW) + 1)]);
    }

    fn tokens_and_sessions(db: Db) {
        let u = db.open();
        u.add("ann", Role::Analyst, "correct horse", NOW).unwrap();
        let (info, secret) = u.create_token("ann", "script", NOW).unwrap();
        assert!(secret.starts_with("vigil_") && secret.len() == 70, "{secret}");
        assert_eq!(u.token_user(&secret, NOW + 5_000_000).unwrap().unwrap(), (u.get("ann").unwrap().unwrap(), info.id.clone()));
        assert_eq!(u.token_user("vigil_00", NOW).unwrap(), None);
        assert_eq!(u.tokens(Some("ann")).unwrap()[0].last_used, Some(secs(NOW) + 5));
        assert_eq!(u.tokens(None).unwrap().len(), 1);
        assert!(u.tokens(Some("bob")).unwrap().is_empty());
        assert!(matches!(u.create_token("bob", "", NOW), Err(UserError::NoUser(_))));
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
        assert!(matches!(u.remove("ann"), Err(UserError::NoUser(_))));
    }

    /// Two processes on one database (two API processes on one PostgreSQL): a user added,
    /// a session opened or a token made on one is seen by the other at once, and a password
    /// changed on one ends the sessions the other had opened.
    fn every_process_sees_the_same_logins(db: Db) {
        let (one, two) = (db.open(), db.open());
        one.add("ann", Role::Analyst, "correct horse", NOW).unwrap();
        assert!(two.verify("ann", "correct horse").unwrap().is_some());
        let (sid, csrf) = one.create_session("ann", NOW, 1_000_000).unwrap();
        assert_eq!(two.session(&sid, NOW + 1).unwrap().map(|s| s.csrf), Some(csrf));
        let (_, token) = two.create_token("ann", "", NOW).unwrap();
        assert_eq!(one.token_user(&token, NOW).unwrap().map(|(u, _)| u.name), Some("ann".to_string()));
        two.set_password("ann", "battery staple").unwrap();
        assert_eq!(one.session(&sid, NOW + 1).unwrap(), None, "a new password ends every process's sessions");
        two.end_session(&sid).unwrap();
        assert!(one.verify("ann", "battery staple").unwrap().is_some());
    }
}
