//! Normalization: raw [`Event`]s to CIM dataset rows ([`DatasetRow`]) through declarative
//! mapping files.
//!
//! The mapping files live in the repository's `mappings/` directory and are compiled into the
//! binary (`include_str!`), so a release is self-contained; more files can be added at run time
//! with [`Normalizer::with_dir`]. A file holds `[[dataset]]` tables (a CIM dataset's field list
//! and its data-model-level rules) and/or `[[mapping]]` tables (one source's events to one
//! dataset, field by field). `mappings/README.md` describes the format; each mapping file
//! documents every choice made for its source.
//!
//! Per event, mappings are first selected by sourcetype (case-insensitive), then by source and
//! field conditions (`EventCode = ["1"]`), so events no mapping wants cost one short scan.

mod classes;
mod expr;
mod hashers;
mod items;
mod knowledge;
mod layout;
mod needs;
mod rows;
mod shape;
mod spec;

pub use classes::{Clause, EventReader};
pub use expr::{basename, first_token, hex_to_dec, strip_device_prefix, Op};
pub use knowledge::{DeriveBuffers, Knowledge, BUILTIN_KNOWLEDGE};
pub use needs::RowNeeds;
pub use rows::Rows;
pub use shape::EnrichBuffers;

use std::path::{Path, PathBuf};
use vigil_model::{Catalog, ChildDataset, DatasetRow, DatasetSchema, Event};

