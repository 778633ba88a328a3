//! A Sigma correlation over the rows of the rules it names: each row becomes a correlation
//! event (time, group-by values, value), vigil-sigma finds the windows that meet the
//! condition, and each becomes one result row.

use super::{Env, StageId};
use crate::error::ExecError;
use vigil_model::{Record, Value};
use vigil_sigma::correlation::{Event, Hit};
use vigil_sigma::Correlation;

/// Most distinct `dest`/`user` values a hit row lists from its window's events.
const MAX_RISK_VALUES: usize = 10;

#[derive(Debug)]
pub(crate) struct CorrelationOp {
    pub spec: Correlation,
    /// In the correlation's rule order; the first reads the stage's own rows.
    pub inputs: Vec<CorrelationInput>,
}

#[derive(Debug)]
pub(crate) struct CorrelationInput {
    /// The stage whose rows are this rule's matches (`None`: the rows the op is given).
    pub stage: Option<StageId>,
    /// As the correlation names the rule.
    pub name: String,
    /// Per group-by field, the row fields that may hold it (first with a value).
    pub group: Vec<Vec<String>>,
    /// Per `field` of the condition, likewise.
    pub value: Vec<Vec<String>>,
}

/// The first non-empty value of the first of `names` that has one.
fn first_value(row: &Record, names: &[String]) -> Option<String> {
    names.iter().find_map(|n| row.get(n).and_then(|v| v.items().into_iter().find(|s| !s.is_empty())).map(|s| s.into_owned()))
}

impl CorrelationOp {
    /// Fields of the result rows besides the group-by fields.
    pub(crate) fn output_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = ["_time", "sigma_correlation", "sigma_first_time", "sigma_last_time", "sigma_rules", "dest", "user"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        out.push(self.spec.aggregate_name().to_string());
        out.extend(self.spec.group_by.iter().cloned());
        if let Some(value) = self.spec_value_fields() {
            out.extend(value.iter().cloned());
        }
        out
    }

    /// The `field`s a hit row names its value by (value_percentile: a hit per value).
    fn spec_value_fields(&self) -> Option<&[String]> {
        (self.spec.kind == vigil_sigma::correlation::Kind::ValuePercentile).then_some(self.spec.field.as_slice())
    }

    pub(crate) fn apply(&self, own: Vec<Record>, env: &mut dyn Env) -> Result<Vec<Record>, ExecError> {
        let mut rows = Vec::new();
        let mut events = Vec::new();
        let mut own = Some(own);
        for (i, input) in self.inputs.iter().enumerate() {
            let input_rows = match input.stage {
                None => own.take().unwrap_or_default(),
                Some(id) => env.run_stage(id)?,
            };
            for row in input_rows {
                if let Some(ev) = self.event(&row, i, input) {
                    events.push(ev);
                    rows.push(row);
                }
            }
        }
        let hits = self.spec.correlate(&events);
        Ok(hits.iter().map(|h| self.hit_row(h, &rows, &events)).collect())
    }

    /// The correlation event of one rule's row; `None` without a time or a group-by value
    /// (as `stats ... by` leaves out rows without a by-field).
    fn event(&self, row: &Record, input: usize, spec: &CorrelationInput) -> Option<Event> {
        let time = row.get("_time")?.as_num()?;
        let group = spec.group.iter().map(|names| first_value(row, names)).collect::<Option<Vec<String>>>()?;
        let value = spec.value.iter().map(|names| first_value(row, names)).collect::<Option<Vec<String>>>();
        let number = value.as_ref().and_then(|v| v.first()).and_then(|s| vigil_sigma::expr::parse_number(s));
        Some(Event { time, group, inputs: vec![input], value, number })
    }

    fn hit_row(&self, hit: &Hit, rows: &[Record], events: &[Event]) -> Record {
        let mut r = Record::new();
        r.push_new("_time".into(), Value::Num(hit.time));
        for (name, value) in self.spec.group_by.iter().zip(&hit.group) {
            r.set(name.as_str(), Value::str(value.as_str()));
        }
        r.set(self.spec.aggregate_name(), Value::Num(hit.aggregate));
        // value_percentile: which value the share is of.
        if let (Some(names), Some(values)) = (self.spec_value_fields(), &hit.value) {
            for (name, value) in names.iter().zip(values) {
                r.set(name.as_str(), Value::str(value.as_str()));
            }
        }
        r.set("sigma_correlation", Value::str(self.spec.kind.name()));
        r.set("sigma_first_time", Value::Num(hit.first_time));
        r.set("sigma_last_time", Value::Num(hit.last_time));
        let mut seen: Vec<usize> = hit.events.iter().flat_map(|&e| events[e].inputs.iter().copied()).collect();
        seen.sort_unstable();
        seen.dedup();
        r.set("sigma_rules", Value::from_items(seen.iter().map(|&i| self.inputs[i].name.clone()).collect()));
        // Risk objects: the window's hosts and users.
        for field in ["dest", "user"] {
            let mut values: Vec<String> = Vec::new();
            for &e in &hit.events {
                for v in rows[e].get(field).map(|v| v.items()).unwrap_or_default() {
                    if values.len() < MAX_RISK_VALUES && !v.is_empty() && !values.iter().any(|x| x == v.as_ref()) {
                        values.push(v.into_owned());
                    }
                }
            }
            if !values.is_empty() {
                r.set(field, Value::from_items(values));
            }
        }
        r
    }
}
