//! Scratch PostgreSQL schemas for tests: each test gets a fresh schema of its own in the test
//! database, dropped when it ends, so parallel tests (and parallel test runs) never collide.
//!
//! The server is `$VIGIL_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`,
//! trust auth). Where it cannot be reached a test skips with a message, except under CI
//! (`CI` set), where it fails: CI's machine runs PostgreSQL, and a silent skip would hide a
//! broken store.

use std::sync::atomic::{AtomicUsize, Ordering};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema that exists until this is dropped.
pub struct ScratchSchema {
    base: String,
    name: String,
}

impl ScratchSchema {
    /// A new schema `vigil_test_<pid>_<n>`; `None` (after saying why) when PostgreSQL is not
    /// reachable outside CI.
    ///
    /// # Panics
    /// Under CI when PostgreSQL is not reachable, or when the schema cannot be created.
    pub fn new() -> Option<ScratchSchema> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::var("VIGIL_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_string());
        let mut client = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(c) => c,
            Err(e) if std::env::var_os("CI").is_some() => panic!("PostgreSQL at {base} is required under CI: {e}"),
            Err(e) => {
                eprintln!("skipped: PostgreSQL at {base} is not reachable ({e}); set VIGIL_TEST_POSTGRES");
                return None;
            }
        };
        let name = format!("vigil_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        if let Err(e) = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")) {
            panic!("cannot create the scratch schema {name} at {base}: {e}");
        }
        Some(ScratchSchema { base, name })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection string whose connections work in this schema (`[alerts] postgres`).
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let dropped = postgres::Client::connect(&self.base, postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)));
        if let Err(e) = dropped {
            eprintln!("cannot drop the scratch schema {}: {e}", self.name);
        }
    }
}
