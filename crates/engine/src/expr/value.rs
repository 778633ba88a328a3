//! What eval expressions compute and read: values ([`EvalValue`]), the row and facts an
//! expression sees ([`Scope`], [`EvalContext`]).

use vigil_model::value::{format_num, parse_num};
use vigil_model::{Micros, Record, Value};
use vigil_time::Tz;

/// An eval value: a field value, or a boolean from a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalValue {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Multi(Vec<String>),
}

impl EvalValue {
    pub fn from_value(v: &Value) -> EvalValue {
        match v {
            Value::Null => EvalValue::Null,
            Value::Str(s) => EvalValue::Str(s.clone()),
            Value::Num(n) => EvalValue::Num(*n),
            Value::Multi(m) => EvalValue::Multi(m.clone()),
        }
    }

    /// Into a field value. Splunk refuses to store a boolean; Vigil stores its text.
    pub fn into_value(self) -> Value {
        match self {
            EvalValue::Null => Value::Null,
            EvalValue::Bool(b) => Value::Str(if b { "true" } else { "false" }.into()),
            EvalValue::Num(n) if n.is_finite() => Value::Num(n),
            EvalValue::Num(_) => Value::Null,
            EvalValue::Str(s) => Value::Str(s),
            EvalValue::Multi(m) => Value::from_items(m),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, EvalValue::Null)
    }

    /// Truth in a boolean context: only `true` is true (null and non-booleans are false).
    pub fn truthy(&self) -> bool {
        matches!(self, EvalValue::Bool(true))
    }

    pub fn as_num(&self) -> Option<f64> {
        match self {
            EvalValue::Num(n) => Some(*n),
            EvalValue::Str(s) => parse_num(s),
            EvalValue::Multi(m) => m.first().and_then(|s| parse_num(s)),
            _ => None,
        }
    }

    /// Text of a scalar (first item of a multivalue).
    pub fn as_text(&self) -> Option<String> {
        match self {
            EvalValue::Null => None,
            EvalValue::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
            EvalValue::Num(n) => Some(format_num(*n)),
            EvalValue::Str(s) => Some(s.clone()),
            EvalValue::Multi(m) => m.first().cloned(),
        }
    }

    /// Items of a value: a multivalue's items, a scalar as one item, none for null.
    pub fn items(&self) -> Vec<String> {
        match self {
            EvalValue::Multi(m) => m.clone(),
            other => other.as_text().into_iter().collect(),
        }
    }
}

/// What an expression can read: fields of the row, plus query-wide facts.
pub struct Scope<'a> {
    pub row: &'a Record,
    /// Overrides for `mvfilter`: the field being filtered, bound to one item.
    pub bound: Option<(&'a str, &'a str)>,
    pub ctx: &'a EvalContext,
}

impl Scope<'_> {
    /// A field of the row, or the item `mvfilter` bound to its name.
    pub fn field(&self, name: &str) -> EvalValue {
        if let Some((n, v)) = self.bound {
            if n == name {
                return EvalValue::Str(v.to_string());
            }
        }
        EvalValue::from_value(self.row.value(name))
    }
}

/// Facts fixed for one execution: the search's "now" and the time zone for time functions.
#[derive(Clone, Debug)]
pub struct EvalContext {
    pub now: Micros,
    pub tz: Tz,
}
