//! The store tests run once per backend: `on_both_backends!(test_fn)` makes `test_fn::sqlite`
//! and `test_fn::postgres`, each calling `test_fn(kind)` with a fresh store of that kind.

use crate::scratch::ScratchSchema;
use crate::RiskStore;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty store of one kind: a SQLite file in a scratch directory, or a scratch
/// PostgreSQL schema; gone when dropped.
pub(crate) struct TestDb {
    _dir: tempfile::TempDir,
    path: PathBuf,
    schema: Option<ScratchSchema>,
}

impl TestDb {
    /// `None`: PostgreSQL is not reachable here (outside CI; the test then skips).
    pub(crate) fn new(kind: Kind) -> Option<TestDb> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("risk.db");
        let schema = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => Some(ScratchSchema::new()?),
        };
        Some(TestDb { _dir: dir, path, schema })
    }

    /// A new connection to this store (again: as another process would open it).
    pub(crate) fn open(&self) -> RiskStore {
        match &self.schema {
            None => RiskStore::open(&self.path).unwrap(),
            Some(s) => RiskStore::connect(&s.url()).unwrap(),
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(crate::test_backends::Kind::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name(crate::test_backends::Kind::Postgres)
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
