//! Files that are not logs, told by content: images, packet captures, executables, documents,
//! other archives, binary data, scripts and text without a single event line. Such a file is
//! skipped whole (counted once, by kind) instead of being read line by line as junk.

/// Magic numbers at offset 0 and the kind they name.
const MAGIC: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"BM", "image"),
    (b"RIFF", "media"),
    (b"\xd4\xc3\xb2\xa1", "packet capture"),
    (b"\xa1\xb2\xc3\xd4", "packet capture"),
    (b"\x4d\x3c\xb2\xa1", "packet capture"),
    (b"\xa1\xb2\x3c\x4d", "packet capture"),
    (b"\x0a\x0d\x0d\x0a", "packet capture"),
    (b"\x7fELF", "executable"),
    (b"MZ", "executable"),
    (b"\xcf\xfa\xed\xfe", "executable"),
    (b"\xce\xfa\xed\xfe", "executable"),
    (b"\xca\xfe\xba\xbe", "executable"),
    (b"%PDF", "document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "document"),
    (b"{\\rtf", "document"),
    (b"7z\xbc\xaf\x27\x1c", "unsupported archive"),
    (b"Rar!\x1a\x07", "unsupported archive"),
    (b"BZh", "unsupported archive"),
    (b"\xfd7zXZ\x00", "unsupported archive"),
    (b"\x28\xb5\x2f\xfd", "unsupported archive"),
    (b"SQLite format 3\x00", "database"),
    (b"regf", "registry hive"),
];

/// What a file whose head sniffed as [`crate::Format::Text`] is, when it is not a log; `None`
/// when it may hold event lines (XML or JSON records, classic WinEventLog records).
pub(crate) fn not_a_log(head: &[u8]) -> Option<&'static str> {
    if let Some((_, kind)) = MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        // `BM`/`MZ` are short: demand more evidence than two letters of text.
        let weak = head.starts_with(b"BM") || head.starts_with(b"MZ");
        if !weak || is_binary(head) {
            return Some(kind);
        }
    }
    if is_binary(head) {
        return Some("binary data");
    }
    if head.starts_with(b"#!") {
        return Some("script");
    }
    // An event may follow a prefix (syslog forwarders write `Nov 20 10:15:01 host <Event ...`);
    // a head cut mid-line may end in the start of one, so its last line counts too.
    let contains = |line: &[u8], needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
    let has_event_line = head.split(|&b| b == b'\n').any(|line| {
        let t = line.trim_ascii_start();
        t.starts_with(b"<")
            || t.starts_with(b"{")
            || t.starts_with(b"[")
            || crate::lines::classic_header_bytes(t)
            || contains(t, b"<Event")
            || contains(t, b"{\"")
    });
    // Judge text only on whole lines: a head that is one long line (a 5 MB junk header) says
    // nothing about the lines after it.
    let whole_lines = head.iter().filter(|&&b| b == b'\n').count();
    let complete = whole_lines >= 2 || (whole_lines == 1 && head.ends_with(b"\n")) || head.len() < HEAD_BYTES;
    (complete && !has_event_line).then_some("text without events")
}

/// How much of a stream is sniffed (see `read_stream_in`); a shorter head is the whole file.
pub(crate) const HEAD_BYTES: usize = 4096;

/// NUL bytes, or more than one byte in ten a control character other than tab, newlines,
/// form feed and escape: not text.
fn is_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)).count();
    control * 10 > head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_non_logs_by_content() {
        assert_eq!(not_a_log(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image"));
        assert_eq!(not_a_log(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00"), Some("packet capture"));
        assert_eq!(not_a_log(b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00"), Some("packet capture"));
        assert_eq!(not_a_log(b"MZ\x90\x00\x03\x00\x00\x00"), Some("executable"));
        assert_eq!(not_a_log(b"\x7fELF\x02\x01\x01"), Some("executable"));
        assert_eq!(not_a_log(b"%PDF-1.7\n"), Some("document"));
        assert_eq!(not_a_log(b"#!/bin/sh\necho hi\n"), Some("script"));
        assert_eq!(not_a_log(b"\x01\x02\x03\x04\x05\x06 random"), Some("binary data"));
        assert_eq!(not_a_log(b"$c = New-Object Net.WebClient\n$c.DownloadFile($u, $p)\n"), Some("text without events"));
        // Text that may hold events is read as before.
        assert_eq!(not_a_log(b"junk header\n<Event xmlns='x'><System/></Event>\n"), None);
        assert_eq!(not_a_log(b"  {\"a\": 1}\n"), None);
        assert_eq!(not_a_log(b"Nov 20 10:15:01 collector01 <Event xmlns='x'/>\n"), None);
        assert_eq!(not_a_log(b"Nov 20 10:15:01 collector01 app: {\"a\": 1}\n"), None);
        assert_eq!(not_a_log(b"01/14/2021 11:41:39 PM\nLogName=Security\n"), None);
        // Two letters of text are not a bitmap or an executable.
        assert_eq!(not_a_log(b"BMW fleet\n{\"a\":1}\n"), None);
        assert_eq!(not_a_log(b"MZ notes\n"), Some("text without events"));
        // One long line filling the head: undecided, read as before.
        assert_eq!(not_a_log(&[b'z'; HEAD_BYTES]), None);
    }
}
