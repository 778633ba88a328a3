//! The PostgreSQL backend of the alert store (`[alerts] postgres = "postgres://..."`): one
//! database shared by every process of a deployment, so reducers and single nodes write the
//! alerts that every `--role api` process shows.
//!
//! Decisions:
//! - The schema is the SQLite one (same tables, same UNIQUE `event_hash`), written as numbered
//!   SQL files in `migrations/postgres/` and applied on connect, all pending ones in one
//!   transaction, each recorded in `schema_migrations`. A transaction-level advisory lock
//!   serialises processes starting at once: the second waits, then finds nothing to do.
//! - Inserts are `ON CONFLICT (event_hash) DO NOTHING`: two reducers recording the same alert
//!   store it once, and each is told how many rows were new.
//! - The incident rules hold a session advisory lock while they evaluate, so two processes
//!   evaluating at once do not both raise a throttled incident. A process that dies releases
//!   it with its connection.
//! - The connection is without TLS (`NoTls`): the store is meant for a database on the
//!   deployment's own network or a local socket.

use crate::alert::Alert;
use crate::backend::{rows, Backend, RiskRow, Row, StoredNotable};
use crate::error::StoreError;
use crate::review::{Arg, AuditEntry, Dialect, NotableFilter, ReviewPlan, ReviewedNotable};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls};
use std::cell::{RefCell, RefMut};
use std::str::FromStr;
use vigil_model::Micros;

/// The migrations, in order: (version, file name, SQL). A test checks this list against the
/// directory.
pub(crate) const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "001_alert_store.sql", include_str!("../migrations/postgres/001_alert_store.sql")),
    (2, "002_runs.sql", include_str!("../migrations/postgres/002_runs.sql")),
    (3, "003_console_users.sql", include_str!("../migrations/postgres/003_console_users.sql")),
];

/// Advisory lock keys (any constant; these spell "vigil mig" and "vigil inc").
const MIGRATION_LOCK: i64 = 0x7669_6769_6c6d_6967;
const INCIDENT_LOCK: i64 = 0x7669_6769_6c69_6e63;

/// A connection to the store's database, with the migrations applied, that is opened again
/// when the server had closed it (a restart, a failover): a long-running process reports the
/// query that met the closed connection and the next one works again. Also how other state a
/// deployment shares in this database is reached (the console's users, in vigil-serve).
pub struct PgConnection {
    client: Client,
    /// To connect again when the server closed the connection.
    config: postgres::Config,
    at: String,
}

impl PgConnection {
    /// Connects to `url` (a PostgreSQL connection string) and applies pending migrations.
    pub fn connect(url: &str) -> Result<PgConnection, StoreError> {
        let mut config = postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("[alerts] postgres: not a PostgreSQL connection string: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let at = describe(&config);
        let mut client = config.connect(NoTls).map_err(|source| StoreError::Postgres { at: at.clone(), source })?;
        migrate(&mut client, &at)?;
        Ok(PgConnection { client, config, at })
    }

    /// The client, connected again first if the server had closed the connection.
    pub fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = self.config.connect(NoTls).map_err(|source| StoreError::Postgres { at: self.at.clone(), source })?;
        }
        Ok(&mut self.client)
    }

    /// Where the database is, without the password.
    pub fn describe(&self) -> &str {
        &self.at
    }
}

pub(crate) struct PgBackend {
    /// `RefCell`: the store's reads take `&self` and the client needs `&mut` for every query;
    /// a store is used by one thread at a time (callers hold it in a `Mutex`).
    conn: RefCell<PgConnection>,
    at: String,
}

/// Where `config` points, without the password.
fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().map_or(String::new(), |p| format!(":{p}"));
    let user = config.get_user().map_or(String::new(), |u| format!("{u}@"));
    format!("postgres://{user}{host}{port}/{}", config.get_dbname().unwrap_or(""))
}

impl PgBackend {
    pub(crate) fn connect(url: &str) -> Result<PgBackend, StoreError> {
        let conn = PgConnection::connect(url)?;
        let at = conn.at.clone();
        Ok(PgBackend { conn: RefCell::new(conn), at })
    }

