//! The compiled form of a Sigma detection: a boolean tree of field tests, evaluated over any
//! event that can list a field's values.

use crate::pattern::{fold, Glob};
use std::net::IpAddr;
use vigil_model::LazyRegex;

/// Read access to an event's fields, as Sigma matching needs it.
pub trait Fields {
    /// Calls `f` on each value of the field until it returns true; returns whether it did.
    fn any_value(&self, field: &str, f: &mut dyn FnMut(&str) -> bool) -> bool;
    /// Calls `f` on each value of every field (keyword searches) until it returns true.
    fn any_field_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool;
}

/// A detection tree.
#[derive(Clone, Debug)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A test of one field's values, or of every field's values when `field` is `None`
    /// (keyword search).
    Leaf {
        field: Option<String>,
        test: Test,
    },
}

/// Numeric comparisons (`|gt` ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl NumOp {
    pub fn holds(self, x: f64, want: f64) -> bool {
        match self {
            NumOp::Lt => x < want,
            NumOp::Lte => x <= want,
            NumOp::Gt => x > want,
            NumOp::Gte => x >= want,
        }
    }
}

/// How a `|fieldref` value compares with the other field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Equals,
    StartsWith,
    EndsWith,
    Contains,
}

/// What one value of a field must satisfy.
#[derive(Clone, Debug)]
pub enum Test {
    Glob(Glob),
    Regex(LazyRegex),
    Cidr {
        net: IpAddr,
        bits: u8,
    },
    Num(NumOp, f64),
    /// `|exists: true/false`.
    Exists(bool),
    /// `null`: the field is absent or empty.
    Null,
    /// A time modifier: the date part of the value compared with a number (`None`: equal).
    DatePart {
        part: crate::datepart::DatePart,
        op: Option<NumOp>,
        want: f64,
    },
    /// `|fieldref`: compared with the first value of another field.
    FieldRef {
        other: String,
        shape: Shape,
        cased: bool,
    },
}

impl Expr {
    /// `Or` of the items, or the item itself when there is one.
    pub fn any(items: Vec<Expr>) -> Expr {
        match <[Expr; 1]>::try_from(items) {
            Ok([one]) => one,
            Err(items) => Expr::Or(items),
        }
    }

    /// `And` of the items, or the item itself when there is one.
    pub fn all(items: Vec<Expr>) -> Expr {
        match <[Expr; 1]>::try_from(items) {
            Ok([one]) => one,
            Err(items) => Expr::And(items),
        }
    }

    pub fn eval(&self, ev: &dyn Fields) -> bool {
        match self {
            Expr::And(items) => items.iter().all(|e| e.eval(ev)),
            Expr::Or(items) => items.iter().any(|e| e.eval(ev)),
            Expr::Not(e) => !e.eval(ev),
            Expr::Leaf { field: None, test } => ev.any_field_value(&mut |v| test.matches_value(v, ev)),
            Expr::Leaf { field: Some(f), test } => match test {
                Test::Exists(want) => ev.any_value(f, &mut |_| true) == *want,
                // Readers drop empty values, so empty and absent are the same here.
                Test::Null => !ev.any_value(f, &mut |v| !v.is_empty()),
                Test::Glob(g) if g.text.is_empty() => !ev.any_value(f, &mut |v| !v.is_empty()),
                _ => ev.any_value(f, &mut |v| test.matches_value(v, ev)),
            },
        }
    }

    /// Every field name the tree reads (keyword searches read all fields: `None`).
    pub fn fields(&self, out: &mut Vec<String>) -> Option<()> {
        match self {
            Expr::And(items) | Expr::Or(items) => items.iter().try_for_each(|e| e.fields(out)),
            Expr::Not(e) => e.fields(out),
            Expr::Leaf { field: None, .. } => None,
            Expr::Leaf { field: Some(f), test } => {
                out.push(f.clone());
                if let Test::FieldRef { other, .. } = test {
                    out.push(other.clone());
                }
                Some(())
            }
        }
    }

    /// Renames every field through `map` (a field it returns `None` for is kept).
    pub fn rename(&mut self, map: &dyn Fn(&str) -> Option<String>) {
        match self {
            Expr::And(items) | Expr::Or(items) => items.iter_mut().for_each(|e| e.rename(map)),
            Expr::Not(e) => e.rename(map),
            Expr::Leaf { field, test } => {
                if let Some(f) = field {
                    if let Some(n) = map(f) {
                        *f = n;
                    }
                }
                if let Test::FieldRef { other, .. } = test {
                    if let Some(n) = map(other) {
                        *other = n;
                    }
                }
            }
        }
    }
}

impl Test {
    fn matches_value(&self, v: &str, ev: &dyn Fields) -> bool {
        match self {
            Test::Glob(g) => g.matches(v),
            Test::Regex(r) => r.is_match(v),
            Test::Cidr { net, bits } => v.trim().parse::<IpAddr>().is_ok_and(|ip| in_net(ip, *net, *bits)),
            Test::Num(op, want) => parse_number(v).is_some_and(|x| op.holds(x, *want)),
            Test::DatePart { part, op, want } => part.of(v).map(|x| x as f64).is_some_and(|x| match op {
                None => x == *want,
                Some(op) => op.holds(x, *want),
            }),
            Test::Exists(_) => true,
            Test::Null => v.is_empty(),
            Test::FieldRef { other, shape, cased } => {
                let mut hit = false;
                ev.any_value(other, &mut |o| {
                    let (a, b) = if *cased { (v.into(), o.into()) } else { (fold(v), fold(o)) };
                    hit = match shape {
                        Shape::Equals => a == b,
                        Shape::StartsWith => a.starts_with(&*b),
                        Shape::EndsWith => a.ends_with(&*b),
                        Shape::Contains => a.contains(&*b),
                    };
                    hit
                });
                hit
            }
        }
    }
}

/// A decimal or `0x` hexadecimal number.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|n| n as f64);
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits.min(32) as u32) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits.min(128) as u32) };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_v4_v6() {
        let n4: IpAddr = "10.0.0.0".parse().unwrap();
        assert!(in_net("10.1.2.3".parse().unwrap(), n4, 8));
        assert!(!in_net("11.1.2.3".parse().unwrap(), n4, 8));
        let n6: IpAddr = "fe80::".parse().unwrap();
        assert!(in_net("fe80::1".parse().unwrap(), n6, 10));
        assert!(!in_net("::1".parse().unwrap(), n6, 10));
        assert!(in_net("1.2.3.4".parse().unwrap(), n4, 0));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number(" 42 "), Some(42.0));
        assert_eq!(parse_number("x"), None);
    }
}
