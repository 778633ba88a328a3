//! Macro expansion over a small fixed macro set with arguments, nesting, deep chains, a
//! direct and an indirect cycle, exponential growth of the output and of arguments (so the
//! size limit is hit).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use vigil_spl::{expand_macros, ErrorKind, ExpandLimits, MacroDef, MacroSource};

struct Macros(HashMap<(String, usize), MacroDef>);

impl MacroSource for Macros {
    fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef> {
        self.0.get(&(name.to_string(), arity))
    }
}

fn macros() -> Macros {
    let mut m = HashMap::new();
    let mut add = |name: &str, args: &[&str], def: &str| {
        let d = MacroDef { name: name.into(), args: args.iter().map(|s| s.to_string()).collect(), definition: def.into() };
        m.insert((name.to_string(), args.len()), d);
    };
    add("sysmon", &[], "index=main sourcetype=XmlWinEventLog");
    add("process_msiexec", &[], "(Processes.process_name=msiexec.exe OR Processes.original_file_name=msiexec.exe)");
    add("drop_dm_object_name", &["object"], "rename $object$.* AS *");
    add("two", &["a", "b"], "$a$ $b$ `sysmon` \"`not a macro`\"");
    add("self", &[], "x `self`");
    add("ping", &[], "`pong`");
    add("pong", &[], "`ping`");
    add("argcycle", &["x"], "`argcycle($x$)`");
    add("double", &[], "`double` `double`");
    add("grow1", &[], "`grow0` `grow0` `grow0` `grow0`");
    add("grow0", &[], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    add("grow2", &[], "`grow1` `grow1` `grow1` `grow1`");
    add("grow3", &[], "`grow2` `grow2` `grow2` `grow2`");
    add("grow4", &[], "`grow3` `grow3` `grow3` `grow3`");
    add("grow5", &[], "`grow4` `grow4` `grow4` `grow4`");
    add("grow6", &[], "`grow5` `grow5` `grow5` `grow5`");
    add("grow7", &[], "`grow6` `grow6` `grow6` `grow6`");
    add("grow8", &[], "`grow7` `grow7` `grow7` `grow7`");
    for i in 0..40 {
        add(&format!("deep{i}"), &[], &format!("d{i} `deep{}`", i + 1));
    }
    add("deep40", &[], "bottom");
    add("arg_in_arg", &["a"], "`two($a$, `sysmon`)`");
    add("dollar", &["a"], "$a$$a$ $$ $b$ $a");
    // Arguments doubling at every level: bounded before the body is built.
    for i in 0..31 {
        add(&format!("dbl{i}"), &["x"], &format!("`dbl{}($x$$x$)`", i + 1));
    }
    add("dbl31", &["x"], "$x$");
    Macros(m)
}

fuzz_target!(|text: &str| {
    thread_local!(static M: Macros = macros());
    M.with(|m| {
        let limits = ExpandLimits { max_depth: 32, max_output_bytes: 64 * 1024 };
        match expand_macros(text, m, &limits) {
            Ok(out) => {
                assert!(out.len() <= limits.max_output_bytes.max(text.len()), "output {} bytes over the limit", out.len());
                let _ = vigil_spl::parse(&out);
            }
            Err(e) => {
                assert!(e.span.start <= e.span.end && e.span.end <= text.len() + 1, "span {:?} outside text", e.span);
                let _ = e.render(text, "fuzz");
                let _ = matches!(e.kind, ErrorKind::Limit);
            }
        }
    });
});
