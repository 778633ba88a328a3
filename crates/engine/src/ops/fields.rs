//! Field selection and naming: rename, table, fields.

use vigil_model::Record;

/// Matches a field name against a pattern with `*` wildcards (case-sensitive, as field names
/// are), returning what each `*` matched.
pub(crate) fn wild_capture<'a>(pattern: &str, name: &'a str) -> Option<Vec<&'a str>> {
    // The fixed ends are checked before anything is allocated: `rename Processes.* AS *` tries
    // every column, and most do not match.
    let (Some(first_star), Some(last_star)) = (pattern.find('*'), pattern.rfind('*')) else {
        return (pattern == name).then(Vec::new);
    };
    let first = &pattern[..first_star];
    let last = &pattern[last_star + 1..];
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return None;
    }
    let mut captures = Vec::new();
    let mut pos = first.len();
    let end = name.len() - last.len();
    if first_star < last_star {
        for piece in pattern[first_star + 1..last_star].split('*') {
            let rest = &name[pos..end];
            let i = rest.find(piece)?;
            captures.push(&rest[..i]);
            pos += i + piece.len();
        }
    }
    captures.push(&name[pos..end]);
    Some(captures)
}

/// `target` with each `*` replaced by the next capture (rename's `a* AS b*`).
pub(crate) fn fill_captures(target: &str, captures: &[&str]) -> String {
    let mut out = String::new();
    let mut it = captures.iter();
    for (i, piece) in target.split('*').enumerate() {
        if i > 0 {
            out.push_str(it.next().copied().unwrap_or(""));
        }
        out.push_str(piece);
    }
    out
}

/// What `rename`, `table` and `fields` change: a list of named columns. Rows implement it,
/// and so does the plan's field lineage (`plan::lineage`), so both follow one definition.
pub(crate) trait Columns {
    fn for_each_name(&self, f: &mut dyn FnMut(&str));
    fn has_column(&self, name: &str) -> bool;
    /// Renames in place (keeping the column order); an existing `to` is replaced.
    fn rename_column(&mut self, from: &str, to: &str);
    /// Keeps exactly the columns `order` names that exist, in that order.
    fn project_columns(&mut self, order: &[String]);
    fn retain_columns(&mut self, keep: &dyn Fn(&str) -> bool);
}

impl Columns for Record {
    fn for_each_name(&self, f: &mut dyn FnMut(&str)) {
        self.names().for_each(f);
    }

