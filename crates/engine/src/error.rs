use vigil_spl::ast::Span;
use vigil_spl::{ErrorKind, SplError};

/// Why a search cannot be planned. Carries a span into the expanded search text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Spl(#[from] SplError),
    #[error("unsupported command `{name}`")]
    UnsupportedCommand { name: String, span: Span },
    #[error("unsupported function `{name}`")]
    UnsupportedFunction { name: String, span: Span },
    #[error("data model `{name}` is not available (Vigil builds: {available})")]
    UnsupportedDataModel { name: String, available: String, span: Span },
    /// Valid SPL using a feature Vigil does not implement (a regex look-around, a KV store).
    #[error("{message}")]
    Unsupported { message: String, span: Span },
    #[error("{message}")]
    Invalid { message: String, span: Span },
}

impl PlanError {
    pub fn invalid(message: impl Into<String>, span: Span) -> PlanError {
        PlanError::Invalid { message: message.into(), span }
    }

    pub fn span(&self) -> Span {
        match self {
            PlanError::Spl(e) => e.span,
            PlanError::UnsupportedCommand { span, .. }
            | PlanError::UnsupportedFunction { span, .. }
            | PlanError::UnsupportedDataModel { span, .. }
            | PlanError::Unsupported { span, .. }
            | PlanError::Invalid { span, .. } => *span,
        }
    }

    /// True when the search is valid SPL that Vigil does not implement (as opposed to an error
    /// in the search or its content).
    pub fn is_unsupported(&self) -> bool {
        match self {
            PlanError::Spl(e) => {
                matches!(e.kind, ErrorKind::UnsupportedCommand(_) | ErrorKind::UnsupportedFunction(_))
            }
            PlanError::UnsupportedCommand { .. }
            | PlanError::UnsupportedFunction { .. }
            | PlanError::UnsupportedDataModel { .. }
            | PlanError::Unsupported { .. } => true,
            PlanError::Invalid { .. } => false,
        }
    }

    /// Renders with the search text and a caret under the offending span.
    pub fn render(&self, text: &str, label: &str) -> String {
        let spl = match self {
            PlanError::Spl(e) => e.clone(),
            other => SplError::new(ErrorKind::Syntax, other.to_string(), other.span()),
        };
        spl.render(text, label)
    }
}

/// A failure while executing a planned search (resource limits, lookups that cannot be read).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// Why bytes could not be read as a scan state (see `Engine::decode_state`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("scan state: {0}")]
pub struct StateError(pub String);
