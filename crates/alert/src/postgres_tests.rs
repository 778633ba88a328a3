use super::*;
use crate::scratch::ScratchSchema;

#[test]
fn the_migration_list_is_the_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    let listed: Vec<&str> = MIGRATIONS.iter().map(|(_, name, _)| *name).collect();
    assert_eq!(files, listed, "every file in {} is in MIGRATIONS, in order", dir.display());
    for (i, (version, name, _)) in MIGRATIONS.iter().enumerate() {
        assert_eq!(*version as usize, i + 1);
        assert!(name.starts_with(&format!("{version:03}_")), "{name}");
    }
}

fn applied(url: &str) -> Vec<(i32, String)> {
    let mut c = postgres::Client::connect(url, NoTls).unwrap();
    c.query("SELECT version, name FROM schema_migrations ORDER BY version", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Four processes start at once on an empty schema: one applies the migrations (each once),
/// the others wait on the advisory lock and find nothing to do; starting again changes nothing.
#[test]
fn migrations_apply_once_when_processes_start_together() {
    let Some(schema) = ScratchSchema::new() else { return };
    let url = schema.url();
    let started: Vec<Result<PgBackend, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| PgBackend::connect(&url).map_err(|e| e.to_string()))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for s in &started {
        assert!(s.is_ok(), "{:?}", s.as_ref().err());
    }
    let want: Vec<(i32, String)> = MIGRATIONS.iter().map(|(v, n, _)| (*v, n.to_string())).collect();
    assert_eq!(applied(&url), want);
    PgBackend::connect(&url).unwrap();
    assert_eq!(applied(&url), want);
}

/// A migration that fails leaves nothing behind: the ones before it in the same start are
/// rolled back too, and the error names the file.
#[test]
fn a_failed_start_applies_nothing() {
    let Some(schema) = ScratchSchema::new() else { return };
    let url = schema.url();
    let mut c = postgres::Client::connect(&url, NoTls).unwrap();
    // `runs` taken by something else: 002 fails.
    c.batch_execute("CREATE TABLE runs (x INTEGER)").unwrap();
    let err = PgBackend::connect(&url).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("002_runs.sql"), "{err}");
    let tables: i64 = c
        .query_one("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'notables'", &[&schema.name()])
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "001 rolled back with 002");
}

#[test]
fn messages_name_the_server_without_the_password() {
    let config = postgres::Config::from_str("postgres://vigil:secret@db.example:5433/alerts").unwrap();
    assert_eq!(describe(&config), "postgres://vigil@db.example:5433/alerts");
    assert!(matches!(PgBackend::connect("postgres://[bad"), Err(StoreError::Config(_))));
}

/// The server ends the store's connection (a restart, a failover): the query that meets the
/// closed connection fails, the next one connects again and works.
#[test]
fn a_closed_connection_is_opened_again() {
    let Some(schema) = ScratchSchema::new() else { return };
    let backend = PgBackend::connect(&schema.url()).unwrap();
    let pid: i32 = backend.client().unwrap().query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let mut admin = postgres::Client::connect(&schema.url(), NoTls).unwrap();
    assert!(admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get::<_, bool>(0));
    let first = backend.counts();
    if let Err(e) = &first {
        assert!(e.to_string().starts_with("alert store postgres://"), "{e}");
    }
    assert_eq!(backend.counts().unwrap(), (0, 0));
    let again: i32 = backend.client().unwrap().query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_ne!(again, pid);
}
