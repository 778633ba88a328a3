//! Events shared by the finishing tests.

use vigil_model::Event;

/// A Sysmon process creation: 13 images, 7 hosts, 11 users, 300 process GUIDs.
pub fn process(i: usize) -> Event {
    let mut e = Event {
        time: Some(1_700_000_000_000_000 + i as i64 * 1_000_000),
        source: "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into(),
        sourcetype: "XmlWinEventLog".into(),
        host: format!("host{}", i % 7),
        ..Default::default()
    };
    // Every fifth command line repeats, so groups both grow and recur across runs.
    let n = if i.is_multiple_of(5) { 0 } else { i };
    for (k, v) in [
        ("EventCode", "1".to_string()),
        ("Image", format!("C:\\Windows\\System32\\tool{}.exe", i % 13)),
        ("CommandLine", format!("tool.exe --job {n}")),
        ("ProcessGuid", format!("{{{:08X}-0000-0000-0000-000000000000}}", i % 300)),
        ("User", format!("CORP\\user{}", i % 11)),
        ("ParentImage", "C:\\Windows\\explorer.exe".to_string()),
    ] {
        e.push(k, v);
    }
    e.raw = format!("event {i}");
    e
}
