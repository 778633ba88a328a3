//! Whole-pipeline tests: the seed search and each command's syntax.

use crate::ast::*;
use crate::{parse, ErrorKind};

fn v(s: &str) -> SearchValue {
    SearchValue { text: s.into(), quoted: false }
}
fn q(s: &str) -> SearchValue {
    SearchValue { text: s.into(), quoted: true }
}
fn eq(f: &str, val: &str) -> SearchExpr {
    SearchExpr::Compare { field: f.into(), op: CompareOp::Eq, value: v(val) }
}
fn kinds(text: &str) -> Vec<CommandKind> {
    parse(text).unwrap_or_else(|e| panic!("{}", e.render(text, "test"))).commands.into_iter().map(|c| c.kind).collect()
}
fn one(text: &str) -> CommandKind {
    let mut k = kinds(text);
    assert_eq!(k.len(), 1, "{text}");
    k.remove(0)
}
fn err(text: &str) -> crate::SplError {
    parse(text).expect_err(text)
}
fn agg(func: &str, arg: Option<&str>, name: &str) -> Aggregation {
    Aggregation { func: func.into(), arg: arg.map(|a| AggArg::Field(a.into())), name: name.into() }
}

/// The seed detection's search after macro expansion (DESIGN.md "The seed's search").
const SEED: &str = r#"| tstats summariesonly=false allow_old_summaries=true fillnull_value=null count min(_time) as firstTime max(_time) as lastTime
  from datamodel=Endpoint.Processes where (Processes.process_name=msiexec.exe OR Processes.original_file_name=msiexec.exe) Processes.process IN ("*http://*", "*https://*")
  by Processes.action Processes.dest Processes.original_file_name Processes.parent_process
  Processes.parent_process_exec Processes.parent_process_guid Processes.parent_process_id
  Processes.parent_process_name Processes.parent_process_path Processes.process Processes.process_exec
  Processes.process_guid Processes.process_hash Processes.process_id Processes.process_integrity_level
  Processes.process_name Processes.process_path Processes.user Processes.user_id Processes.vendor_product
| rename Processes.* AS *
| convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)
| convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(lastTime)
| search *"#;

#[test]
fn seed_search() {
    let p = parse(SEED).unwrap_or_else(|e| panic!("{}", e.render(SEED, "seed")));
    let names: Vec<&str> = p.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["tstats", "rename", "convert", "convert", "search"]);
    let CommandKind::Tstats(t) = &p.commands[0].kind else { panic!() };
    assert_eq!(t.option("summariesonly"), Some("false"));
    assert_eq!(t.option("allow_old_summaries"), Some("true"));
    assert_eq!(t.option("fillnull_value"), Some("null"));
    assert_eq!(
        t.aggregations,
        vec![agg("count", None, "count"), agg("min", Some("_time"), "firstTime"), agg("max", Some("_time"), "lastTime")]
    );
    assert_eq!(t.datamodel, "Endpoint.Processes");
    assert_eq!(
        t.filter,
        SearchExpr::And(vec![
            SearchExpr::Or(vec![eq("Processes.process_name", "msiexec.exe"), eq("Processes.original_file_name", "msiexec.exe")]),
            SearchExpr::In { field: "Processes.process".into(), values: vec![q("*http://*"), q("*https://*")] },
        ])
    );
    // DESIGN.md's by-clause names 20 fields (action ... vendor_product).
    assert_eq!(t.by.len(), 20);
    assert_eq!(t.by[0], "Processes.action");
    assert_eq!(t.by[19], "Processes.vendor_product");
    assert_eq!(t.span, None);
    assert_eq!(p.commands[1].kind, CommandKind::Rename(vec![("Processes.*".into(), "*".into())]));
    assert_eq!(
        p.commands[2].kind,
        CommandKind::Convert(Convert {
            timeformat: Some("%Y-%m-%dT%H:%M:%S".into()),
            conversions: vec![Conversion { func: "ctime".into(), field: "firstTime".into(), alias: None }],
        })
    );
    assert_eq!(p.commands[4].kind, CommandKind::Search(SearchExpr::All));
    // Spans point at the command text.
    let c = &p.commands[1];
    assert_eq!(&SEED[c.span.start..c.span.end], "rename Processes.* AS *");
}

