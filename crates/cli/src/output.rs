//! Sinks: result rows as a terminal table, JSON lines or CSV.

use serde::Serialize;
use std::io::{self, Write};
use vigil_model::{Record, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable in a terminal: a grid, or one block per row when too wide.
    Table,
    /// One JSON object per result: {"detection": name, "result": {...}}.
    Jsonl,
    /// CSV with a `detection` column first; multivalue fields joined by newlines.
    Csv,
}

/// Results of one detection (or the ad-hoc search).
pub struct ResultSet<'a> {
    pub name: &'a str,
    pub rows: &'a [Record],
}

#[derive(Serialize)]
struct JsonRow<'a> {
    detection: &'a str,
    result: &'a Record,
}

pub fn write(out: &mut dyn Write, format: Format, sets: &[ResultSet]) -> io::Result<()> {
    // serde_json and the table writer write a few bytes at a time: straight into stdout's
    // line-buffered writer, each piece was a call that searched it for a newline (~40
    // instructions a byte of output, 3 % of an all-ESCU run over 100 MB of XML).
    let mut buffered = io::BufWriter::with_capacity(64 << 10, out);
    write_buffered(&mut buffered, format, sets)?;
    buffered.flush()
}

fn write_buffered(out: &mut dyn Write, format: Format, sets: &[ResultSet]) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            for set in sets {
                for row in set.rows {
                    serde_json::to_writer(&mut *out, &JsonRow { detection: set.name, result: row })?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
        Format::Csv => write_csv(out, sets),
        Format::Table => {
            for set in sets.iter().filter(|s| !s.rows.is_empty()) {
                write_table(out, set)?;
            }
            Ok(())
        }
    }
}

fn write_csv(out: &mut dyn Write, sets: &[ResultSet]) -> io::Result<()> {
    let all: Vec<Record> = sets.iter().flat_map(|s| s.rows.iter().cloned()).collect();
    let cols = Record::columns(&all);
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["detection".to_string()];
    header.extend(cols.iter().cloned());
    w.write_record(&header)?;
    for set in sets {
        for row in set.rows {
            let mut rec = vec![set.name.to_string()];
            rec.extend(cols.iter().map(|c| row.value(c).to_string()));
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    Ok(())
}

fn cell(v: &Value) -> String {
    match v {
        Value::Multi(items) => items.join(" | "),
        other => other.to_string().replace(['\n', '\r'], " "),
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(160)
}

fn write_table(out: &mut dyn Write, set: &ResultSet) -> io::Result<()> {
    let cols = Record::columns(set.rows);
    let n = set.rows.len();
    writeln!(out, "== {} ({} result{}) ==", set.name, n, if n == 1 { "" } else { "s" })?;
    let cells: Vec<Vec<String>> = set.rows.iter().map(|r| cols.iter().map(|c| cell(r.value(c))).collect()).collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| cells.iter().map(|r| r[i].chars().count()).chain([c.chars().count()]).max().unwrap_or(0))
        .collect();
    let total: usize = widths.iter().sum::<usize>() + 2 * widths.len();
    if total <= terminal_width() {
        let line = |vals: &[String]| -> String {
            vals.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
        };
        writeln!(out, "{}", line(&cols))?;
        writeln!(out, "{}", line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()))?;
        for r in &cells {
            writeln!(out, "{}", line(r))?;
        }
    } else {
        // Too wide for a grid: one block per result, field per line, as Splunk's event view.
        let name_w = cols.iter().map(|c| c.chars().count()).max().unwrap_or(0);
        for (i, r) in cells.iter().enumerate() {
            writeln!(out, "-- result {} --", i + 1)?;
            for (c, v) in cols.iter().zip(r) {
                if !v.is_empty() {
                    writeln!(out, "{c:>name_w$}  {v}")?;
                }
            }
        }
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Value)]) -> Record {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn jsonl_has_detection_and_result() {
        let rows = vec![row(&[("dest", Value::str("h")), ("p", Value::Multi(vec!["a".into(), "b".into()]))])];
        let mut buf = Vec::new();
        write(&mut buf, Format::Jsonl, &[ResultSet { name: "D", rows: &rows }]).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "{\"detection\":\"D\",\"result\":{\"dest\":\"h\",\"p\":[\"a\",\"b\"]}}\n");
    }

    /// Counts the writes that reach it, as stdout's line-buffered writer sees them.
    #[derive(Default)]
    struct CountingWriter {
        bytes: Vec<u8>,
        writes: usize,
    }

    impl Write for CountingWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Every format reaches the output in a few large writes, not a write per piece of a row.
    #[test]
    fn rows_reach_the_output_in_large_writes() {
        let rows: Vec<Record> = (0..200).map(|i| row(&[("dest", Value::str(format!("host{i}"))), ("n", Value::Num(i as f64))])).collect();
        for format in [Format::Jsonl, Format::Csv, Format::Table] {
            let (mut counted, mut plain) = (CountingWriter::default(), Vec::new());
            write(&mut counted, format, &[ResultSet { name: "D", rows: &rows }]).unwrap();
            write(&mut plain, format, &[ResultSet { name: "D", rows: &rows }]).unwrap();
            assert_eq!(counted.bytes, plain, "{format:?}");
            assert!(counted.writes <= 2, "{format:?}: {} writes", counted.writes);
        }
    }

    #[test]
    fn csv_quotes_and_joins() {
        let rows = vec![row(&[("c", Value::str("a,b")), ("m", Value::Multi(vec!["x".into(), "y".into()]))])];
        let mut buf = Vec::new();
        write(&mut buf, Format::Csv, &[ResultSet { name: "D", rows: &rows }]).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "detection,c,m\nD,\"a,b\",\"x\ny\"\n");
    }
}
