//! The readers on the real files in shared/data/real (read at run time; skipped with a note
//! when absent). Counts are exact: they were measured and cross-checked with the file
//! descriptions in SOURCES.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vigil_model::Event;
use vigil_read::{read_file, ReadOptions, ReadReport};

fn real(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("note: {} absent, skipping", p.display());
        None
    }
}

/// Reads a file; returns the report and the count of events per EventCode.
fn read_counts(p: &Path) -> (ReadReport, BTreeMap<String, u64>, Vec<Event>) {
    let mut codes = BTreeMap::new();
    let mut keep = Vec::new();
    let report = read_file(p, &ReadOptions::default(), &mut |ev| {
        *codes.entry(ev.get("EventCode").unwrap_or("-").to_string()).or_insert(0) += 1;
        if keep.len() < 3 {
            keep.push(ev.clone());
        }
    });
    (report, codes, keep)
}

#[test]
fn certutil_raw_mixed_xml_and_classic_records() {
    let Some(p) = real("xmlwineventlog/certutil_exe_certificate_extraction.raw") else { return };
    let (r, codes, first) = read_counts(&p);
    assert_eq!(r.events, 40);
    assert_eq!(codes["1"], 20);
    assert_eq!(codes["4688"], 20);
    // 19 classic multi-line WinEventLog 4104 records, each counted once.
    assert_eq!(r.skipped_count("not an XML event"), 19, "{r}");
    assert_eq!(r.skipped_total(), 19);
    assert_eq!(r.files, 1);
    assert_eq!(r.bytes, std::fs::metadata(&p).unwrap().len());
    let ev = &first[0];
    assert_eq!(ev.origin.line, 1);
    assert_eq!(ev.sourcetype, "XmlWinEventLog");
    assert!(ev.raw.starts_with("<Event xmlns=") && ev.raw.ends_with("</Event>"));
}