#[test]
fn seed_via_macros() {
    use crate::{expand_macros, ExpandLimits, MacroDef, MacroSource};
    struct M(Vec<MacroDef>);
    impl MacroSource for M {
        fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef> {
            self.0.iter().find(|d| d.name == name && d.args.len() == arity)
        }
    }
    let d = |n: &str, a: &[&str], def: &str| MacroDef {
        name: n.into(),
        args: a.iter().map(|s| s.to_string()).collect(),
        definition: def.into(),
    };
    let m = M(vec![
        d(
            "security_content_summariesonly",
            &[],
            "summariesonly=`summariesonly_config` allow_old_summaries=`oldsummaries_config` fillnull_value=`fillnull_config`",
        ),
        d("summariesonly_config", &[], "false"),
        d("oldsummaries_config", &[], "true"),
        d("fillnull_config", &[], "null"),
        d("process_msiexec", &[], "(Processes.process_name=msiexec.exe OR Processes.original_file_name=msiexec.exe)"),
        d("drop_dm_object_name", &["object"], "rename $object$.* AS *"),
        d("security_content_ctime", &["field"], "convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)"),
        d("windows_msiexec_remote_download_filter", &[], "search *"),
    ]);
    let raw = "| tstats `security_content_summariesonly` count min(_time) as firstTime max(_time) as lastTime from datamodel=Endpoint.Processes where `process_msiexec` Processes.process IN (\"*http://*\", \"*https://*\") by Processes.action Processes.dest | `drop_dm_object_name(\"Processes\")` | `security_content_ctime(firstTime)` | `security_content_ctime(lastTime)` | `windows_msiexec_remote_download_filter`";
    let text = expand_macros(raw, &m, &ExpandLimits::default()).unwrap();
    let p = parse(&text).unwrap();
    assert_eq!(p.commands.len(), 5);
    assert_eq!(p.commands[1].kind, CommandKind::Rename(vec![("Processes.*".into(), "*".into())]));
}

