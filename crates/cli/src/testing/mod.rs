//! `vigil test`: ESCU's three kinds of detection tests, run offline.
//!
//! - [`validate`]: the detection file against contentctl's rules ([`schema`]), its macros, its
//!   search (parses and plans) and its risk/threat object fields; Vigil's stricter checks are
//!   warnings (`WARN validation`), which do not fail the run.
//! - [`unit`]: each `tests:` entry replays its attack data and runs the detection over all
//!   time; ESCU's pass rule decides. The same results then feed the integration check: the
//!   notables and risk events built from them ([`unit::integration`]).
//! - [`data`]: where a test's `data:` is found, and reading it with the test's source,
//!   sourcetype and timestamp shift.
//! - [`junit`]: the JUnit XML report.
//! - [`sigma`]: Sigma rules against SigmaHQ's regression data (`--sigma`).

pub mod data;
pub mod formats;
pub mod junit;
pub mod problems;
pub mod schema;
pub mod sigma;
pub mod unit;
pub mod validate;

use std::fmt;

/// Which kind of test an outcome belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Validation,
    Unit,
    Integration,
    /// A Sigma rule against SigmaHQ's regression data ([`sigma`]).
    Regression,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Validation => "validation",
            Kind::Unit => "unit",
            Kind::Integration => "integration",
            Kind::Regression => "regression",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Passed contentctl's rules; one of Vigil's stricter checks found something.
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One test's verdict.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub kind: Kind,
    /// The detection name (with ` [test name]` when a detection has several tests), or the
    /// file path when the file has no usable name.
    pub name: String,
    /// The detection file, as shown in messages.
    pub file: String,
    pub status: Status,
    /// Why it failed or was skipped (one line); empty for a pass.
    pub reason: String,
    /// More lines: further problems, the closest result rows, warnings.
    pub details: Vec<String>,
    pub seconds: f64,
}

impl Outcome {
    pub fn new(kind: Kind, name: &str, file: &str, status: Status, reason: impl Into<String>) -> Outcome {
        Outcome { kind, name: name.to_string(), file: file.to_string(), status, reason: reason.into(), details: Vec::new(), seconds: 0.0 }
    }
}

impl fmt::Display for Outcome {
    /// `PASS validation <name>`, `FAIL unit <name>: <reason>`, then details indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.status.as_str(), self.kind.as_str(), self.name)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        for d in &self.details {
            write!(f, "\n    {d}")?;
        }
        Ok(())
    }
}

/// `N passed, N failed` (with `, N warned` after the passes when any passed with warnings, and
/// `, N skipped` when any were skipped).
pub fn counts_line(outcomes: &[Outcome]) -> String {
    let n = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    let mut line = format!("{} passed, ", n(Status::Pass));
    let warned = n(Status::Warn);
    if warned > 0 {
        line.push_str(&format!("{warned} warned, "));
    }
    line.push_str(&format!("{} failed", n(Status::Fail)));
    let skipped = n(Status::Skip);
    if skipped > 0 {
        line.push_str(&format!(", {skipped} skipped"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_counts() {
        let mut o = Outcome::new(Kind::Unit, "D", "d.yml", Status::Fail, "0 results");
        o.details.push("12 events read".into());
        assert_eq!(o.to_string(), "FAIL unit D: 0 results\n    12 events read");
        let p = Outcome::new(Kind::Validation, "D", "d.yml", Status::Pass, "");
        assert_eq!(p.to_string(), "PASS validation D");
        assert_eq!(counts_line(&[o.clone(), p.clone()]), "1 passed, 1 failed");
        let s = Outcome::new(Kind::Unit, "E", "e.yml", Status::Skip, "data not found: x");
        assert_eq!(counts_line(&[o.clone(), p.clone(), s]), "1 passed, 1 failed, 1 skipped");
        let w = Outcome::new(Kind::Validation, "W", "w.yml", Status::Warn, "w.yml:3: data_source: unknown");
        assert_eq!(w.to_string(), "WARN validation W: w.yml:3: data_source: unknown");
        assert_eq!(counts_line(&[o, p, w]), "1 passed, 1 warned, 1 failed");
    }
}
