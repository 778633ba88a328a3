-- The console's users, API tokens and sessions (vigil-serve: api/users.rs, users_postgres.rs),
-- kept here with `[alerts] postgres` so every `--role api` process shares logins. The same
-- tables as a single node's users.db (api/users_sqlite.rs); `user` is reserved in PostgreSQL,
-- so the owner column is `user_name`. Secrets are stored as their SHA-256, passwords as
-- argon2id PHC strings; times are microseconds since the epoch.
CREATE TABLE console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE TABLE console_api_tokens (
    id TEXT PRIMARY KEY,                   -- short public id, for listing and revoking
    hash TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_used BIGINT
);
CREATE TABLE console_sessions (
    hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions(expires);
