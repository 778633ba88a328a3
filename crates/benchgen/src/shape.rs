//! The distribution of a corpus: how many distinct hosts, users, command lines and parent
//! processes it has, its event-ID mix, and how many process creations are near misses
//! (command lines with the binaries and switches detections look for, that still do not
//! match). [`Shape::default`] is the bench corpus; `bench/ratios.sh` names a few others.

/// Knobs of the generator (benchgen's `--hosts`, `--users`, `--cmd-values`, `--parents`,
/// `--mix`, `--near-miss`).
/// Event kinds and their share of the stream, per mille (sums to 1000). Roughly what a
/// workstation fleet with a SwiftOnSecurity-style Sysmon config and default Security auditing
/// sends: image loads and network connections dominate, process creations are ~1 in 11.
pub const MIX: &[(u32, u32)] = &[
    (1, 90),
    (3, 180),
    (5, 40),
    (7, 250),
    (10, 40),
    (11, 110),
    (12, 30),
    (13, 90),
    (22, 50),
    (4688, 50),
    (4624, 40),
    (4625, 5),
    (4634, 20),
    (4672, 5),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Distinct host names.
    pub hosts: usize,
    /// Distinct user names (each with its SID).
    pub users: usize,
    /// The range of the number in a command-line template (`{n}`): with 21 templates, about
    /// how many distinct command lines there are, times 21.
    pub cmd_values: u64,
    /// Distinct parent processes (image and command line); the first six are the common
    /// Windows ones, the rest are vendor services. Parent/child pairs: this times 21.
    pub parents: usize,
    /// Event kinds (Sysmon and Security event IDs) and their weights.
    pub mix: Vec<(u32, u32)>,
    /// Process creations (Sysmon 1, Security 4688) that are near misses, per mille.
    pub near_miss: u32,
    /// Events are 1 to this many microseconds apart (20 000: about 10 000 events a second;
    /// larger spreads a small corpus over hours, for the cluster's day-long test).
    pub max_gap_us: u64,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape { hosts: 400, users: 600, cmd_values: 100_000, parents: PARENTS.len(), mix: MIX.to_vec(), near_miss: 0, max_gap_us: 20_000 }
    }
}

/// The event kinds the generator writes.
const KINDS: &[u32] = &[1, 3, 5, 7, 10, 11, 12, 13, 22, 4688, 4624, 4625, 4634, 4672];

/// Parses a mix, `1:90,3:180,...` (event ID: weight); kinds left out do not occur.
pub fn parse_mix(spec: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut mix = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, weight) = item.split_once(':').ok_or_else(|| format!("mix item `{item}`: want EVENTID:WEIGHT"))?;
        let id: u32 = id.trim().parse().map_err(|e| format!("mix item `{item}`: {e}"))?;
        let weight: u32 = weight.trim().parse().map_err(|e| format!("mix item `{item}`: {e}"))?;
        if !KINDS.contains(&id) {
            return Err(format!("mix item `{item}`: event ID {id} is not generated (one of {KINDS:?})"));
        }
        mix.push((id, weight));
    }
    if mix.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() == 0 {
        return Err(format!("mix `{spec}`: the weights add up to 0"));
    }
    Ok(mix)
}

/// The common parent processes (image, command line).
pub const PARENTS: &[(&str, &str)] = &[
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE"),
    ("C:\\Windows\\System32\\services.exe", "C:\\Windows\\system32\\services.exe"),
    ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("C:\\Windows\\System32\\cmd.exe", "\"C:\\Windows\\system32\\cmd.exe\""),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -ExecutionPolicy Bypass",
    ),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\""),
];

/// Parent process `i` of the shape's `parents`: a common one, or a vendor service.
pub fn parent(i: usize) -> (String, String) {
    match PARENTS.get(i) {
        Some((image, cmd)) => (image.to_string(), cmd.to_string()),
        None => {
            let vendors = ["Contoso", "Fabrikam", "Northwind", "Tailspin", "Litware", "Adatum", "Proseware", "Wingtip"];
            let vendor = vendors[i % vendors.len()];
            let image = format!("C:\\Program Files\\{vendor}\\Agent{i}\\{}svc{i}.exe", vendor.to_ascii_lowercase());
            let cmd = format!("\"{image}\" --service --instance {i}");
            (image, cmd)
        }
    }
}