/// The mapping files built into the binary: (file name, content). The data model file comes
/// first.
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("datamodels.toml", include_str!("../../../mappings/datamodels.toml")),
    ("sysmon.toml", include_str!("../../../mappings/sysmon.toml")),
    ("windows_security.toml", include_str!("../../../mappings/windows_security.toml")),
    ("crowdstrike.toml", include_str!("../../../mappings/crowdstrike.toml")),
    ("cisco_nvm.toml", include_str!("../../../mappings/cisco_nvm.toml")),
    ("windows_system.toml", include_str!("../../../mappings/windows_system.toml")),
    ("risk.toml", include_str!("../../../mappings/risk.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem in a mapping file, at a line.
    #[error("{file}:{line}: {message}")]
    Mapping { file: String, line: usize, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Data-model-level rules of one dataset, applied after every source mapping.
#[derive(Debug, Default)]
struct Rules {
    /// (target, source): when target is null, basename of the first token of source.
    name_from_first_token: Vec<(usize, usize)>,
    lowercase: Vec<usize>,
    unknown_when_null: Vec<usize>,
    /// (column, which of [`INHERITED_FIELDS`]) of each.
    inherited: Vec<(usize, usize)>,
}

/// Maps events to dataset rows. Build once, share freely (`Sync`).
#[derive(Debug)]
pub struct Normalizer {
    catalog: Catalog,
    rules: Vec<Rules>,
    mappings: Vec<spec::Mapping>,
    /// Lowercased sourcetype -> mapping indexes, in file order.
    by_sourcetype: Vec<(String, Vec<usize>)>,
    /// The add-ons' search-time fields and eventtypes, given to raw events by [`Normalizer::enrich`].
    knowledge: Knowledge,
    /// The field names the expressions read, numbered, for [`Normalizer::with_enriched_rows`].
    names: shape::Names,
}

impl Normalizer {
    /// The built-in data models and mappings.
    pub fn builtin() -> Result<Normalizer, Error> {
        Normalizer::from_sources(BUILTIN_FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect())
    }

    /// The built-in files plus every `*.toml` in `dir` (sorted by name). Extra files may add
    /// datasets and mappings; they cannot redefine a built-in dataset.
    pub fn with_dir(dir: &Path) -> Result<Normalizer, Error> {
        let mut files: Vec<(String, String)> = BUILTIN_FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        let io = |e| Error::Io { path: dir.to_path_buf(), source: e };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::Io { path: p.clone(), source: e })?;
            files.push((p.to_string_lossy().into_owned(), text));
        }
        Normalizer::from_sources(files)
    }

    /// Builds from (file name, content) pairs. Datasets from all files are known before any
    /// mapping is compiled, so file order does not matter.
    pub fn from_sources(files: Vec<(String, String)>) -> Result<Normalizer, Error> {
        let parsed: Vec<spec::Parsed> = files.iter().map(|(n, t)| spec::parse(n, t)).collect::<Result<_, _>>()?;
        let mut catalog = Catalog::default();
        let mut rules = Vec::new();
        for p in &parsed {
            for (line, d) in &p.datasets {
                let at = |message: String| Error::Mapping { file: p.file.clone(), line: *line, message };
                if catalog.datasets.iter().any(|x| x.name == d.name) {
                    return Err(at(format!("dataset {:?} defined twice", d.name)));
                }
                // Every data model dataset inherits Splunk's default fields, which tstats can
                // group and filter by (`by host`); they are filled from the event itself.
                // Fields a child dataset adds are columns of the root's rows too.
                let mut fields = d.fields.clone();
                let extra = d.child.iter().flat_map(|c| &c.fields).map(String::as_str);
                for f in extra.chain(INHERITED_FIELDS) {
                    if !fields.iter().any(|x| x == f) {
                        fields.push(f.to_string());
                    }
                }
                let children = children(d).map_err(at)?;
                let schema = DatasetSchema { name: d.name.clone(), object: d.object.clone(), fields, children };
                let idx = |f: &str| schema.field_index(f).ok_or_else(|| at(format!("dataset {}: rule names unknown field {f:?}", d.name)));
                let mut r = Rules::default();
                for (target, src) in &d.name_from_first_token {
                    r.name_from_first_token.push((idx(target)?, idx(src)?));
                }
                r.lowercase = d.lowercase.iter().map(|f| idx(f)).collect::<Result<_, _>>()?;
                r.unknown_when_null = d.unknown_when_null.iter().map(|f| idx(f)).collect::<Result<_, _>>()?;
                for (which, f) in INHERITED_FIELDS.iter().enumerate() {
                    r.inherited.push((idx(f)?, which));
                }
                catalog.datasets.push(schema);
                rules.push(r);
            }
        }
        let mut mappings = Vec::new();
        for p in &parsed {
            mappings.extend(spec::compile_mappings(p, &catalog)?);
        }
        let mut by_sourcetype: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, m) in mappings.iter().enumerate() {
            for st in &m.sourcetypes {
                match by_sourcetype.iter_mut().find(|(s, _)| s == st) {
                    Some((_, v)) => v.push(i),
                    None => by_sourcetype.push((st.clone(), vec![i])),
                }
            }
        }
        let mut knowledge = Knowledge::builtin()?;
        let names = shape::Names::number(&mut knowledge, &mut mappings);
        Ok(Normalizer { catalog, rules, mappings, by_sourcetype, knowledge, names })
    }

    /// The search-time knowledge applied by [`Normalizer::enrich`].
    pub fn knowledge(&self) -> &Knowledge {
        &self.knowledge
    }

    /// Limits [`Normalizer::enrich`] to the fields `wanted` accepts: pass the names the loaded
    /// searches use, so that events pay for no other field.
    pub fn restrict_knowledge(&mut self, wanted: &dyn Fn(&str) -> bool) {
        self.knowledge.restrict(wanted);
        self.names.renew(&mut self.knowledge);
    }

    /// Then narrows it per kind of event to what the searches that can read it name (see
    /// [`Knowledge::restrict_by_reader`]).
    pub fn restrict_knowledge_by_reader(&mut self, readers: &[EventReader]) {
        self.knowledge.restrict_by_reader(readers);
        self.names.renew(&mut self.knowledge);
    }

    /// Gives `ev` the search-time fields and eventtypes of Splunk's add-ons (see
    /// [`Knowledge::enrich`]): writes the enriched event into `out` and returns true, or
    /// returns false when nothing applies and `ev` can be used as is.
    pub fn enrich(&self, ev: &Event, out: &mut Event) -> bool {
        self.knowledge.enrich(ev, out)
    }

    /// Calls `f` with `ev` given the search-time fields, without copying it (see
    /// [`Knowledge::with_enriched`]); `ev` is as it was afterwards.
    pub fn with_enriched<R>(&self, ev: &mut Event, bufs: &mut EnrichBuffers, f: impl FnOnce(&Event) -> R) -> R {
        self.knowledge.with_enriched(ev, &mut bufs.derive, f)
    }

    /// Every dataset rows can be made for; `DatasetRow::dataset` indexes into it.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Names of the mappings (`file: name`), for `--explain`-style listings.
    pub fn mapping_names(&self) -> Vec<String> {
        self.mappings.iter().map(|m| format!("{}: {}", m.file, m.name)).collect()
    }

    /// Appends the rows `ev` maps to (zero or more: one per matching mapping). `_time` of the
    /// row is the event's `_time`, or 0 when the reader found none.
    pub fn normalize(&self, ev: &Event, out: &mut Vec<DatasetRow>) {
        self.normalize_filtered(ev, &|_| true, out)
    }

    /// [`Normalizer::normalize`] for the datasets `wanted` accepts only (ids into
    /// [`Normalizer::catalog`]): mappings to other datasets are not evaluated at all. Pass
    /// `Engine::wants_dataset` so that rows no query reads are never built.
    pub fn normalize_filtered(&self, ev: &Event, wanted: &dyn Fn(usize) -> bool, out: &mut Vec<DatasetRow>) {
        let mut rows = Rows::default();
        self.normalize_into(ev, wanted, &mut rows);
        rows.move_into(out);
    }
}

