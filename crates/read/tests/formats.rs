//! Format detection and error handling on small generated inputs.

use std::io::Write;
use std::path::PathBuf;
use vigil_model::Event;
use vigil_read::{read_file, read_stream, ReadOptions, ReadReport};

const SYSMON: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:15:01.1234567Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>H1</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\msiexec.exe</Data><Data Name='CommandLine'>msiexec /i http://x/a.msi?a=1&amp;b=2 /qn</Data></EventData></Event>";

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-read-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn read(p: &std::path::Path, opts: &ReadOptions) -> (ReadReport, Vec<Event>) {
    let mut evs = Vec::new();
    let r = read_file(p, opts, &mut |e| evs.push(e.clone()));
    (r, evs)
}

#[test]
fn xml_lines_with_junk_crlf_and_bom() {
    let text = format!("\u{feff}{SYSMON}\r\nnot xml\r\nstill not\r\n\r\n<Event><System><EventID>1</System></Event>\n{SYSMON}");
    let (r, evs) = read(&tmp("a.log", text.as_bytes()), &ReadOptions::default());
    assert_eq!(r.events, 2);
    assert_eq!(r.skipped_count("not an XML event"), 1, "{r}");
    assert_eq!(r.skipped_count("malformed XML event"), 1);
    assert!(r.skipped["malformed XML event"].examples[0].contains("a.log:5"));
    assert_eq!(evs[0].get("CommandLine"), Some("msiexec /i http://x/a.msi?a=1&b=2 /qn"));
    assert!(evs[0].raw.contains("&amp;b=2"), "raw keeps the entity");
    assert_eq!(evs[1].origin.line, 6);
    assert_eq!(evs[0].time, Some(1_795_169_701_123_456));
}

#[test]
fn wevtutil_events_wrapper_and_pretty_xml() {
    let one_line = format!("<Events>{SYSMON}{SYSMON}</Events>\n");
    let (r, evs) = read(&tmp("b.xml", one_line.as_bytes()), &ReadOptions::default());
    assert_eq!((r.events, r.skipped_total()), (2, 0), "{r}");
    assert!(evs[1].origin.offset > evs[0].origin.offset);
    let prefixed = format!("Nov 20 10:15:01 collector01 {SYSMON}\n");
    let (r, evs) = read(&tmp("syslog.log", prefixed.as_bytes()), &ReadOptions::default());
    assert_eq!((r.events, r.skipped_total()), (1, 0), "{r}");
    assert!(evs[0].raw.starts_with("<Event"));
    let pretty = SYSMON.replace("><", ">\n  <");
    let (r, evs) = read(&tmp("c.xml", pretty.as_bytes()), &ReadOptions::default());
    assert_eq!((r.events, r.skipped_total()), (1, 0), "{r}");
    assert_eq!(evs[0].get("Computer"), Some("H1"));
}

#[test]
fn json_lines_pretty_documents_and_malformed() {
    let text = "{\"event_simpleName\":\"ProcessRollup2\",\"timestamp\":\"1713805173418\",\"CommandLine\":\"a\"}\n\
                {\"broken\": \n\
                {\"EventID\": 4688, \"Channel\": \"Security\", \"Hostname\": \"H\",\n  \"NewProcessId\": \"0x10\",\n  \"nested\": {\"a\": [1, 2]}\n}\n\
                [1,2]\n\
                {\"x\": tru}\n";
    let (r, evs) = read(&tmp("d.json", text.as_bytes()), &ReadOptions::default());
    assert_eq!(r.events, 2, "{r}");
    assert_eq!(r.skipped_count("malformed JSON"), 2, "{r}");
    assert_eq!(r.skipped_count("not JSON"), 1, "{r}");
    assert_eq!(evs[0].sourcetype, "crowdstrike:events:sensor");
    let w = &evs[1];
    assert_eq!(w.origin.line, 3);
    assert_eq!(w.source, "XmlWinEventLog:Security");
    assert_eq!(w.get("EventCode"), Some("4688"));
    assert_eq!(w.get("Computer"), Some("H"));
    assert_eq!(w.get_all("nested.a").collect::<Vec<_>>(), ["1", "2"]);
}

#[test]
fn json_array_streamed() {
    let text = "[\n {\"pn\": \"msiexec.exe\", \"pid\": \"1\", \"fss\": \"10\"},\n {\"fv\": \"nvzFlow_v11\", \"fsms\": \"10500\"},\n 7\n]";
    let (r, evs) = read(&tmp("e.json", text.as_bytes()), &ReadOptions::default());
    assert_eq!(r.events, 2, "{r}");
    assert_eq!(r.skipped_count("not a JSON object"), 1);
    assert_eq!(evs[0].sourcetype, "cisco:nvm:flowdata");
    assert_eq!(evs[0].time, Some(10_000_000));
    assert_eq!(evs[1].time, Some(10_500_000));
    let (r, _) = read(&tmp("f.json", b"[{\"a\":1}, {\"b\": }]"), &ReadOptions::default());
    assert_eq!((r.events, r.skipped_count("malformed JSON")), (1, 1), "{r}");
}

