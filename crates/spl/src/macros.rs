use crate::SplError;

/// A macro definition, as in ESCU `macros/*.yml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroDef {
    pub name: String,
    /// Argument names, in order; `$name$` in `definition` is replaced by the call's value.
    pub args: Vec<String>,
    pub definition: String,
}

/// Where macro definitions come from (content layers, tests).
pub trait MacroSource {
    /// The macro called `name` taking `arity` arguments.
    fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef>;
}

/// Bounds that keep expansion from running away on hostile content.
#[derive(Clone, Debug)]
pub struct ExpandLimits {
    pub max_depth: usize,
    pub max_output_bytes: usize,
}

impl Default for ExpandLimits {
    fn default() -> Self {
        ExpandLimits { max_depth: 32, max_output_bytes: 1 << 20 }
    }
}

/// Expands backtick macros textually, recursively. TODO(parser helper): implement.
pub fn expand_macros(
    text: &str,
    _macros: &dyn MacroSource,
    _limits: &ExpandLimits,
) -> Result<String, SplError> {
    Ok(text.to_string())
}
