//! The alert store's error, below everything that reads or writes the store.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("risk index {path}: {source}")]
    Sql { path: std::path::PathBuf, source: rusqlite::Error },
    #[error("risk index {path}: cannot create its directory: {source}")]
    Dir { path: std::path::PathBuf, source: std::io::Error },
    #[error("alert store {at}: cannot encode an alert: {source}")]
    Json { at: String, source: serde_json::Error },
    /// `at` names the server without the password.
    #[error("alert store {at}: {source}")]
    Postgres { at: String, source: postgres::Error },
    #[error("alert store {at}: migration {name}: {source}")]
    Migration { at: String, name: String, source: postgres::Error },
    #[error("alert store: {0}")]
    Config(String),
}
