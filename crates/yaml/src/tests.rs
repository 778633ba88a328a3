//! The fast YAML parser against serde_norway: snippets of every construct it reads, what it
//! leaves to serde_norway, and every YAML file of ../shared/escu.

use super::{from_str, key_end, parse, plain_line};
use serde_norway::Value;
use std::path::{Path, PathBuf};

/// `text` is read by the fast parser, to what serde_norway reads.
#[track_caller]
fn same(text: &str) {
    let slow: Value = serde_norway::from_str(text).expect("serde_norway reads the snippet");
    match parse(text) {
        Some(fast) => assert_eq!(fast, slow, "fast parse differs on:\n{text}"),
        None => panic!("fast parser declined:\n{text}"),
    }
}

/// `text` is left to serde_norway.
#[track_caller]
fn declined(text: &str) {
    assert_eq!(parse(text), None, "fast parser took:\n{text}");
}

#[test]
fn mappings_and_sequences_nest_as_serde_norway_reads_them() {
    same("name: A\nid: 1\n");
    same("a:\n  b: 1\n  c:\n    d: x\ne: y\n");
    same("list:\n- a\n- b\nnext: 1\n");
    same("list:\n  - a\n  - b\n");
    same("tests:\n- name: t\n  attack_data:\n  - data: x\n    source: y\n  - data: z\nafter: 1\n");
    same("- - a\n  - b\n- c\n");
    same("a:\n-\n  b: 1\n- \n");
    same("k:\nnext: 2\n");
    same("---\na: 1\n");
    same("# comment\na: 1 # trailing\n\n# between\nb: 'x' # after a quote\n");
    same("");
    same("a: 1\r\nb: |\r\n  x\r\n  y\r\nc: 'q\r\n  r'\r\n");
    declined("a: 1\rb: 2\n");
}

#[test]
fn scalars_resolve_as_serde_norway_resolves_them() {
    for v in [
        "7",
        "0",
        "007",
        "-3",
        "+4",
        "3.5",
        "1e3",
        ".5",
        "0x1F",
        "0o17",
        "1_000",
        "~",
        "null",
        "Null",
        "true",
        "False",
        "yes",
        "no",
        "on",
        "2024-09-30",
        "12:30",
        "-.inf",
        ".nan",
        "18446744073709551615",
        "-0",
        "1.",
        "+",
        "v1.2",
        "nullable",
        "trueish",
        "Tuesday",
        // Left to serde_norway before: ids, versions, times, sentences, signs inside.
        "5fbd9e30-4ea0-4ab2-bd18-0efc5ddf69c0",
        "1.2.3",
        "-30m@m",
        "08/10/2023 10:20:40 AM",
        "0 * * * *",
        "3CX Supply Chain Attack",
        "1e-5",
        "1E+5",
        "+1e5",
        "1-2",
        "0x1F-2",
        "12:30:00",
        "1.5e3.2",
        "infinity",
        "-Infinity",
        "+.INF",
        ".NaN",
        "0b101",
        "1__0",
    ] {
        same(&format!("k: {v}\n"));
        same(&format!("- {v}\n"));
    }
}

#[test]
fn plain_scalars_fold_over_lines() {
    same("d: The first line\n  and the second\n\n  after an empty line\n\n\n  after two\nnext: 1\n");
    same("- a long item\n  folded\n- b\n");
    same("d: text with a#hash and url http://x.y/z?a=b:c\n");
    same("d: ends with spaces   \n");
    same("d: lookup x\n  | eval y=\"z\"\n  [sub] 'q' {b} *c &d !e %f @g `h` >i\n");
    declined("d: first # comment\n  continued\n");
}

#[test]
fn quoted_scalars_keep_their_text() {
    same("s: 'it''s | tstats count from datamodel=X where a=\"b\"'\n");
    same("s: '| search a\n  | stats count\n\n  by b'\nnext: 1\n");
    same("s: ''\n");
    same("s: 'at column 0\n| eval x\n\n  indented'\n");
    declined("s: 'a\n--- b'\n");
    same("s: \"tab\\tnew\\nquote\\\" slash\\/ back\\\\ \\x41\\u00e9\\U0001F600\"\n");
    same("- 'x: y'\n- \"a: b\"\n");
    same("s: \"first\n  second  \\t\n\n  third\\\n  joined\\ \n  x\"\n");
    declined("s: \"\\q\"\n");
}