#[test]
fn system_integrity_process_fields() {
    let Some(p) = real("xmlwineventlog/system_integrity_process.log") else { return };
    let (r, _, evs) = read_counts(&p);
    assert_eq!((r.events, r.skipped_total()), (1, 0));
    let ev = &evs[0];
    assert_eq!(ev.source, "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
    assert_eq!(ev.host, "EC2AMAZ-FKEOM7G");
    assert_eq!(ev.time, Some(1_786_723_409_757_926));
    for (k, v) in [
        ("EventCode", "1"),
        ("EventID", "1"),
        ("Channel", "Microsoft-Windows-Sysmon/Operational"),
        ("Computer", "EC2AMAZ-FKEOM7G"),
        ("EventRecordID", "12812"),
        ("Name", "Microsoft-Windows-Sysmon"),
        ("UserID", "S-1-5-18"),
        ("ProcessID", "3376"),
        ("Image", "C:\\Windows\\System32\\conhost.exe"),
        ("Product", "Microsoft® Windows® Operating System"),
        ("ParentCommandLine", "\"C:\\Windows\\system32\\wermgr.exe\" -upload"),
        ("IntegrityLevel", "System"),
    ] {
        assert_eq!(ev.get(k), Some(v), "{k}");
    }
}

#[test]
fn small_xml_logs() {
    for (rel, n) in [
        ("xmlwineventlog/ads_over_local_share.log", 1),
        ("xmlwineventlog/python_network_traffic.log", 2),
        ("xmlwineventlog/python_pythonpath_modification.log", 2),
    ] {
        let Some(p) = real(rel) else { return };
        let (r, _, _) = read_counts(&p);
        assert_eq!((r.events, r.skipped_total()), (n, 0), "{rel}: {r}");
    }
}

#[test]
fn sysmon_evtx_with_damaged_chunks() {
    let Some(p) = real("evtx/sysmon.evtx") else { return };
    let (r, codes, _) = read_counts(&p);
    assert_eq!(codes["1"], 227, "SOURCES.md: 227 EID 1 records");
    assert_eq!(r.events, 358);
    assert_eq!(r.skipped_count("bad EVTX chunk"), 8, "chunks 9-16: {r}");
    assert!(r.skipped["bad EVTX chunk"].examples[0].contains("@chunk 9"));
}

#[test]
fn damaged_evtx_files_read_as_far_as_possible() {
    for (rel, events, skipped) in [
        ("evtx/sample_with_a_bad_chunk_magic.evtx", 301, 3),
        ("evtx/security_bad_string_cache.evtx", 2261, 0),
        ("evtx/sample-with-zero-data-size-event.evtx", 449, 1),
    ] {
        let Some(p) = real(rel) else { return };
        let (r, _, _) = read_counts(&p);
        assert_eq!((r.events, r.skipped_total()), (events, skipped), "{rel}: {r}");
    }
}

#[test]
fn evtx_security_4688_fields_match_xml_names() {
    let Some(p) = real("evtx/ID4688-BITS_transfer_initiated.evtx") else { return };
    let mut evs = Vec::new();
    let r = read_file(&p, &ReadOptions::default(), &mut |ev| evs.push(ev.clone()));
    assert_eq!((r.events, r.skipped_total()), (2, 0));
    let ev = &evs[0];
    assert_eq!(ev.sourcetype, "XmlWinEventLog");
    assert_eq!(ev.source, "XmlWinEventLog:Security");
    assert_eq!(ev.get("EventCode"), Some("4688"));
    assert!(ev.get("NewProcessId").is_some_and(|v| v.starts_with("0x")));
    assert!(ev.get("NewProcessName").is_some());
    assert!(ev.get("Computer").is_some_and(|c| c == ev.host));
    assert!(ev.time.is_some());
    assert_eq!(ev.origin.line, 0);
    assert!(ev.raw.starts_with("<Event"));
}

#[test]
fn otrf_zip_of_flat_json() {
    let Some(p) = real("json/cmd_bitsadmin_download_psh_script.zip") else { return };
    let (r, codes, evs) = read_counts(&p);
    assert_eq!(r.events, 424);
    assert_eq!(r.skipped_total(), 0, "{r}");
    assert_eq!(codes["1"], 2);
    assert_eq!(codes["4688"], 2);
    assert_eq!(codes["7"], 141);
    assert_eq!(r.files, 2, "the archive and its one member");
    assert_eq!(r.bytes, 698_602, "decompressed member size");
    let ev = &evs[0];
    assert!(ev.origin.file.ends_with("cmd_bitsadmin_download_psh_script.zip:cmd_bitsadmin_download_psh_script_2020-10-2302365189.json"));
    assert_eq!(ev.origin.line, 1);
    assert_eq!(ev.source, "XmlWinEventLog:Security");
    assert_eq!(ev.host, "WORKSTATION5");
    assert_eq!(ev.get("EventCode"), Some("1102"));
    assert_eq!(ev.get("Computer"), Some("WORKSTATION5"));
    assert_eq!(ev.get("Name"), Some("Microsoft-Windows-Eventlog"));
}

#[test]
fn crowdstrike_and_nvm_examples() {
    let Some(cs) = real("json/crowdstrike_processrollup2_example.json") else { return };
    let Some(nvm) = real("json/cisco_nvm_flowdata_example.json") else { return };
    let (r, _, evs) = read_counts(&cs);
    assert_eq!((r.events, r.skipped_total()), (1, 0));
    assert_eq!(evs[0].sourcetype, "crowdstrike:events:sensor");
    assert_eq!(evs[0].source, "crowdstrike");
    assert_eq!(evs[0].time, Some(1_713_805_173_418_000));
    assert_eq!(evs[0].get("event_simpleName"), Some("ProcessRollup2"));
    assert_eq!(evs[0].get("ProcessEndTime"), None, "empty strings make no field");
    let (r, _, evs) = read_counts(&nvm);
    assert_eq!((r.events, r.skipped_total()), (1, 0));
    assert_eq!(evs[0].sourcetype, "cisco:nvm:flowdata");
    assert_eq!(evs[0].time, Some(1_784_017_733_536_000));
    assert_eq!(evs[0].get("liuid"), Some("WIN-ANIKET\\Hostscan"));
}

#[test]
fn whole_real_directory_never_panics() {
    let Some(root) = real("") else { return };
    let (files, errors) = vigil_read::discover(&[root]);
    assert!(errors.is_empty());
    let mut total = ReadReport::default();
    for f in &files {
        total.merge(read_file(f, &ReadOptions::default(), &mut |_| {}));
    }
    assert!(total.events > 5000, "{total}");
    assert_eq!(total.skipped_count("EVTX parser panic"), 0);
}
