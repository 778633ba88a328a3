//! Records read after a repair are counted, not passed silently.

use vigil_read::{read_stream, ReadOptions};

#[test]
fn invalid_utf8_is_replaced_and_counted() {
    let mut data = b"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>1</EventID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>h".to_vec();
    data.push(0xff);
    data.extend_from_slice(b"</Computer></System><EventData><Data Name='Image'>C:\\a.exe</Data></EventData></Event>\n");
    let mut hosts = Vec::new();
    let report = read_stream("bad.xml", &data[..], &ReadOptions::default(), &mut |ev| hosts.push(ev.host.clone()));
    assert_eq!(report.events, 1);
    assert_eq!(report.skipped_total(), 0);
    assert_eq!(report.repaired_total(), 1);
    assert!(report.repaired["invalid UTF-8 replaced"].examples[0].starts_with("bad.xml:1"), "{report:?}");
    assert_eq!(hosts, ["h\u{fffd}"]);
}