#[test]
fn block_scalars_keep_or_fold_their_lines() {
    same("s: |\n  line 1\n    indented\n\n  line 3\nnext: 1\n");
    same("s: |-\n  a\n  b\n\n\nnext: 1\n");
    same("s: >\n  folded\n  text\n\n  para\nnext: 1\n");
    same("s: >-\n  a\n  b\n");
    same("- |\n  in a list\n- b\n");
    same("s: |\n  # not a comment\n  x\n");
    same("s: |\n\n  after an empty line\n");
    same("s: >\n\n  after an empty line\n  folded\n");
    same("s: |- # a comment\n  x\n");
    declined("s: |+\n  kept\n\n");
    declined("s: |-#x\n  y\n");
    declined("s: 'x'#y\n");
    declined("s: |2\n    x\n");
    declined("s: >\n  a\n    more indented\n  b\n");
}

#[test]
fn flow_sequences_of_scalars_are_read() {
    same("a: []\nb: [x, 1, true]\n");
    same("- [a, b]\n");
    same("e: ['Abuse', 'it''s', \"q\\t\", 3, x y]\n");
    same("data:\n  https://example.com/a.log\nnext:\n  'quoted'\n");
    declined("a: [x, [y]]\n");
    declined("a: {b: 1}\n");
    declined("a: [x,\n  y]\n");
    declined("a: [x, ]\n");
}

#[test]
fn what_it_does_not_read_is_left_to_serde_norway() {
    declined("a: &x 1\nb: *x\n");
    declined("a: !tag 1\n");
    declined("a: 1\n---\nb: 2\n");
    declined("a: 1\na: 2\n");
    declined("a:\tb\n");
    declined("a: b\n\tc: d\n");
    declined("\u{feff}a: b\n");
    declined("a: x\u{feff}y\n");
    declined("a: b\rc\n");
    declined("'quoted key': 1\n");
    declined("a: 1\n  b: 2\n");
    declined("just a scalar\n");
    declined("a: b: c\n");
    declined("<<: {}\n");
    declined("k: 99999999999999999999\n");
}

#[test]
fn from_str_falls_back_with_serde_norways_errors() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        name: String,
        n: Option<u32>,
    }
    // A number where text is wanted: the value route fails, serde_norway reads the scalar as text.
    let doc: Doc = from_str("name: 2024\nn: 3\n").expect("serde_norway reads it");
    assert_eq!(doc, Doc { name: "2024".into(), n: Some(3) });
    let anchored: Doc = from_str("name: &a x\nn: 1\n").expect("anchors through serde_norway");
    assert_eq!(anchored.name, "x");
    let err = from_str::<Doc>("name: [unclosed\n").expect_err("invalid YAML");
    assert!(err.location().is_some(), "{err}");
}

/// A directory of ../shared (`escu`, `sigma`), when there.
fn shared_dir(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared").join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var_os("CI").is_none(), "{} not found", dir.display());
    eprintln!("skipped: {} not found", dir.display());
    None
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// Every YAML file under `dir` reads alike both ways where the fast parser takes it; it
/// declines at most `max_declined_percent` of them.
fn reads_as_serde_norway(dir: &Path, max_declined_percent: usize) {
    let mut files = Vec::new();
    yaml_files(dir, &mut files);
    assert!(files.len() > 1000, "{} YAML files in {}", files.len(), dir.display());
    let mut declined = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let slow = serde_norway::from_str::<Value>(&text);
        match (parse(&text), slow) {
            (Some(fast), Ok(slow)) => assert_eq!(fast, slow, "{}", file.display()),
            (Some(_), Err(e)) => panic!("{}: fast parser took what serde_norway refuses: {e}", file.display()),
            (None, _) => declined.push(file),
        }
    }
    // The fast path must carry the files: a change that makes it decline common ones fails.
    assert!(
        declined.len() * 100 <= files.len() * max_declined_percent,
        "{} of {} declined, e.g. {:?}",
        declined.len(),
        files.len(),
        &declined[..declined.len().min(5)]
    );
}

#[test]
fn every_escu_file_reads_as_serde_norway_reads_it() {
    if let Some(dir) = shared_dir("escu") {
        reads_as_serde_norway(&dir, 1);
    }
}

#[test]
fn every_sigma_rule_reads_as_serde_norway_reads_it() {
    if let Some(dir) = shared_dir("sigma") {
        reads_as_serde_norway(&dir, 1);
    }
}

#[test]
fn deep_nesting_is_left_to_serde_norway() {
    let deep: String = (0..200).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    declined(&deep);
    assert!(serde_norway::from_str::<Value>(&deep).is_err());
}