#[test]
fn too_long_records_are_skipped_not_loaded() {
    let long = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(5000));
    let opts = ReadOptions { max_record_bytes: 1000, ..Default::default() };
    let (r, evs) = read(&tmp("g.json", long.as_bytes()), &opts);
    assert_eq!(r.events, 1);
    assert_eq!(r.skipped_count("record too long"), 1);
    assert_eq!(evs[0].get("b"), Some("1"));
}

#[test]
fn sourcetype_override() {
    let opts = ReadOptions { sourcetype: Some("my:type".into()), ..Default::default() };
    let (_, evs) = read(&tmp("h.json", b"{\"a\":1}\n"), &opts);
    assert_eq!(evs[0].sourcetype, "my:type");
}

#[test]
fn source_and_lowercase_sourcetype_override_keep_xml_parsing() {
    let opts = ReadOptions {
        sourcetype: Some("xmlwineventlog".into()),
        source: Some("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into()),
        ..Default::default()
    };
    let (r, evs) = read(&tmp("i.log", format!("{SYSMON}\n").as_bytes()), &opts);
    assert_eq!(r.events, 1);
    assert_eq!(evs[0].sourcetype, "xmlwineventlog");
    assert_eq!(evs[0].source, "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
    // Still parsed as XML: the event's fields are extracted.
    assert!(evs[0].get("EventCode").is_some() || evs[0].get("EventID").is_some(), "{:?}", evs[0].fields);
    assert!(evs[0].time.is_some());
}

#[test]
fn gzip_and_zip_detected_by_content() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("{SYSMON}\n{SYSMON}\n").as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    // No .gz extension: content decides.
    let (r, evs) = read(&tmp("compressed.log", &gz), &ReadOptions::default());
    assert_eq!((r.events, r.skipped_total(), r.files), (2, 0, 1), "{r}");
    assert!(evs[0].origin.file.ends_with("compressed.log"));

    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let deflate = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file("dir/a.xml", deflate).unwrap();
        z.write_all(SYSMON.as_bytes()).unwrap();
        z.start_file("dir/b.json.gz", deflate).unwrap();
        z.write_all(&gz).unwrap();
        z.start_file("__MACOSX/._a.xml", deflate).unwrap();
        z.write_all(b"junk").unwrap();
        z.add_directory("empty/", deflate).unwrap();
        z.finish().unwrap();
    }
    let (r, evs) = read(&tmp("bundle.dat", buf.get_ref()), &ReadOptions::default());
    assert_eq!((r.events, r.skipped_total()), (3, 0), "{r}");
    assert!(evs[0].origin.file.ends_with("bundle.dat:dir/a.xml"));
    assert!(evs[2].origin.file.ends_with("bundle.dat:dir/b.json.gz"));

    // The same bytes through read_stream.
    let r = read_stream("stdin", &gz[..], &ReadOptions::default(), &mut |_| {});
    assert_eq!(r.events, 2);
}

#[test]
fn garbage_never_panics() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let prefixes: [&[u8]; 6] = [b"ElfFile\0", &[0x1f, 0x8b], b"PK\x03\x04", b"<Event ", b"{\"a\":", b"["];
    for round in 0..60 {
        let mut data = prefixes[round % prefixes.len()].to_vec();
        for _ in 0..(next() % 3000) {
            data.push((next() & 0xff) as u8);
        }
        let r = read_stream("fuzz", &data[..], &ReadOptions::default(), &mut |_| {});
        assert!(r.files >= 1);
        // Truncated real input too.
        let cut = (next() as usize) % (SYSMON.len() + 1);
        let r = read_stream("cut", &SYSMON.as_bytes()[..cut], &ReadOptions::default(), &mut |_| {});
        assert!(r.events <= 1);
    }
}

/// A FIFO cannot seek back after its head is sniffed (as `zcat x | vigil hunt /dev/stdin`):
/// its events are those of the same bytes in a file, compressed or not.
#[test]
fn a_pipe_is_read_as_its_bytes_in_a_file_would_be() {
    let text = format!("{SYSMON}\nnot xml\n{SYSMON}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    for (name, bytes) in [("pipe.xml", text.as_bytes().to_vec()), ("pipe.gz", gz)] {
        let file = tmp(&format!("file-{name}"), &bytes);
        let pipe = file.with_file_name(name);
        let _ = std::fs::remove_file(&pipe);
        let made = std::process::Command::new("mkfifo").arg(&pipe).status().unwrap();
        assert!(made.success());
        let writer = {
            let pipe = pipe.clone();
            std::thread::spawn(move || std::fs::write(pipe, bytes).unwrap())
        };
        let (from_pipe, pipe_events) = read(&pipe, &ReadOptions::default());
        writer.join().unwrap();
        let (from_file, file_events) = read(&file, &ReadOptions::default());
        assert_eq!(from_pipe.events, 2, "{name}: {from_pipe}");
        assert_eq!(from_pipe.skipped_total(), from_file.skipped_total(), "{name}");
        let raws = |evs: &[Event]| evs.iter().map(|e| e.raw.to_string()).collect::<Vec<_>>();
        assert_eq!(raws(&pipe_events), raws(&file_events), "{name}");
    }
}
