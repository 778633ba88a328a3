use crate::ast::{Expr, Pipeline, SearchExpr, Span};
use crate::SplError;

/// Parses a macro-expanded search into a pipeline. TODO(parser helper): implement.
pub fn parse(_text: &str) -> Result<Pipeline, SplError> {
    Err(SplError::syntax("parser not implemented yet", Span::default()))
}

/// Parses a standalone search expression (as after `search` or tstats `where`).
pub fn parse_search_expr(_text: &str) -> Result<SearchExpr, SplError> {
    Err(SplError::syntax("parser not implemented yet", Span::default()))
}

/// Parses a standalone eval expression.
pub fn parse_eval_expr(_text: &str) -> Result<Expr, SplError> {
    Err(SplError::syntax("parser not implemented yet", Span::default()))
}