    fn has_column(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn rename_column(&mut self, from: &str, to: &str) {
        self.rename_field(from, to);
    }

    fn project_columns(&mut self, order: &[String]) {
        *self = self.project(order);
    }

    fn retain_columns(&mut self, keep: &dyn Fn(&str) -> bool) {
        self.retain(|n, _| keep(n));
    }
}

/// Applies `rename` pairs to `cols`, returning the renames made (old, new), in order.
pub(crate) fn rename_columns(cols: &mut impl Columns, pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut moves = Vec::new();
    for (from, to) in pairs {
        if !from.contains('*') {
            if cols.has_column(from) {
                moves.push((from.clone(), to.clone()));
                cols.rename_column(from, to);
            }
            continue;
        }
        // Names are copied only for the columns that match.
        let mut found: Vec<(String, String)> = Vec::new();
        cols.for_each_name(&mut |n| {
            if let Some(c) = wild_capture(from, n) {
                found.push((n.to_string(), fill_captures(to, &c)));
            }
        });
        for (old, new) in &found {
            cols.rename_column(old, new);
        }
        moves.extend(found);
    }
    moves
}

/// `table`: the columns matching `patterns`, in pattern order.
pub(crate) fn table_columns(cols: &mut impl Columns, patterns: &[String]) {
    let names = selected(cols, patterns);
    cols.project_columns(&names);
}

/// `fields` (`remove`: `fields -`).
pub(crate) fn fields_columns(cols: &mut impl Columns, remove: bool, patterns: &[String]) {
    if remove {
        cols.retain_columns(&|n| !patterns.iter().any(|p| wild_capture(p, n).is_some()));
    } else {
        table_columns(cols, &fields_kept(patterns));
    }
}

/// What `fields a b` keeps: the internal fields too, unless they are named for removal.
fn fields_kept(patterns: &[String]) -> Vec<String> {
    let mut keep = patterns.to_vec();
    keep.extend(["_time".to_string(), "_raw".to_string()]);
    keep
}

/// Renames made, (old, new), in order.
type Moves = Vec<(String, String)>;

/// How the renames worked out on one row replay on rows with the same names.
enum Replay {
    /// No field was replaced by another's rename, so every field kept its position: the
    /// names after, in order.
    Names(Vec<String>),
    /// Some were: the renames, to make again.
    Moves(Moves),
}

pub(crate) fn rename(mut rows: Vec<Record>, pairs: &[(String, String)]) -> Vec<Record> {
    // Rows from one scan mostly share their field names, and the same names always lead to
    // the same renames: work them out once and replay them while the names repeat.
    let mut cache: Option<(Vec<String>, Replay)> = None;
    for row in &mut rows {
        if let Some((names, replay)) = &cache {
            if row.names().eq(names.iter().map(String::as_str)) {
                match replay {
                    Replay::Names(after) => row.set_names(after.iter().map(String::as_str)),
                    Replay::Moves(moves) => moves.iter().for_each(|(old, new)| row.rename_field(old, new)),
                }
                continue;
            }
        }
        let initial: Vec<String> = row.names().map(str::to_string).collect();
        let moves = rename_columns(row, pairs);
        // Renames happen in place unless one replaces an existing field, which drops it.
        let replay =
            if row.len() == initial.len() { Replay::Names(row.names().map(str::to_string).collect()) } else { Replay::Moves(moves) };
        cache = Some((initial, replay));
    }
    rows
}

/// Names matching `patterns`, in pattern order (each once).
fn selected(cols: &impl Columns, patterns: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in patterns {
        cols.for_each_name(&mut |n| {
            if wild_capture(p, n).is_some() && !out.iter().any(|x| x == n) {
                out.push(n.to_string());
            }
        });
    }
    out
}

pub(crate) fn table(mut rows: Vec<Record>, patterns: &[String]) -> Vec<Record> {
    rows.iter_mut().for_each(|r| table_columns(r, patterns));
    rows
}

pub(crate) fn fields(mut rows: Vec<Record>, remove: bool, patterns: &[String]) -> Vec<Record> {
    if remove {
        rows.iter_mut().for_each(|r| fields_columns(r, true, patterns));
    } else {
        let keep = fields_kept(patterns);
        rows.iter_mut().for_each(|r| table_columns(r, &keep));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::Value;

    #[test]
    fn captures() {
        assert_eq!(wild_capture("Processes.*", "Processes.dest"), Some(vec!["dest"]));
        assert_eq!(wild_capture("Processes.*", "Filesystem.dest"), None);
        assert_eq!(wild_capture("a*b*c", "aXbYc"), Some(vec!["X", "Y"]));
        assert_eq!(fill_captures("*", &["dest"]), "dest");
        assert_eq!(fill_captures("x_*_y", &["d"]), "x_d_y");
    }

    /// The definition before the ends were checked first: split the pattern, then match.
    fn capture_by_pieces<'a>(pattern: &str, name: &'a str) -> Option<Vec<&'a str>> {
        let pieces: Vec<&str> = pattern.split('*').collect();
        if pieces.len() == 1 {
            return (pattern == name).then(Vec::new);
        }
        let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
        if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
            return None;
        }
        let (mut captures, mut pos, end) = (Vec::new(), first.len(), name.len() - last.len());
        for piece in &pieces[1..pieces.len() - 1] {
            let i = name[pos..end].find(piece)?;
            captures.push(&name[pos..pos + i]);
            pos += i + piece.len();
        }
        captures.push(&name[pos..end]);
        Some(captures)
    }

    #[test]
    fn captures_match_the_split_definition() {
        let patterns = ["*", "**", "a*", "*a", "a*b", "a**b", "*b*", "a*b*c", "P.*", "*.*", "ab", "", "a*a"];
        let names = ["", "a", "ab", "aab", "aXbYc", "abc", "P.dest", "x.y.z", "ba", "aa", "a*b", "é*é"];
        for p in patterns {
            for n in names {
                assert_eq!(wild_capture(p, n), capture_by_pieces(p, n), "{p:?} {n:?}");
            }
        }
    }

    #[test]
    fn rename_replays_for_rows_with_the_same_names() {
        let mk = |pairs: &[(&str, &str)]| -> Record { pairs.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect() };
        let rows = vec![
            mk(&[("P.dest", "a"), ("P.user", "u"), ("count", "1")]),
            mk(&[("P.dest", "b"), ("P.user", "v"), ("count", "2")]),
            mk(&[("P.dest", "c"), ("count", "3")]),
        ];
        let out = rename(rows, &[("P.*".into(), "*".into()), ("count".into(), "n".into())]);
        assert_eq!(out[1].names().collect::<Vec<_>>(), ["dest", "user", "n"]);
        assert_eq!(out[1].value("dest"), &Value::str("b"));
        assert_eq!(out[2].names().collect::<Vec<_>>(), ["dest", "n"]);
    }

    /// Each row as renamed alone, with the rows after the first renamed from the first one's
    /// replay: renames in place, and renames that replace an existing field (which moves the
    /// fields after it).
    #[test]
    fn replayed_renames_equal_renaming_each_row_alone() {
        let mk = |pairs: &[(&str, &str)]| -> Record { pairs.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect() };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        let cases = [
            vec![pair("P.*", "*"), pair("count", "n")],
            vec![pair("P.*", "*"), pair("user", "dest")],
            vec![pair("count", "P.user"), pair("P.*", "x_*")],
        ];
        for pairs in &cases {
            let rows: Vec<Record> =
                (0..3).map(|i| mk(&[("P.dest", "d"), ("P.user", &format!("u{i}")), ("count", &i.to_string())])).collect();
            let alone: Vec<Record> = rows
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    rename_columns(&mut r, pairs);
                    r
                })
                .collect();
            assert_eq!(rename(rows, pairs), alone, "{pairs:?}");
        }
    }

    #[test]
    fn rename_wildcard_drops_prefix_and_keeps_order() {
        let r: Record = [("Processes.dest", "h"), ("count", "1"), ("Processes.user", "u")]
            .iter()
            .map(|(k, v)| (k.to_string(), Value::str(*v)))
            .collect();
        let out = rename(vec![r], &[("Processes.*".into(), "*".into())]);
        assert_eq!(out[0].names().collect::<Vec<_>>(), ["dest", "count", "user"]);
    }
}