    /// The connection (see [`PgConnection::client`]).
    fn client(&self) -> Result<RefMut<'_, Client>, StoreError> {
        let mut conn = self.conn.borrow_mut();
        conn.client()?;
        Ok(RefMut::map(conn, |c| &mut c.client))
    }

    fn err(&self, source: postgres::Error) -> StoreError {
        StoreError::Postgres { at: self.at.clone(), source }
    }

    /// The first (text) column of a query, in order.
    fn texts(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<String>, StoreError> {
        let rows = self.client()?.query(sql, args).map_err(|e| self.err(e))?;
        rows.iter().map(|r| r.try_get(0).map_err(|e| self.err(e))).collect()
    }
}

/// Applies the migrations not yet recorded, in one transaction under the migration lock.
fn migrate(client: &mut Client, at: &str) -> Result<(), StoreError> {
    let pg = |source| StoreError::Postgres { at: at.to_string(), source };
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .map_err(pg)?;
    let applied: Vec<i32> = tx.query("SELECT version FROM schema_migrations", &[]).map_err(pg)?.iter().map(|r| r.get(0)).collect();
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| !applied.contains(v)) {
        let failed = |source| StoreError::Migration { at: at.to_string(), name: name.to_string(), source };
        tx.batch_execute(sql).map_err(failed)?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).map_err(failed)?;
    }
    tx.commit().map_err(pg)
}

