//! The add-on knowledge (mappings/addons) against ESCU's data sources: for every Windows data
//! source in ../shared/escu/data_sources whose example event Vigil reads, the share of the
//! fields it lists (the fields the event has in Splunk with the add-on installed) that the
//! event has after Vigil's reader and enrichment, with the same name and value style. Fails
//! when a data source falls below its floor. The content is read at run time; when it is
//! absent the test prints a note and passes.

use std::path::Path;
use vigil_model::Event;
use vigil_normalize::Knowledge;

/// Fields Splunk makes at index time or for its own bookkeeping, which no reader derives
/// from the event: not counted.
fn splunk_internal(f: &str) -> bool {
    f.starts_with("date_")
        || f.starts_with("tag::")
        || f.ends_with("_Xml")
        || matches!(f, "punct" | "linecount" | "splunk_server" | "timeendpos" | "timestartpos")
}

/// The floor per data source, in percent of the counted fields: what the knowledge reaches
/// today, rounded down. Raise a floor when the knowledge gets better; a data source without
/// a floor fails the test until it gets one.
const FLOORS: &[(&str, u32)] = &[
    ("Sysmon EventID 1", 100),
    ("Sysmon EventID 10", 96),
    ("Sysmon EventID 11", 100),
    ("Sysmon EventID 12", 100),
    ("Sysmon EventID 13", 95),
    ("Sysmon EventID 15", 95),
    ("Sysmon EventID 17", 96),
    ("Sysmon EventID 18", 96),
    ("Sysmon EventID 20", 92),
    ("Sysmon EventID 21", 86),
    ("Sysmon EventID 22", 92),
    ("Sysmon EventID 23", 98),
    ("Sysmon EventID 3", 93),
    ("Sysmon EventID 5", 100),
    ("Sysmon EventID 6", 94),
    ("Sysmon EventID 7", 90),
    ("Sysmon EventID 8", 96),
    ("Sysmon EventID 9", 96),
    ("Sysmon for Linux EventID 1", 94),
    ("Sysmon for Linux EventID 11", 93),
    ("Windows Active Directory Admon", 32),
    ("Windows Event Log Application 2282", 97),
    ("Windows Event Log Application 3000", 94),
    ("Windows Event Log CAPI2 70", 93),
    ("Windows Event Log CAPI2 81", 93),
    ("Windows Event Log CertificateServicesClient 1007", 93),
    ("Windows Event Log Defender 1121", 85),
    ("Windows Event Log Defender 1122", 89),
    ("Windows Event Log Defender 5007", 88),
    ("Windows Event Log RemoteConnectionManager 1149", 90),
    ("Windows Event Log Security 1100", 88),
    ("Windows Event Log Security 1102", 89),
    ("Windows Event Log Security 4624", 91),
    ("Windows Event Log Security 4625", 89),
    ("Windows Event Log Security 4648", 89),
    ("Windows Event Log Security 4688", 89),
    ("Windows Event Log Security 4703", 79),
    ("Windows Event Log Security 4719", 87),
    ("Windows Event Log Security 4724", 85),
    ("Windows Event Log Security 4725", 86),
    ("Windows Event Log Security 4726", 86),
    ("Windows Event Log Security 4739", 85),
    ("Windows Event Log Security 4768", 86),
    ("Windows Event Log Security 4769", 86),
    ("Windows Event Log Security 4771", 85),
    ("Windows Event Log Security 4776", 86),
    ("Windows Event Log Security 4781", 82),
    ("Windows Event Log Security 4794", 83),
    ("Windows Event Log Security 4798", 94),
    ("Windows Event Log Security 4876", 92),
    ("Windows Event Log Security 5136", 93),
    ("Windows Event Log Security 5137", 92),
    ("Windows Event Log System 7036", 95),
    ("Windows Event Log System 7040", 95),
    ("Windows Event Log TaskScheduler 200", 88),
];

/// Whether `f` is present in `ev` in the value style Splunk's add-ons give it.
fn covered(ev: &Event, f: &str) -> Result<(), String> {
    let value = match f {
        "_time" => return ev.time.map(|_| ()).ok_or_else(|| "no _time".to_string()),
        "host" | "source" | "sourcetype" | "index" => return Ok(()),
        _ => ev.get(f).ok_or_else(|| "absent".to_string())?,
    };
    let computer = ev.get("Computer").unwrap_or_default();
    let style_ok = match f {
        "dest" | "dvc" | "dvc_nt_host" if ev.get("EventCode") != Some("3") => value == computer,
        "signature_id" => Some(value) == ev.get("EventCode"),
        "process_id" | "parent_process_id" | "new_process_id" => value.bytes().all(|b| b.is_ascii_digit()),
        _ if f.ends_with("_name") && (f.contains("process") || f.contains("file")) => !value.contains(['\\', '/']),
        _ if f.ends_with("_path") && (f.contains("process") || f.contains("file")) => value.contains(['\\', '/']) || value == "System",
        _ => true,
    };
    if style_ok {
        Ok(())
    } else {
        Err(format!("value style: {value:?}"))
    }
}

fn read_example(text: &str) -> Option<Event> {
    let line = text.trim().replace(['\r', '\n'], " ");
    if !line.starts_with("<Event") {
        return None;
    }
    let mut found = None;
    vigil_read::read_stream("example_log", line.as_bytes(), &Default::default(), &mut |ev| {
        found.get_or_insert_with(|| ev.clone());
    });
    found
}

#[test]
fn add_on_fields_of_every_windows_data_source() {
    let escu = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/escu");
    let (sources, _) = vigil_content::load_data_sources(&escu);
    if sources.is_empty() {
        eprintln!("note: {} has no data_sources, skipping", escu.display());
        return;
    }
    let knowledge = Knowledge::builtin().unwrap();
    let mut failures = Vec::new();
    let mut report = String::new();
    for d in &sources {
        let Some(raw) = d.example_log.as_deref().and_then(read_example) else {
            continue;
        };
        let mut ev = Event::default();
        if !knowledge.enrich(&raw, &mut ev) {
            ev = raw;
        }
        let counted: Vec<&String> = d.fields.iter().filter(|f| !splunk_internal(f)).collect();
        let mut missing = Vec::new();
        for f in &counted {
            if let Err(why) = covered(&ev, f) {
                missing.push(format!("{f} ({why})"));
            }
        }
        let have = counted.len() - missing.len();
        let pct = if counted.is_empty() { 100 } else { (100 * have / counted.len()) as u32 };
        report.push_str(&format!("{pct:>3}% {have:>3}/{:<3} {}: missing {}\n", counted.len(), d.name, missing.join(", ")));
        match FLOORS.iter().find(|(n, _)| *n == d.name) {
            Some((_, floor)) if pct < *floor => failures.push(format!("{}: {pct}% < floor {floor}%", d.name)),
            Some(_) => {}
            None => failures.push(format!("{}: no floor (reaches {pct}%): add (\"{}\", {pct}) to FLOORS", d.name, d.name)),
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
