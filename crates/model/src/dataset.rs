use crate::{Micros, Value};

/// One dataset of a CIM data model, e.g. `Endpoint.Processes` (object name `Processes`).
///
/// Field names are unprefixed (`process_name`); tstats refers to them as
/// `Processes.process_name` and the engine strips the object prefix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatasetSchema {
    /// `Model.Object`, e.g. `Endpoint.Processes`.
    pub name: String,
    /// The object name used as a field prefix, e.g. `Processes`.
    pub object: String,
    /// Every field of the dataset and of its child datasets.
    pub fields: Vec<String>,
    /// Child datasets (`Authentication.Failed_Authentication`): subsets of this dataset's rows
    /// selected by constraints, as in the CIM data model. They have no rows of their own.
    pub children: Vec<ChildDataset>,
}

/// A child dataset of a root dataset, e.g. `Failed_Authentication` of `Authentication`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChildDataset {
    /// The node name: `Failed_Authentication`.
    pub name: String,
    /// Root object and ancestors down to this node: `All_Changes.Account_Management`, as
    /// `nodename=` and lineage-prefixed field names spell it.
    pub lineage: String,
    /// Search expressions (SPL, over unprefixed field names) that a row of the root dataset
    /// must all match to belong here: the ancestors' first, then the node's own.
    pub constraints: Vec<String>,
}

impl DatasetSchema {
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f == name)
    }

    /// A child dataset by node name or lineage (`Failed_Authentication`,
    /// `Authentication.Failed_Authentication`), case-insensitive.
    pub fn child(&self, name: &str) -> Option<&ChildDataset> {
        self.children.iter().find(|c| c.name.eq_ignore_ascii_case(name) || c.lineage.eq_ignore_ascii_case(name))
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
        let mut in_model = self.datasets.iter().enumerate().filter(|(_, d)| d.model().eq_ignore_ascii_case(name));
        match (in_model.next(), in_model.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// Finds a dataset or a child dataset by `Model.Dataset` (`Authentication.Failed_Authentication`,
    /// `Change.Account_Management`): the root dataset's id and, for a child, its definition.
    pub fn find_node(&self, name: &str) -> Option<(usize, Option<&ChildDataset>)> {
        if let Some(i) = self.find(name) {
            return Some((i, None));
        }
        let (model, node) = name.split_once('.')?;
        self.datasets
            .iter()
            .enumerate()
            .filter(|(_, d)| d.model().eq_ignore_ascii_case(model))
            .find_map(|(i, d)| d.child(node).map(|c| (i, Some(c))))
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
