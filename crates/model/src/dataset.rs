use crate::{Micros, Value};

/// One dataset of a CIM data model, e.g. `Endpoint.Processes` (object name `Processes`).
///
/// Field names are unprefixed (`process_name`); tstats refers to them as
/// `Processes.process_name` and the engine strips the object prefix.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSchema {
    /// `Model.Object`, e.g. `Endpoint.Processes`.
    pub name: String,
    /// The object name used as a field prefix, e.g. `Processes`.
    pub object: String,
    pub fields: Vec<String>,
}

impl DatasetSchema {
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f == name)
    }

    /// The model part of the name (`Endpoint`).
    pub fn model(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }
}

/// Every dataset Vigil can build rows for. Indexes into `datasets` are the dataset ids used in
/// [`DatasetRow::dataset`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    pub datasets: Vec<DatasetSchema>,
}

impl Catalog {
    /// Finds a dataset by `Model.Object` (case-insensitive, as Splunk accepts) or, for a
    /// model with a single root object, by the model name alone.
    pub fn find(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.datasets.iter().position(|d| d.name.eq_ignore_ascii_case(name)) {
            return Some(i);
        }
        let mut in_model = self
            .datasets
            .iter()
            .enumerate()
            .filter(|(_, d)| d.model().eq_ignore_ascii_case(name));
        match (in_model.next(), in_model.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    pub fn get(&self, id: usize) -> &DatasetSchema {
        &self.datasets[id]
    }
}

/// A normalized row of one dataset: `values[i]` is the value of `schema.fields[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetRow {
    pub dataset: usize,
    pub time: Micros,
    pub values: Vec<Value>,
}