/// Near misses (image path, original file name, description, command-line template, as in
/// `events::PROCESSES`): binaries and switches detections key on, in benign uses.
pub const NEAR_MISSES: &[(&str, &str, &str, &str)] = &[
    (
        "C:\\Windows\\System32\\rundll32.exe",
        "RUNDLL32.EXE",
        "Windows host process (Rundll32)",
        "rundll32.exe C:\\Windows\\System32\\shell32.dll,Control_RunDLL desk.cpl,,{n}",
    ),
    (
        "C:\\Windows\\System32\\certutil.exe",
        "CertUtil.exe",
        "CertUtil.exe",
        "certutil.exe -hashfile C:\\Users\\{u}\\Downloads\\package_{n}.zip SHA256",
    ),
    (
        "C:\\Windows\\System32\\regsvr32.exe",
        "REGSVR32.EXE",
        "Microsoft(C) Register Server",
        "regsvr32.exe /s \"C:\\Program Files\\Contoso\\plugin_{n}.dll\"",
    ),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "PowerShell.EXE",
        "Windows PowerShell",
        "powershell.exe -NoProfile -Command \"Get-Date -Format yyyyMMdd_{n}\"",
    ),
    (
        "C:\\Windows\\System32\\schtasks.exe",
        "schtasks.exe",
        "Task Scheduler Configuration Tool",
        "schtasks.exe /query /tn \"\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan {n}\"",
    ),
    (
        "C:\\Windows\\System32\\reg.exe",
        "reg.exe",
        "Registry Console Tool",
        "reg.exe query HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v Updater{n}",
    ),
    (
        "C:\\Windows\\System32\\wbem\\WMIC.exe",
        "wmic.exe",
        "WMI Commandline Utility",
        "wmic.exe process where \"name='chrome.exe'\" get ProcessId /format:list",
    ),
    ("C:\\Windows\\System32\\bitsadmin.exe", "bitsadmin.exe", "BITS administration utility", "bitsadmin.exe /list /allusers /verbose"),
    (
        "C:\\Windows\\System32\\vssadmin.exe",
        "VSSADMIN.EXE",
        "Command Line Interface for Microsoft® Volume Shadow Copy Service",
        "vssadmin.exe list shadows /for=C:",
    ),
    (
        "C:\\Windows\\System32\\cmd.exe",
        "Cmd.Exe",
        "Windows Command Processor",
        "cmd.exe /c echo https://intranet.corp.example.com/wiki/{n} > C:\\Users\\{u}\\link.txt",
    ),
    (
        "C:\\Windows\\System32\\msiexec.exe",
        "msiexec.exe",
        "Windows® installer",
        "msiexec.exe /i \"C:\\Users\\{u}\\Downloads\\http_client_{n}.msi\" /qn /l*v C:\\Temp\\install.log",
    ),
    ("C:\\Windows\\System32\\net.exe", "net.exe", "Net Command", "net.exe view \\\\fs{n}.corp.example.com"),
    (
        "C:\\Windows\\System32\\mshta.exe",
        "MSHTA.EXE",
        "Microsoft (R) HTML Application host",
        "mshta.exe \"C:\\Program Files\\Contoso\\help\\index_{n}.hta\"",
    ),
    (
        "C:\\Windows\\System32\\cscript.exe",
        "cscript.exe",
        "Microsoft ® Console Based Script Host",
        "cscript.exe //nologo C:\\Windows\\System32\\slmgr.vbs /dli",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_refuse_what_is_not_generated() {
        assert_eq!(parse_mix("1:90, 3:10"), Ok(vec![(1, 90), (3, 10)]));
        assert!(parse_mix("4:10").is_err());
        assert!(parse_mix("1:0").is_err());
        assert!(parse_mix("1").is_err());
        assert_eq!(Shape::default().mix, MIX.to_vec());
    }

    #[test]
    fn parents_past_the_common_ones_are_distinct() {
        assert_eq!(parent(0).0, PARENTS[0].0);
        let more: std::collections::HashSet<String> = (0..300).map(|i| parent(i).0).collect();
        assert_eq!(more.len(), 300);
    }
}
