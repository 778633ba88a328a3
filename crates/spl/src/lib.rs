//! SPL front end: macro expansion, lexing and parsing into [`ast`].
//!
//! Pure functions over text: no I/O and no knowledge of events or data models, so the front
//! end can be tested and fuzzed on its own. Content loading supplies macro definitions through
//! [`MacroSource`].

pub mod ast;
mod error;
mod lexer;
mod macros;
mod parser;
mod print;

pub use error::{line_col, ErrorKind, SplError};
pub use macros::{expand_macros, ExpandLimits, MacroDef, MacroSource};
pub use parser::{parse, parse_eval_expr, parse_search_expr, SUPPORTED_COMMANDS};