#[test]
fn implicit_search_and_pipes_in_quotes() {
    let k = kinds(r#"sysmon EventCode=1 CommandLine="*a|b*" | where x="|""#);
    assert_eq!(k.len(), 2);
    let CommandKind::Search(SearchExpr::And(items)) = &k[0] else { panic!("{k:?}") };
    assert_eq!(items[2], SearchExpr::Compare { field: "CommandLine".into(), op: CompareOp::Eq, value: q("*a|b*") });
    assert_eq!(one("search a=1"), CommandKind::Search(eq("a", "1")));
    assert_eq!(one("| SEARCH a=1"), CommandKind::Search(eq("a", "1")));
}

#[test]
fn replace_and_spath() {
    assert_eq!(
        one(r#"| replace "%%8448" with "Success removed", "%%8450" with "Failure" in AuditPolicyChanges"#),
        CommandKind::Replace {
            pairs: vec![("%%8448".into(), "Success removed".into()), ("%%8450".into(), "Failure".into())],
            fields: vec!["AuditPolicyChanges".into()],
        }
    );
    assert_eq!(one("| spath input=UserData_Xml"), CommandKind::Spath { input: Some("UserData_Xml".into()), output: None, path: None });
    assert!(err("| replace a b").message.contains("with"));
}

#[test]
fn xmlkv_and_foreach() {
    assert_eq!(one("| xmlkv Message"), CommandKind::Xmlkv { field: Some("Message".into()) });
    assert_eq!(one("| xmlkv"), CommandKind::Xmlkv { field: None });
    let text = "| foreach a* b [eval x=mvappend(x, '<<FIELD>>')]";
    let CommandKind::Foreach(fe) = one(text) else { panic!() };
    assert_eq!(fe.fields, ["a*", "b"]);
    assert_eq!(fe.template, "eval x=mvappend(x, '<<FIELD>>')");
    assert_eq!(&text[fe.template_span.start..fe.template_span.end], fe.template);
    assert!(err("| foreach [eval x=1]").message.contains("at least one field"));
}

#[test]
fn unsupported_command() {
    let text = "| tstats count from datamodel=Endpoint.Processes | addtotals";
    let e = err(text);
    assert_eq!(e.kind, ErrorKind::UnsupportedCommand("addtotals".into()));
    assert_eq!(e.message, "unsupported command `addtotals`");
    assert_eq!(&text[e.span.start..e.span.end], "addtotals");
    // Reported even when an earlier command has a syntax error.
    let e = err("| eval x=( | apply model");
    assert_eq!(e.kind, ErrorKind::UnsupportedCommand("apply".into()));
    for c in ["apply model", "map search=\"x\"", "appendpipe [stats count]", "addtotals", "streamstats count"] {
        let e = err(&format!("| inputlookup t | {c}"));
        assert!(matches!(e.kind, ErrorKind::UnsupportedCommand(_)), "{c}: {e:?}");
    }
}

#[test]
fn pipeline_errors() {
    assert!(err("a | | search b").message.contains("empty command"));
    assert!(err("| join x [search a").message.contains("expected `]`"));
    assert!(err("a ]").message.contains("`]`"));
    assert!(err("| tstats count where x=\"abc").message.contains("unterminated string"));
    assert!(err("| eval").message.contains("expected `field=expression`"));
    assert!(err("| rename a b").message.contains("expected `AS`"));
}

#[test]
fn tstats_variants() {
    let CommandKind::Tstats(t) = one("| TSTATS count FROM datamodel=Endpoint.Processes BY _time span=1h Processes.dest, Processes.user")
    else {
        panic!()
    };
    assert_eq!(t.by, vec!["_time", "Processes.dest", "Processes.user"]);
    assert_eq!(t.span.as_deref(), Some("1h"));
    assert_eq!(t.filter, SearchExpr::All);
    let CommandKind::Tstats(t) = one("| tstats prestats=f dc(x) distinct_count(y) values(Processes.process) latest(z) as l from datamodel=Endpoint where nodename=Processes.x x=\"by\" (a by) by a") else { panic!() };
    assert_eq!(t.option("PRESTATS"), Some("f"));
    assert_eq!(
        t.aggregations,
        vec![
            agg("dc", Some("x"), "dc(x)"),
            agg("dc", Some("y"), "distinct_count(y)"),
            agg("values", Some("Processes.process"), "values(Processes.process)"),
            agg("latest", Some("z"), "l"),
        ]
    );
    assert_eq!(t.datamodel, "Endpoint");
    assert_eq!(
        t.filter,
        SearchExpr::And(vec![
            eq("nodename", "Processes.x"),
            SearchExpr::Compare { field: "x".into(), op: CompareOp::Eq, value: q("by") },
            // Parenthesised AND is flattened into the enclosing AND (same meaning).
            SearchExpr::Term(v("a")),
            SearchExpr::Term(v("by")),
        ])
    );
    assert_eq!(t.by, vec!["a"]);
    assert!(err("| tstats from datamodel=X").message.contains("at least one aggregation"));
    assert!(err("| tstats count from datamodel=").message.contains("missing value after `datamodel=`"));
}

#[test]
fn stats_and_eventstats() {
    let CommandKind::Stats(s) = one(r#"| stats count(eval(x>1)) as y, values(a) AS "Search Name" dc(b) by f1, f2 f3"#) else { panic!() };
    assert_eq!(s.by, vec!["f1", "f2", "f3"]);
    assert_eq!(s.aggregations[0].func, "count");
    assert!(matches!(s.aggregations[0].arg, Some(AggArg::Eval(Expr::Binary { op: BinaryOp::Gt, .. }))));
    assert_eq!(s.aggregations[0].name, "y");
    assert_eq!(s.aggregations[1], agg("values", Some("a"), "Search Name"));
    assert_eq!(s.aggregations[2], agg("dc", Some("b"), "dc(b)"));
    let CommandKind::Stats(s) = one("| stats values(a) as aceFlags(inheritance) values(b) as b") else { panic!() };
    assert_eq!(s.aggregations[0].name, "aceFlags(inheritance)");
    let CommandKind::Eventstats(s) = one("| eventstats count as total") else { panic!() };
    assert_eq!(s.aggregations, vec![agg("count", None, "total")]);
    assert!(s.by.is_empty());
    assert!(err("| stats count by").message.contains("after `by`"));
}

#[test]
fn eval_and_where() {
    let CommandKind::Eval(a) = one(r#"| eval a=1, b=a+1 c=lower(x)"#) else { panic!() };
    assert_eq!(a.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    let CommandKind::Where(w) = one(r#"| where isnotnull(x) AND like(p, "%a%")"#) else { panic!() };
    assert!(matches!(w, Expr::Binary { op: BinaryOp::And, .. }));
}

#[test]
fn rename_table_fields() {
    assert_eq!(
        one(r#"| rename a as b, "c d" AS e, Processes.* as *"#),
        CommandKind::Rename(vec![("a".into(), "b".into()), ("c d".into(), "e".into()), ("Processes.*".into(), "*".into())])
    );
    assert_eq!(one(r#"| table a, "b c" d*"#), CommandKind::Table(vec!["a".into(), "b c".into(), "d*".into()]));
    assert_eq!(one("| fields - a b"), CommandKind::Fields { remove: true, fields: vec!["a".into(), "b".into()] });
    assert_eq!(one("| fields + a"), CommandKind::Fields { remove: false, fields: vec!["a".into()] });
    assert_eq!(one("| fields a, b"), CommandKind::Fields { remove: false, fields: vec!["a".into(), "b".into()] });
}

#[test]
fn dedup_sort_head() {
    let key = |f: &str, d: bool, m: &str| SortKey { field: f.into(), descending: d, mode: m.into() };
    assert_eq!(
        one("| dedup 3 a b keepempty=true consecutive=true sortby -f"),
        CommandKind::Dedup(Dedup {
            count: 3,
            fields: vec!["a".into(), "b".into()],
            keepempty: true,
            consecutive: true,
            sortby: vec![key("f", true, "auto")]
        })
    );
    assert_eq!(
        one("| sort 100 -a + b num(c) - str(d)"),
        CommandKind::Sort(Sort {
            limit: Some(100),
            keys: vec![key("a", true, "auto"), key("b", false, "auto"), key("c", false, "num"), key("d", true, "str")]
        })
    );
    assert_eq!(one("| sort - count"), CommandKind::Sort(Sort { limit: None, keys: vec![key("count", true, "auto")] }));
    assert_eq!(one("| sort limit=5 x"), CommandKind::Sort(Sort { limit: Some(5), keys: vec![key("x", false, "auto")] }));
    assert_eq!(one("| head"), CommandKind::Head(10));
    assert_eq!(one("| head 5"), CommandKind::Head(5));
    assert_eq!(one("| head limit=5"), CommandKind::Head(5));
    assert!(err("| head x").message.contains("whole number"));
}

#[test]
fn convert_join_lookup() {
    assert_eq!(
        one("| convert ctime(a) as b mktime(c)"),
        CommandKind::Convert(Convert {
            timeformat: None,
            conversions: vec![
                Conversion { func: "ctime".into(), field: "a".into(), alias: Some("b".into()) },
                Conversion { func: "mktime".into(), field: "c".into(), alias: None },
            ],
        })
    );
    let CommandKind::Join(j) =
        one("| join type=outer max=0 dest, process_guid [ | tstats count from datamodel=Endpoint.Processes by dest | search \"]\" ]")
    else {
        panic!()
    };
    assert_eq!(j.options, vec![("type".to_string(), "outer".to_string()), ("max".to_string(), "0".to_string())]);
    assert_eq!(j.fields, vec!["dest", "process_guid"]);
    assert_eq!(j.subsearch.commands.len(), 2);
    let CommandKind::Join(j) = one("| join x [search a=1 | stats count by x]") else { panic!() };
    assert_eq!(j.subsearch.commands[0].kind, CommandKind::Search(eq("a", "1")));
    assert_eq!(
        one("| lookup local=true t f1 AS e1 f2 OUTPUTNEW o1 AS x o2"),
        CommandKind::Lookup(Lookup {
            table: "t".into(),
            options: vec![("local".into(), "true".into())],
            inputs: vec![("f1".into(), "e1".into()), ("f2".into(), "f2".into())],
            overwrite: false,
            outputs: vec![("o1".into(), "x".into()), ("o2".into(), "o2".into())],
        })
    );
    let CommandKind::Lookup(l) = one("| lookup t f output o") else { panic!() };
    assert!(l.overwrite);
    assert_eq!(
        one("| inputlookup append=t t.csv where a=1"),
        CommandKind::Inputlookup(Inputlookup {
            table: "t.csv".into(),
            options: vec![("append".into(), "t".into())],
            filter: Some(eq("a", "1"))
        })
    );
}

#[test]
fn rex_regex() {
    assert_eq!(
        one(r#"| rex field=Image max_match=10 "(?<ImageFolderPath>.+\\\)""#),
        CommandKind::Rex(Rex { field: "Image".into(), pattern: r"(?<ImageFolderPath>.+\\)".into(), sed: false, max_match: 10 })
    );
    assert_eq!(
        one(r#"| rex mode=sed field=x "s/\"//g""#),
        CommandKind::Rex(Rex { field: "x".into(), pattern: r#"s/"//g"#.into(), sed: true, max_match: 1 })
    );
    assert_eq!(
        one(r#"| regex process="(?i)(gpupdate\.exe.{0,4}$)""#),
        CommandKind::Regex(RegexCmd { field: "process".into(), negate: false, pattern: r"(?i)(gpupdate\.exe.{0,4}$)".into() })
    );
    assert_eq!(
        one(r#"| regex file_name !=  "\\x{202E}""#),
        CommandKind::Regex(RegexCmd { field: "file_name".into(), negate: true, pattern: r"\x{202E}".into() })
    );
    assert_eq!(one(r#"| regex "\d+""#), CommandKind::Regex(RegexCmd { field: "_raw".into(), negate: false, pattern: r"\d+".into() }));
}

#[test]
fn fillnull_bin_mv() {
    assert_eq!(one("| fillnull"), CommandKind::Fillnull(Fillnull { value: "0".into(), fields: vec![] }));
    assert_eq!(
        one("| fillnull value=NULL a b"),
        CommandKind::Fillnull(Fillnull { value: "NULL".into(), fields: vec!["a".into(), "b".into()] })
    );
    let bin = |f: &str, s: Option<&str>, b: Option<u64>, a: Option<&str>| {
        CommandKind::Bin(Bin { field: f.into(), span: s.map(Into::into), bins: b, alias: a.map(Into::into) })
    };
    assert_eq!(one("| bucket _time span=1h"), bin("_time", Some("1h"), None, None));
    assert_eq!(one("| bin span=10m bins=5 _time as t"), bin("_time", Some("10m"), Some(5), Some("t")));
    assert_eq!(one("| mvexpand x limit=3"), CommandKind::Mvexpand { field: "x".into(), limit: Some(3) });
    assert_eq!(one("| makemv delim=\",\" x"), CommandKind::Makemv { delim: ",".into(), field: "x".into() });
    assert_eq!(one("| makemv x"), CommandKind::Makemv { delim: " ".into(), field: "x".into() });
}

#[test]
fn never_panics_on_garbage() {
    let samples = [
        "",
        "|",
        "||",
        "| tstats",
        "| tstats count from",
        "| tstats count by",
        "| stats count(",
        "| stats count(eval(",
        "| eval x=(",
        "| join [",
        "| join ]",
        "]",
        "[",
        "\"",
        "| rex",
        "| regex",
        "| sort -",
        "| dedup",
        "| lookup",
        "| convert ctime(",
        "| bin",
        "a=\"\\",
        "é | é",
        "| eval é=1",
        "NOT",
        "(",
        ")",
        "x IN (",
        "x IN",
        "| where 1e",
        "| eval x='a",
    ];
    for s in samples {
        let _ = parse(s);
        let _ = crate::parse_eval_expr(s);
        let _ = crate::parse_search_expr(s);
    }
    // Every prefix of the seed search (on char boundaries).
    for i in 0..SEED.len() {
        if SEED.is_char_boundary(i) {
            let _ = parse(&SEED[..i]);
        }
    }
}

#[test]
fn quoted_field_names_in_search() {
    assert_eq!(
        one(r#"search "Processes.process"="x""#),
        CommandKind::Search(SearchExpr::Compare { field: "Processes.process".into(), op: CompareOp::Eq, value: q("x") })
    );
}

/// After `field=` (or `<`, `>`, `!=`), Splunk reads the value up to whitespace, so a value may
/// contain comparison characters; `\"` and `\\` escape in unquoted words as in quoted ones.
#[test]
fn unquoted_values_with_operators_and_escapes() {
    assert_eq!(one("search uri_query=*cmd=*"), CommandKind::Search(eq("uri_query", "*cmd=*")));
    assert_eq!(one("search q=*<script>* b=1"), CommandKind::Search(SearchExpr::And(vec![eq("q", "*<script>*"), eq("b", "1")])));
    assert_eq!(
        one("search url!=*a=b*"),
        CommandKind::Search(SearchExpr::Compare { field: "url".into(), op: CompareOp::Ne, value: v("*a=b*") })
    );
    assert_eq!(one("search (x=a=b)"), CommandKind::Search(eq("x", "a=b")));
    assert_eq!(one("search x IN (a=b, c)"), CommandKind::Search(SearchExpr::In { field: "x".into(), values: vec![v("a=b"), v("c")] }));
    // The field name still ends at the operator; comparisons keep working.
    assert_eq!(
        one("search count>=5"),
        CommandKind::Search(SearchExpr::Compare { field: "count".into(), op: CompareOp::Ge, value: v("5") })
    );
    // Escaped quotes and backslashes in unquoted words.
    assert_eq!(one(r#"search x=\"a\" y=1"#), CommandKind::Search(SearchExpr::And(vec![eq("x", r#""a""#), eq("y", "1")])));
    assert_eq!(one(r#"search x=*\\"#), CommandKind::Search(eq("x", r"*\")));
    assert_eq!(one(r#"search \"cmd\""#), CommandKind::Search(SearchExpr::Term(v(r#""cmd""#))));
    // An escaped quote opens no string: the pipe after it still splits.
    assert_eq!(kinds(r#"search x=\"a\" | where y=1"#).len(), 2);
}

/// A cheap deterministic fuzzer (no dependency): random SPL-ish strings must never panic or
/// hang the parser or the expander.
#[test]
fn fuzz_no_panic() {
    use crate::{expand_macros, ExpandLimits, MacroDef, MacroSource};
    struct Loop(MacroDef);
    impl MacroSource for Loop {
        fn lookup(&self, _: &str, _: usize) -> Option<&MacroDef> {
            Some(&self.0)
        }
    }
    let src = Loop(MacroDef { name: "m".into(), args: vec!["a".into()], definition: "x $a$ `m(1)`".into() });
    let pieces = [
        "|",
        " ",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "'",
        "\\",
        "=",
        "!=",
        "<",
        ">=",
        ",",
        "*",
        "`",
        "```",
        "$a$",
        "-",
        ".",
        "AND",
        "OR",
        "NOT",
        "by",
        "as",
        "IN",
        "from",
        "where",
        "eval",
        "tstats",
        "stats",
        "count",
        "x",
        "1",
        "1e",
        "é",
        "join",
        "rename",
        "sort",
        "rex",
        "dedup",
        "lookup",
        "OUTPUT",
        "datamodel",
        "search",
        "eval(",
        "span=",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut s = String::new();
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let n = (state >> 59) as usize + 1;
        for _ in 0..n {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s.push_str(pieces[(state >> 33) as usize % pieces.len()]);
        }
        let _ = parse(&s);
        let _ = crate::parse_search_expr(&s);
        let _ = crate::parse_eval_expr(&s);
        let _ = expand_macros(&s, &src, &ExpandLimits::default());
    }
}

#[test]
fn error_rendering_points_at_the_problem() {
    let text = "| tstats count from datamodel=Endpoint.Processes where (a=1 OR b=2 by x";
    let e = err(text);
    let r = e.render(text, "search");
    assert!(e.message.contains("expected `)` to close `(` opened at column 56"), "{r}");
    assert_eq!(&text[e.span.start..e.span.end], "(");
    assert!(r.contains("search:1:56"), "{r}");
}

fn txn(fields: &[&str]) -> Transaction {
    Transaction {
        fields: fields.iter().map(|f| f.to_string()).collect(),
        maxspan: None,
        maxpause: None,
        maxevents: None,
        startswith: None,
        endswith: None,
        connected: true,
        keepevicted: false,
        mvlist: MvList::Off,
        mvraw: false,
        delim: " ".into(),
    }
}

#[test]
fn transaction_escu_forms() {
    let mut want = txn(&["src_user"]);
    want.connected = false;
    want.maxspan = Some("180m".into());
    assert_eq!(kinds("| inputlookup t | transaction src_user connected=false maxspan=180m")[1], CommandKind::Transaction(want));

    let mut want = txn(&["ObjectDN", "AttributeValue"]);
    want.startswith = Some(TxnFilter::Search(SearchExpr::And(vec![
        eq("EventCode", "5136"),
        SearchExpr::Compare { field: "OperationType".into(), op: CompareOp::Eq, value: q("%%14674") },
    ])));
    want.endswith = Some(TxnFilter::Search(SearchExpr::And(vec![
        eq("EventCode", "5136"),
        SearchExpr::Compare { field: "OperationType".into(), op: CompareOp::Eq, value: q("%%14675") },
    ])));
    assert_eq!(
        one(
            r#"| transaction ObjectDN AttributeValue startswith=(EventCode=5136 OperationType="%%14674") endswith=(EventCode=5136 OperationType="%%14675")"#
        ),
        CommandKind::Transaction(want)
    );

    let mut want = txn(&["RenamedComputerAccount"]);
    want.startswith = Some(TxnFilter::Search(eq("EventCode", "4781")));
    assert_eq!(one("| transaction RenamedComputerAccount startswith=(EventCode=4781)"), CommandKind::Transaction(want));
}

#[test]
fn transaction_options_and_filters() {
    let k = one(
        r#"| transaction a, b maxpause=5s maxevents=-1 startswith="signon" endswith=eval(x>1) keepevicted=t mvlist="a, b" mvraw=true delim=";""#,
    );
    let mut want = txn(&["a", "b"]);
    want.maxpause = Some("5s".into());
    want.maxevents = Some(-1);
    want.startswith = Some(TxnFilter::Search(SearchExpr::Term(q("signon"))));
    want.endswith = Some(TxnFilter::Eval(crate::parse_eval_expr("x>1").unwrap()));
    want.keepevicted = true;
    want.mvlist = MvList::Fields(vec!["a".into(), "b".into()]);
    want.mvraw = true;
    want.delim = ";".into();
    assert_eq!(k, CommandKind::Transaction(want));
    let mut all = txn(&[]);
    all.mvlist = MvList::All;
    assert_eq!(one("| transaction mvlist=true"), CommandKind::Transaction(all));
    assert_eq!(one("| transaction"), CommandKind::Transaction(txn(&[])));
    assert!(err("| transaction a bogus=1").message.contains("unknown option `bogus=`"));
    assert!(err("| transaction a maxevents=x").message.contains("maxevents"));
    assert!(err("| transaction a connected=maybe").message.contains("connected"));
    assert!(err("| transaction a startswith=(x=1").message.contains("expected `)`"));
    assert!(err("| transaction a startswith=").message.contains("expected a filter"));
}

#[test]
fn transaction_prints_and_parses_back() {
    for text in [
        "| transaction src_user connected=false maxspan=180m",
        r#"| transaction ObjectDN AttributeValue startswith=(EventCode=5136 OperationType="%%14674") endswith=(EventCode=5136 OperationType="%%14675")"#,
        r#"| transaction "a b" x maxpause=-1 maxevents=-1 startswith="sign on" endswith=eval(x > 1 AND y = "z") keepevicted=true mvlist="a b,x" mvraw=true delim="\n""#,
        "| transaction mvlist=t startswith=(a=1 OR b=2 NOT c) endswith=foo",
        "| transaction",
    ] {
        let p = parse(text).unwrap_or_else(|e| panic!("{}", e.render(text, "t")));
        let printed = p.to_string();
        let back = parse(&printed).unwrap_or_else(|e| panic!("{}", e.render(&printed, "printed")));
        let kinds = |p: &Pipeline| p.commands.iter().map(|c| c.kind.clone()).collect::<Vec<_>>();
        assert_eq!(kinds(&back), kinds(&p), "{printed}");
    }
}
