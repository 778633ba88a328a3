//! What eval expressions compute and read: values ([`EvalValue`]), the row and facts an
//! expression sees ([`Scope`], [`EvalContext`]).

use std::borrow::Cow;
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
        self.as_ref().as_num()
    }

    /// Text of a scalar (first item of a multivalue).
    pub fn as_text(&self) -> Option<String> {
        self.as_ref().as_text().map(Cow::into_owned)
    }

    /// Items of a value: a multivalue's items, a scalar as one item, none for null.
    pub fn items(&self) -> Vec<String> {
        match self {
            EvalValue::Multi(m) => m.clone(),
            other => other.as_text().into_iter().collect(),
        }
    }

    /// The value as a view that borrows its text.
    pub fn as_ref(&self) -> EvalRef<'_> {
        match self {
            EvalValue::Null => EvalRef::Null,
            EvalValue::Bool(b) => EvalRef::Bool(*b),
            EvalValue::Num(n) => EvalRef::Num(*n),
            EvalValue::Str(s) => EvalRef::Str(s),
            EvalValue::Multi(m) => EvalRef::Multi(m),
        }
    }
}

/// An [`EvalValue`] whose text is borrowed (from the row or the compiled expression): what
/// comparisons and tests read, so that reading a field or a literal copies nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EvalRef<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(&'a str),
    Multi(&'a [String]),
}

impl<'a> EvalRef<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, EvalRef::Null)
    }

    /// A number, or text that reads as one (the first item of a multivalue).
    pub fn as_num(&self) -> Option<f64> {
        match self {
            EvalRef::Num(n) => Some(*n),
            EvalRef::Str(s) => parse_num(s),
            EvalRef::Multi(m) => m.first().and_then(|s| parse_num(s)),
            _ => None,
        }
    }

    /// Text of a scalar (first item of a multivalue), borrowed where the value holds it.
    pub fn as_text(&self) -> Option<Cow<'a, str>> {
        match *self {
            EvalRef::Null => None,
            EvalRef::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            EvalRef::Num(n) => Some(Cow::Owned(format_num(n))),
            EvalRef::Str(s) => Some(Cow::Borrowed(s)),
            EvalRef::Multi(m) => m.first().map(|s| Cow::Borrowed(s.as_str())),
        }
    }

    /// Whether `text` is one of the value's items (as in [`EvalValue::items`]).
    pub fn has_item(&self, text: &str) -> bool {
        match self {
            EvalRef::Multi(m) => m.iter().any(|i| i == text),
            other => other.as_text().is_some_and(|t| t == text),
        }
    }
}

/// An operand: borrowed from the row or the expression when it is a field or a literal,
/// else the value computed for it.
#[derive(Debug)]
pub enum Operand<'a> {
    Borrowed(EvalRef<'a>),
    Owned(EvalValue),
}

impl Operand<'_> {
    pub fn get(&self) -> EvalRef<'_> {
        match self {
            Operand::Borrowed(r) => *r,
            Operand::Owned(v) => v.as_ref(),
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

    /// As [`Scope::field`], borrowing the row's text.
    pub fn field_ref(&self, name: &str) -> EvalRef<'_> {
        if let Some((n, v)) = self.bound {
            if n == name {
                return EvalRef::Str(v);
            }
        }
        match self.row.value(name) {
            Value::Null => EvalRef::Null,
            Value::Str(s) => EvalRef::Str(s),
            Value::Num(n) => EvalRef::Num(*n),
            Value::Multi(m) => EvalRef::Multi(m),
        }
    }
}

/// Facts fixed for one execution: the search's "now" and the time zone for time functions.
#[derive(Clone, Debug)]
pub struct EvalContext {
    pub now: Micros,
    pub tz: Tz,
}