/// The child datasets of `d` with their lineage and constraints resolved from the root down.
fn children(d: &spec::DatasetDef) -> Result<Vec<ChildDataset>, String> {
    let mut out: Vec<ChildDataset> = Vec::new();
    for c in &d.child {
        let (lineage, mut constraints) = match c.parent.as_deref() {
            None => (d.object.clone(), Vec::new()),
            Some(p) if p == d.object => (d.object.clone(), Vec::new()),
            Some(p) => match out.iter().find(|x| x.name == p) {
                Some(parent) => (parent.lineage.clone(), parent.constraints.clone()),
                None => return Err(format!("dataset {}: child {:?} names unknown parent {p:?} (parents come first)", d.name, c.name)),
            },
        };
        if out.iter().any(|x| x.name == c.name) {
            return Err(format!("dataset {}: child {:?} defined twice", d.name, c.name));
        }
        constraints.push(c.constraint.clone());
        out.push(ChildDataset { name: c.name.clone(), lineage: format!("{lineage}.{}", c.name), constraints });
    }
    Ok(out)
}

/// Fields every dataset inherits from the event (Splunk's default fields), in this order.
const INHERITED_FIELDS: [&str; 3] = ["host", "source", "sourcetype"];

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::Value;

    #[test]
    fn normalizer_is_shareable() {
        fn check<T: Send + Sync>() {}
        check::<Normalizer>();
    }

    #[test]
    fn builtin_loads() {
        let n = Normalizer::builtin().unwrap();
        let c = n.catalog();
        let p = c.find("Endpoint.Processes").unwrap();
        assert_eq!(c.get(p).object, "Processes");
        // 33 CIM fields plus the inherited host, source, sourcetype.
        assert_eq!(c.get(p).fields.len(), 36);
        assert_eq!(&c.get(p).fields[33..], ["host", "source", "sourcetype"]);
        assert!(c.find("Endpoint.Registry").is_some());
        assert!(c.find("Endpoint.Filesystem").is_some());
    }

    #[test]
    fn errors_name_file_and_line() {
        let dm = ("dm.toml".to_string(), "[[dataset]]\nname = \"A.B\"\nobject = \"B\"\nfields = [\"x\"]\n".to_string());
        let bad =
            |text: &str| Normalizer::from_sources(vec![dm.clone(), ("m.toml".to_string(), text.to_string())]).unwrap_err().to_string();
        let base = "[[mapping]]\nname = \"m\"\ndataset = \"A.B\"\nwhen = { sourcetype = \"s\" }\n[mapping.fields]\n";
        assert_eq!(bad(&format!("{base}y = \"f\"\n")), "m.toml:6: mapping \"m\": A.B has no field \"y\"");
        assert!(bad(&format!("{base}x = {{ from = \"f\", op = [\"nope\"] }}\n")).starts_with("m.toml:6: field x: unknown op"));
        assert!(bad(&format!("{base}x = {{ from = \"f\", const = \"c\" }}\n")).contains("more than one source"));
        assert!(bad("[[mapping]]\nname = \"m\"\ndataset = \"Z\"\nwhen = { sourcetype = \"s\" }\nfields = {}\n").starts_with("m.toml:3:"));
        assert!(bad("[[mapping]]\nname = = 1\n").starts_with("m.toml:2:"));
    }

    #[test]
    fn rules_apply() {
        let dm = "[[dataset]]\nname = \"A.B\"\nobject = \"B\"\nfields = [\"process\", \"process_name\", \"il\", \"dest\"]\nlowercase = [\"il\"]\nunknown_when_null = [\"dest\"]\nname_from_first_token = { process_name = \"process\" }\n";
        let m = "[[mapping]]\nname = \"m\"\ndataset = \"A.B\"\nwhen = { sourcetype = \"S\", EventCode = [1] }\n[mapping.fields]\nprocess = \"cmd\"\nil = \"IL\"\n";
        let n = Normalizer::from_sources(vec![("dm".into(), dm.into()), ("m".into(), m.into())]).unwrap();
        let mut ev = Event { sourcetype: "s".into(), time: Some(5), ..Default::default() };
        ev.push("cmd", "\"C:\\x\\MsiExec.exe\" /i http://a");
        ev.push("IL", "High");
        let mut rows = Vec::new();
        n.normalize(&ev, &mut rows);
        assert!(rows.is_empty(), "EventCode condition not met");
        ev.push("EventCode", "1");
        n.normalize(&ev, &mut rows);
        assert_eq!(rows.len(), 1);
        let v = &rows[0].values;
        assert_eq!(v[1], Value::str("MsiExec.exe"));
        assert_eq!(v[2], Value::str("high"));
        assert_eq!(v[3], Value::str("unknown"));
        assert_eq!(rows[0].time, 5);
        let mut none = Vec::new();
        n.normalize_filtered(&ev, &|_| false, &mut none);
        assert!(none.is_empty(), "unwanted dataset");
        n.normalize_filtered(&ev, &|d| d == rows[0].dataset, &mut none);
        assert_eq!(none, rows);
    }

    #[test]
    fn reused_rows_equal_fresh_ones() {
        let n = Normalizer::builtin().unwrap();
        let sysmon = |fields: &[(&str, &str)]| {
            let mut ev = Event {
                sourcetype: "XmlWinEventLog".into(),
                source: "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into(),
                host: "h".into(),
                ..Default::default()
            };
            fields.iter().for_each(|(k, v)| ev.push(*k, *v));
            ev
        };
        let events = [
            sysmon(&[
                ("EventCode", "1"),
                ("Image", "C:\\a\\B.exe"),
                ("CommandLine", "b.exe /x"),
                ("IntegrityLevel", "High"),
                ("Computer", "PC"),
            ]),
            sysmon(&[("EventCode", "1")]),
            sysmon(&[("EventCode", "3"), ("DestinationIp", "10.0.0.1"), ("DestinationPort", "443")]),
            Event { sourcetype: "unknown".into(), ..Default::default() },
        ];
        let mut rows = Rows::default();
        for ev in events.iter().chain(&events).chain(events.iter().rev()) {
            let mut fresh = Vec::new();
            n.normalize(ev, &mut fresh);
            n.normalize_into(ev, &|_| true, &mut rows);
            assert_eq!(rows.as_slice(), fresh);
        }
    }
}