/// Mutations of real files (ESCU detections, SigmaHQ rules; a character dropped, doubled or replaced by a YAML indicator, a
/// line indented or dedented, two lines swapped): the parser never panics, and whatever it
/// takes, serde_norway reads to the same value.
#[test]
fn mutated_files_read_as_serde_norway_reads_them_or_are_declined() {
    let mut files = Vec::new();
    for dir in [shared_dir("escu").map(|d| d.join("detections")), shared_dir("sigma").map(|d| d.join("rules"))].into_iter().flatten() {
        yaml_files(&dir, &mut files);
    }
    if files.is_empty() {
        return;
    }
    files.sort();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    const INSERTED: &[u8] = b":#'\"|>-[]{}&*! \\";
    let mut taken = 0;
    for round in 0..3000 {
        let text = std::fs::read_to_string(&files[next(files.len())]).expect("readable");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for _ in 0..1 + round % 3 {
            let i = next(lines.len());
            let line = &mut lines[i];
            let at = (0..=line.len()).filter(|&j| line.is_char_boundary(j)).nth(next(line.len() + 1)).unwrap_or(0);
            match next(7) {
                0 if at < line.len() => {
                    line.remove(at);
                }
                1 => line.insert(at, INSERTED[next(INSERTED.len())] as char),
                2 => line.insert_str(0, "  "),
                3 => *line = line.trim_start_matches(' ').to_string(),
                4 => {
                    let j = next(lines.len());
                    lines.swap(i, j);
                }
                5 => line.insert_str(at, ": "),
                _ => line.push_str(" #"),
            }
        }
        let mutated = lines.join("\n");
        if let Some(fast) = parse(&mutated) {
            taken += 1;
            match serde_norway::from_str::<Value>(&mutated) {
                Ok(slow) => assert_eq!(fast, slow, "mutation {round}:\n{mutated}"),
                Err(e) => panic!("mutation {round}: taken, but serde_norway refuses it ({e}):\n{mutated}"),
            }
        }
    }
    assert!(taken > 300, "only {taken} of 3000 mutations taken");
}

/// The one-pass `plain_line` and `key_end` agree with their plain string-search definitions on
/// lines mixing comments, `: ` and `:` at every place.
#[test]
fn line_scans_agree_with_string_searches() {
    const INDICATORS: &[u8] = b"-?:,[]{}#&*!|>'\"%@`";
    fn plain_by_search(text: &str) -> Option<&str> {
        let text = text.find(" #").map_or(text, |i| &text[..i]).trim_end();
        (!text.is_empty() && !text.contains(": ") && !text.ends_with(':')).then_some(text)
    }
    fn key_by_search(text: &str) -> Option<usize> {
        if INDICATORS.contains(text.as_bytes().first()?) {
            return None;
        }
        let bytes = text.as_bytes();
        let end = (0..bytes.len()).find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|&b| b == b' '))?;
        let key = &text[..end];
        (!key.contains(" #") && !key.ends_with(' ') && key != "<<").then_some(end)
    }
    let parts = ["a", " ", ":", "#", " #", ": ", "b:c", "<<", "\u{3000}", "-"];
    let mut lines = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> = lines.iter().flat_map(|l| parts.iter().map(move |p| format!("{l}{p}"))).collect();
        lines.extend(longer);
    }
    for b in 0..=u8::MAX {
        assert_eq!(super::is_indicator(b), INDICATORS.contains(&b), "is_indicator({b})");
    }
    for line in &lines {
        assert_eq!(plain_line(line), plain_by_search(line), "plain_line({line:?})");
        assert_eq!(key_end(line), key_by_search(line), "key_end({line:?})");
    }
}

/// `lines` splits as `str::lines` does, at the ends, on empty lines and CRLFs.
#[test]
fn lines_split_as_str_lines() {
    for text in ["", "\n", "a", "a\n", "a\r\n", "\n\na", "a\n\n", "a\r\nb\r\n\r\nc", "a\nb", "é\n\r\n"] {
        assert_eq!(super::lines(text).collect::<Vec<_>>(), text.lines().collect::<Vec<_>>(), "{text:?}");
    }
}

#[test]
fn texts_that_are_no_number_resolve_without_libyaml() {
    use crate::scan::never_a_number;
    // Ids, versions, times and sentences starting with a digit are strings at once...
    for t in ["5fbd9e30-4ea0-4ab2-bd18-0efc5ddf69c0", "1.2.3", "-30m@m", "0 * * * *", "3CX Supply", "12:30", "1-2"] {
        assert!(never_a_number(t), "{t}");
        assert_eq!(serde_norway::from_str::<Value>(t).expect("reads"), Value::String(t.to_string()), "{t}");
    }
    // ...while whatever could be a number is still asked of serde_norway.
    for t in ["1e-5", "1E+5", "+1", "-1", "0x1F", "0o17", "0b101", "1_000", ".inf", "-.Inf", ".NaN", "infinity", "3.5", "2024e1"] {
        assert!(!never_a_number(t), "{t}");
    }
}
