//! Sigma rules planned as raw-event scans: the engine's matches (prefilter included) equal
//! the rule evaluated directly on every event, for plain values (engine predicates) and Sigma
//! leaves (regex, null, numbers) alike. Synthetic events.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::Event;
use vigil_sigma::{parse_file, Document, Fields, Mapping};

const RULES: &str = r#"title: Plain Values
logsource: {category: process_creation, product: windows}
detection:
    sel:
        Image|endswith: ['\whoami.exe', '\net.exe']
        CommandLine|contains|all: ['/user', 'add']
    condition: sel
level: low
---
title: Sigma Leaves
logsource: {category: process_creation, product: windows}
detection:
    sel:
        CommandLine|re: '(?i)\bnet1?\.exe\s+user\b'
    filter_null:
        ParentImage: null
    filter_pid:
        ProcessId|lt: 10
    condition: sel and not 1 of filter_*
level: high
---
title: Values Engine Patterns Do Not Express
logsource: {category: process_creation, product: windows}
detection:
    sel_amp:
        CommandLine|contains: 'cl Application & fsutil'
    sel_cased:
        CommandLine|contains|cased: 'DeleteJournal'
    condition: 1 of sel_*
level: medium
---
title: Regular Expressions
logsource: {category: process_creation, product: windows}
detection:
    sel_alt:
        CommandLine|re|i: '(cmd|pwsh)\.exe [/-]c .*kill'
    sel_cased:
        CommandLine|re: '\$PSHome\[\d\]'
    sel_fold:
        CommandLine|re|i: 'bypass'
    condition: 1 of sel_*
level: medium
"#;

fn event(channel: &str, id: &str, fields: &[(&str, &str)]) -> Event {
    let mut ev = Event { source: format!("XmlWinEventLog:{channel}"), sourcetype: "XmlWinEventLog".into(), ..Default::default() };
    ev.push("Channel", channel);
    ev.push("EventID", id);
    for (k, v) in fields {
        ev.push(*k, *v);
    }
    ev
}

struct Ev<'a>(&'a Event);
impl Fields for Ev<'_> {
    fn any_value(&self, field: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.get_all(field).any(f)
    }
    fn any_field_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.fields.iter().any(|(_, v)| f(v))
    }
}

#[test]
fn engine_matches_equal_direct_evaluation() {
    let sysmon = "Microsoft-Windows-Sysmon/Operational";
    let events = vec![
        event(
            sysmon,
            "1",
            &[
                ("Image", r"C:\Windows\System32\NET.EXE"),
                ("CommandLine", "net.exe user bob /ADD"),
                ("ParentImage", r"C:\cmd.exe"),
                ("ProcessId", "4242"),
            ],
        ),
        event(sysmon, "1", &[("Image", r"C:\Windows\System32\net.exe"), ("CommandLine", "net.exe user bob"), ("ProcessId", "4")]),
        event(
            sysmon,
            "1",
            &[("Image", r"C:\x\netx.exe"), ("CommandLine", "net1.exe user /add"), ("ParentImage", "p"), ("ProcessId", "99")],
        ),
        event(
            "Security",
            "4688",
            &[("NewProcessName", r"C:\Windows\whoami.exe"), ("CommandLine", "whoami /user add"), ("ParentProcessName", "p")],
        ),
        event(sysmon, "3", &[("Image", r"C:\Windows\net.exe"), ("CommandLine", "net.exe user /add")]),
        // Values with `&` and `|cased`: their literals go to the prefilter, the rule decides.
        event(sysmon, "1", &[("CommandLine", "wevtutil CL application & FSUTIL usn")]),
        event(sysmon, "1", &[("CommandLine", "wevtutil cl application &amp; fsutil")]),
        event(sysmon, "1", &[("CommandLine", "fsutil usn deletejournal /D C:")]),
        event("Security", "4688", &[("CommandLine", "fsutil usn DeleteJournal /D C:")]),
        // Regular expressions: the texts every match holds go to the prefilter, compared
        // case-insensitively; the pattern decides (case, and Unicode case folding: `ſ` is `s`).
        event(sysmon, "1", &[("CommandLine", "CMD.EXE /C taskkill /im x")]),
        event(sysmon, "1", &[("CommandLine", "pwsh.exe -c Stop-Process")]),
        event(sysmon, "1", &[("CommandLine", "$PSHome[3]+$PSHome[2]")]),
        event(sysmon, "1", &[("CommandLine", "$pshome[3]")]),
        event(sysmon, "1", &[("CommandLine", "powershell -ep ByPa\u{17f}s")]),
    ];
    let mapping = Mapping::parse(vigil_sigma::BUILTIN_MAPPING).unwrap();
    let rules: Vec<_> = parse_file("synthetic.yml", RULES)
        .into_iter()
        .map(|d| match d.unwrap() {
            Document::Rule(r) => mapping.compile(&r).unwrap(),
            _ => panic!("a rule"),
        })
        .collect();
    let normalizer = vigil_normalize::Normalizer::builtin().unwrap();
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let queries: Vec<_> = rules.iter().map(|r| planner.plan_sigma(r).unwrap()).collect();
    // Each regular expression's texts are a condition the prefilter checks (`s` is not a
    // text of `(?i)s`, which also matches `ſ`: not `pwsh`).
    let explain = queries[3].explain(normalizer.catalog());
    for text in [r#"CommandLine~".exe /c ""#, r#"CommandLine~"$pshome[""#, r#"CommandLine~"bypa""#] {
        assert!(explain.contains(text), "{text} in {explain}");
    }
    let engine = Engine::new(queries, normalizer.catalog());
    let mut state = engine.new_state();
    for ev in &events {
        engine.on_event(&mut state, ev);
    }
    let ctx = EvalContext { now: 0, tz: vigil_time::Tz::utc() };
    let outputs = engine.finish(state, &ctx);
    for (rule, out) in rules.iter().zip(&outputs) {
        let got = out.result.as_ref().unwrap().len();
        let want = events
            .iter()
            .filter(|ev| {
                rule.variants.iter().any(|v| {
                    v.when.iter().all(|(f, vals)| ev.get_all(f).any(|x| vals.iter().any(|w| w.eq_ignore_ascii_case(x))))
                        && v.expr.eval(&Ev(ev))
                })
            })
            .count();
        assert_eq!(got, want, "{}", rule.meta.title);
    }
    let counts: Vec<usize> = outputs.iter().map(|o| o.result.as_ref().unwrap().len()).collect();
    // Plain Values: only the 4688 whoami (through NewProcessName; the first event has `user`,
    // not `/user`); Sigma Leaves: the first and third (a parent, ProcessId not < 10), not the
    // second (no ParentImage) nor the network connection; the third rule: the `&` value in any
    // case and the cased value as written, not the entity nor the lowercased value.
    // The fourth: taskkill, `$PSHome[` as written and `ſ` for `s`, not `pwsh` without
    // `kill` nor `$pshome[` in lowercase.
    assert_eq!(counts, [1, 2, 2, 3]);
    let row = &outputs[1].result.as_ref().unwrap()[0];
    assert_eq!(row.get("sigma_level").map(|v| v.to_string()), Some("high".into()));
}