fn boxed(args: &[Arg]) -> Vec<Box<dyn ToSql + Sync>> {
    args.iter()
        .map(|a| -> Box<dyn ToSql + Sync> {
            match a {
                Arg::Int(i) => Box::new(*i),
                Arg::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn reviewed(r: &postgres::Row) -> Result<ReviewedNotable, postgres::Error> {
    Ok(ReviewedNotable {
        id: r.try_get(0)?,
        time: r.try_get(1)?,
        search_name: r.try_get(2)?,
        rule_name: r.try_get(3)?,
        rule_title: r.try_get(4)?,
        severity: r.try_get(5)?,
        notable: serde_json::from_str(r.try_get::<_, &str>(6)?).unwrap_or(serde_json::Value::Null),
        status: r.try_get(7)?,
        owner: r.try_get(8)?,
        urgency: r.try_get(9)?,
        updated: r.try_get::<_, Option<i64>>(10)?.map(|t| t as f64 / 1e6),
    })
}

/// One notable with its review state, on `client` (a transaction, for an update).
fn review_get(client: &mut impl GenericClient, id: &str) -> Result<Option<ReviewedNotable>, postgres::Error> {
    let sql = format!("{} WHERE n.event_hash = $1", Dialect::Postgres.select());
    client.query_opt(&sql, &[&id])?.as_ref().map(reviewed).transpose()
}

impl Backend for PgBackend {
    fn record(&mut self, alerts: &[Alert]) -> Result<usize, StoreError> {
        let rows = rows(alerts, &|| self.at.clone())?;
        let at = self.at.clone();
        let pg = |source| StoreError::Postgres { at: at.clone(), source };
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(pg)?;
        let risk = tx
            .prepare(
                "INSERT INTO risk_events (event_hash, time, search_name, detection_id, risk_object,
                 normalized_risk_object, risk_object_type, risk_score, risk_message, techniques, tactics, json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (event_hash) DO NOTHING",
            )
            .map_err(pg)?;
        let notable = tx
            .prepare(
                "INSERT INTO notables (event_hash, time, search_name, rule_name, rule_title, severity,
                 risk_object, risk_object_type, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (event_hash) DO NOTHING",
            )
            .map_err(pg)?;
        let mut inserted = 0u64;
        for row in &rows {
            inserted += match row {
                Row::Risk { a: e, techniques, tactics, json } => tx
                    .execute(
                        &risk,
                        &[
                            &e.event_hash,
                            &e.time,
                            &e.search_name,
                            &e.detection_id,
                            &e.risk_object,
                            &e.normalized_risk_object,
                            &e.risk_object_type,
                            &e.risk_score,
                            &e.risk_message,
                            techniques,
                            tactics,
                            json,
                        ],
                    )
                    .map_err(pg)?,
                Row::Notable { a: n, risk_object, risk_object_type, json } => tx
                    .execute(
                        &notable,
                        &[
                            &n.event_hash,
                            &n.time,
                            &n.search_name,
                            &n.rule_name,
                            &n.rule_title,
                            &n.severity.as_str(),
                            risk_object,
                            risk_object_type,
                            json,
                        ],
                    )
                    .map_err(pg)?,
            };
        }
        tx.commit().map_err(pg)?;
        Ok(usize::try_from(inserted).unwrap_or(usize::MAX))
    }

    fn risk_event_times(&self, from: Micros, to: Micros) -> Result<Vec<Micros>, StoreError> {
        let rows = self
            .client()?
            .query("SELECT DISTINCT time FROM risk_events WHERE time >= $1 AND time < $2 ORDER BY time", &[&from, &to])
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| r.try_get(0).map_err(|e| self.err(e))).collect()
    }

    fn risk_rows(&self, from: Micros, to: Micros) -> Result<Vec<RiskRow>, StoreError> {
        let rows = self
            .client()?
            .query(
                "SELECT normalized_risk_object, risk_object_type, risk_score, search_name, tactics, techniques, time
                 FROM risk_events WHERE time >= $1 AND time < $2 ORDER BY time, id",
                &[&from, &to],
            )
            .map_err(|e| self.err(e))?;
        let row = |r: &postgres::Row| -> Result<RiskRow, postgres::Error> {
            Ok(RiskRow {
                object: r.try_get(0)?,
                kind: r.try_get(1)?,
                score: r.try_get(2)?,
                search: r.try_get(3)?,
                tactics: r.try_get(4)?,
                techniques: r.try_get(5)?,
                time: r.try_get(6)?,
            })
        };
        rows.iter().map(|r| row(r).map_err(|e| self.err(e))).collect()
    }

    fn risk_events_json(&self, from: Micros, to: Micros) -> Result<Vec<String>, StoreError> {
        self.texts("SELECT json FROM risk_events WHERE time >= $1 AND time < $2 ORDER BY time, id", &[&from, &to])
    }

    fn risk_events_of(&self, object: &str, kind: &str, from: Micros, to: Micros, limit: i64) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT json FROM risk_events WHERE normalized_risk_object = $1 AND risk_object_type = $2
             AND time >= $3 AND time < $4 ORDER BY time, id LIMIT $5",
            &[&object, &kind, &from, &to, &limit],
        )
    }

    fn notables(&self, from: Micros, to: Micros) -> Result<Vec<StoredNotable>, StoreError> {
        let rows = self
            .client()?
            .query(
                "SELECT time, search_name, rule_name, rule_title, severity, risk_object, risk_object_type, json
                 FROM notables WHERE time >= $1 AND time < $2 ORDER BY time, id",
                &[&from, &to],
            )
            .map_err(|e| self.err(e))?;
        let notable = |r: &postgres::Row| -> Result<StoredNotable, postgres::Error> {
            Ok(StoredNotable {
                time: r.try_get(0)?,
                search_name: r.try_get(1)?,
                rule_name: r.try_get(2)?,
                rule_title: r.try_get(3)?,
                severity: r.try_get(4)?,
                risk_object: r.try_get(5)?,
                risk_object_type: r.try_get(6)?,
                json: serde_json::from_str(r.try_get::<_, &str>(7)?).unwrap_or(serde_json::Value::Null),
            })
        };
        rows.iter().map(|r| notable(r).map_err(|e| self.err(e))).collect()
    }

    fn has_incident(&self, rule_name: &str, object: &str, kind: &str, from: Micros, to: Micros) -> Result<bool, StoreError> {
        let row = self
            .client()?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM notables WHERE rule_name = $1 AND risk_object = $2 AND risk_object_type = $3
                 AND time >= $4 AND time < $5)",
                &[&rule_name, &object, &kind, &from, &to],
            )
            .map_err(|e| self.err(e))?;
        row.try_get(0).map_err(|e| self.err(e))
    }

    fn counts(&self) -> Result<(usize, usize), StoreError> {
        let row = self
            .client()?
            .query_one("SELECT (SELECT COUNT(*) FROM risk_events), (SELECT COUNT(*) FROM notables)", &[])
            .map_err(|e| self.err(e))?;
        let count = |i: usize| row.try_get::<_, i64>(i).map(|n| n.max(0) as usize).map_err(|e| self.err(e));
        Ok((count(0)?, count(1)?))
    }

    fn review_list(&self, filter: &NotableFilter, offset: i64, limit: i64) -> Result<(Vec<ReviewedNotable>, usize), StoreError> {
        let (clause, args) = crate::review::where_clause(filter, Dialect::Postgres);
        let mut args = boxed(&args);
        let count_sql = format!("SELECT COUNT(*) FROM notables n LEFT JOIN notable_review r ON r.event_hash = n.event_hash{clause}");
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let mut client = self.client()?;
        let total: i64 =
            client.query_one(&Dialect::Postgres.params(&count_sql), &refs).and_then(|r| r.try_get(0)).map_err(|e| self.err(e))?;
        args.extend([Box::new(limit) as Box<dyn ToSql + Sync>, Box::new(offset)]);
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let sql = format!("{}{clause} ORDER BY n.time DESC, n.id DESC LIMIT ? OFFSET ?", Dialect::Postgres.select());
        let rows = client.query(&Dialect::Postgres.params(&sql), &refs).map_err(|e| self.err(e))?;
        let page = rows.iter().map(|r| reviewed(r).map_err(|e| self.err(e))).collect::<Result<Vec<_>, _>>()?;
        Ok((page, total.max(0) as usize))
    }

    fn review_get(&self, id: &str) -> Result<Option<ReviewedNotable>, StoreError> {
        review_get(&mut *self.client()?, id).map_err(|e| self.err(e))
    }

    fn review_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self
            .client()?
            .query("SELECT time, \"user\", field, old_value, new_value FROM notable_audit WHERE event_hash = $1 ORDER BY id", &[&id])
            .map_err(|e| self.err(e))?;
        let entry = |r: &postgres::Row| -> Result<AuditEntry, postgres::Error> {
            Ok(AuditEntry {
                time: r.try_get(0)?,
                user: r.try_get(1)?,
                field: r.try_get(2)?,
                old_value: r.try_get(3)?,
                new_value: r.try_get(4)?,
            })
        };
        rows.iter().map(|r| entry(r).map_err(|e| self.err(e))).collect()
    }

    fn review_update(
        &mut self,
        id: &str,
        plan: &dyn Fn(&ReviewedNotable) -> ReviewPlan,
        user: &str,
        now: Micros,
    ) -> Result<Option<()>, StoreError> {
        let at = self.at.clone();
        let pg = |source| StoreError::Postgres { at: at.clone(), source };
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(pg)?;
        // The notable's row locked: a concurrent change of the same notable (another API
        // process) waits and then decides from this one's result.
        if tx.query_opt("SELECT 1 FROM notables WHERE event_hash = $1 FOR UPDATE", &[&id]).map_err(pg)?.is_none() {
            return Ok(None);
        }
        let Some(current) = review_get(&mut tx, id).map_err(pg)? else { return Ok(None) };
        let ReviewPlan { state: (status, owner, urgency), audit } = plan(&current);
        if !audit.is_empty() {
            tx.execute(
                "INSERT INTO notable_review (event_hash, status, owner, urgency, updated) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (event_hash) DO UPDATE SET status = EXCLUDED.status, owner = EXCLUDED.owner,
                 urgency = EXCLUDED.urgency, updated = EXCLUDED.updated",
                &[&id, &status, &owner, &urgency, &now],
            )
            .map_err(pg)?;
            for (field, old, new) in &audit {
                tx.execute(
                    "INSERT INTO notable_audit (event_hash, time, \"user\", field, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&id, &now, &user, field, old, new],
                )
                .map_err(pg)?;
            }
        }
        tx.commit().map_err(pg)?;
        Ok(Some(()))
    }

    fn incident_lock(&mut self, held: bool) -> Result<(), StoreError> {
        let sql = if held { "SELECT pg_advisory_lock($1)" } else { "SELECT pg_advisory_unlock($1)" };
        self.client()?.execute(sql, &[&INCIDENT_LOCK]).map(|_| ()).map_err(|e| self.err(e))
    }

    fn record_run(&mut self, detections: &[String], json: &str) -> Result<(), StoreError> {
        let names: Vec<&str> = detections.iter().map(String::as_str).collect();
        self.client()?.execute("INSERT INTO runs (detections, json) VALUES ($1, $2)", &[&names, &json]).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn recent_runs(&self, detection: Option<&str>, limit: i64) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT json FROM runs WHERE $1::text IS NULL OR $1::text = ANY(detections) ORDER BY id DESC LIMIT $2",
            &[&detection, &limit],
        )
    }

    fn describe(&self) -> String {
        self.at.clone()
    }
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
