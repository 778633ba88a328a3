//! The Authentication, Change, Endpoint.Services mappings (mappings/windows_security.toml,
//! windows_system.toml) field by field, on events built here with the field names Security and
//! System events have (as the readers give them from XML, EVTX or flat JSON).

use vigil_model::{Event, Value};
use vigil_normalize::Normalizer;

fn event(source: &str, fields: &[(&str, &str)]) -> Event {
    let mut ev = Event { sourcetype: "XmlWinEventLog".into(), source: source.into(), host: "h".into(), ..Default::default() };
    for (k, v) in fields {
        ev.push(*k, *v);
    }
    ev
}

/// The one row `ev` maps to in `dataset`, as (field, value text) lookups.
fn row(n: &Normalizer, ev: &Event, dataset: &str) -> impl Fn(&str) -> String {
    let ds = n.catalog().find(dataset).unwrap();
    let mut out = Vec::new();
    n.normalize(ev, &mut out);
    out.retain(|r| r.dataset == ds);
    assert_eq!(out.len(), 1, "one {dataset} row");
    let schema = n.catalog().get(ds).clone();
    let values = out.remove(0).values;
    move |f: &str| {
        let v: &Value = &values[schema.field_index(f).unwrap_or_else(|| panic!("no field {f}"))];
        v.to_string()
    }
}

#[test]
fn kerberos_service_ticket_failure() {
    let n = Normalizer::builtin().unwrap();
    let ev = event(
        "XmlWinEventLog:Security",
        &[
            ("EventCode", "4769"),
            ("Computer", "DC01.corp"),
            ("TargetUserName", "bob@CORP.LOCAL"),
            ("ServiceName", "MSSQLSvc"),
            ("Status", "0x1b"),
            ("IpAddress", "::ffff:10.1.2.3"),
        ],
    );
    let f = row(&n, &ev, "Authentication.Authentication");
    assert_eq!(f("action"), "failure");
    assert_eq!(f("reason"), "0x1b");
    assert_eq!(f("src"), "10.1.2.3");
    assert_eq!(f("dest"), "DC01.corp");
    assert_eq!(f("user"), "bob@CORP.LOCAL");
    assert_eq!(f("authentication_method"), "Kerberos");
    assert_eq!(f("authentication_service"), "MSSQLSvc");
    assert_eq!(f("signature_id"), "4769");
}

#[test]
fn logon_success_and_privileged_logon() {
    let n = Normalizer::builtin().unwrap();
    let ev = event(
        "XmlWinEventLog:Security",
        &[
            ("EventCode", "4624"),
            ("Computer", "WS1"),
            ("TargetUserName", "alice"),
            ("TargetDomainName", "CORP"),
            ("LogonType", "10"),
            ("IpAddress", "-"),
            ("WorkstationName", "LAPTOP7"),
            ("SubjectUserName", "-"),
        ],
    );
    let f = row(&n, &ev, "Authentication.Authentication");
    assert_eq!(
        (f("action"), f("app"), f("src"), f("user"), f("dest_nt_domain")),
        ("success".into(), "win:remote".into(), "LAPTOP7".into(), "alice".into(), "CORP".into())
    );
    assert_eq!(f("src_user"), "unknown", "`-` is empty, then CIM's fill");
    let ev = event("XmlWinEventLog:Security", &[("EventCode", "4672"), ("Computer", "WS1"), ("SubjectUserName", "admin")]);
    let f = row(&n, &ev, "Authentication.Authentication");
    assert_eq!(f("tag"), "authentication\nprivileged");
    assert_eq!(f("user"), "admin");
}

#[test]
fn group_membership_change_names_the_member() {
    let n = Normalizer::builtin().unwrap();
    let ev = event(
        "XmlWinEventLog:Security",
        &[
            ("EventCode", "4732"),
            ("Computer", "WS1"),
            ("MemberName", "-"),
            ("MemberSid", "S-1-5-21-1-2-3-1104"),
            ("TargetUserName", "Administrators"),
            ("TargetSid", "S-1-5-32-544"),
            ("SubjectUserName", "alice"),
            ("SubjectDomainName", "CORP"),
        ],
    );
    let f = row(&n, &ev, "Change.All_Changes");
    assert_eq!(f("action"), "modified");
    assert_eq!(f("user"), "S-1-5-21-1-2-3-1104");
    assert_eq!((f("object"), f("object_category"), f("object_id")), ("Administrators".into(), "group".into(), "S-1-5-32-544".into()));
    assert_eq!((f("src_user"), f("src_nt_domain")), ("alice".into(), "CORP".into()));
    assert_eq!(f("result"), "A member was added to a security-enabled local group");
    assert_eq!(f("tag"), "change\naccount");
}

#[test]
fn service_installs_from_security_and_system() {
    let n = Normalizer::builtin().unwrap();
    let ev = event(
        "XmlWinEventLog:Security",
        &[
            ("EventCode", "4697"),
            ("Computer", "WS1"),
            ("ServiceName", "PSEXESVC"),
            ("ServiceFileName", "%SystemRoot%\\PSEXESVC.exe"),
            ("ServiceStartType", "3"),
            ("ServiceAccount", "LocalSystem"),
        ],
    );
    let f = row(&n, &ev, "Endpoint.Services");
    assert_eq!(
        (f("service_name"), f("service_exec"), f("start_mode"), f("user")),
        ("PSEXESVC".into(), "PSEXESVC.exe".into(), "demand start".into(), "LocalSystem".into())
    );
    let ev = event(
        "XmlWinEventLog:System",
        &[
            ("EventCode", "7045"),
            ("Computer", "WS1"),
            ("ServiceName", "updater"),
            ("ImagePath", "\"C:\\Program Files\\Up\\up.exe\" -svc"),
            ("StartType", "auto start"),
            ("AccountName", "LocalSystem"),
        ],
    );
    let f = row(&n, &ev, "Endpoint.Services");
    assert_eq!(
        (f("service_exec"), f("service_path"), f("start_mode")),
        ("up.exe".into(), "\"C:\\Program Files\\Up\\up.exe\" -svc".into(), "auto start".into())
    );
}
