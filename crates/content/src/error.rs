use std::path::PathBuf;

/// A problem with one content file. Loading goes on with the other files.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ContentError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl ContentError {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        ContentError { file: file.into(), line, message: message.into() }
    }

    /// From a YAML error, keeping its line.
    pub fn yaml(file: impl Into<PathBuf>, e: &serde_norway::Error) -> Self {
        let line = e.location().map(|l| l.line());
        ContentError::new(file, line, e.to_string())
    }
}
