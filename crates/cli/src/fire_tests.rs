use super::*;

fn needs(spl: &str) -> Option<Need> {
    raw_search_needs(&vigil_spl::parse(spl).unwrap())
}

fn miss(spl: &str, have: &[&str]) -> Vec<String> {
    missing(&needs(spl).unwrap(), &|f| have.contains(&f))
}

#[test]
fn filters_and_group_by_fields_are_needed() {
    assert_eq!(
        miss("EventCode=10 TargetImage=*lsass.exe | stats count by dest, SourceImage", &["EventCode", "TargetImage", "SourceImage"]),
        ["dest"]
    );
    assert!(miss("EventCode=10 | stats count by dest", &["EventCode", "dest"]).is_empty());
}

#[test]
fn fields_made_before_the_stats_are_not_needed() {
    let spl = "EventCode=10 | rename Computer as dest | eval x=1 | rex field=CallTrace \"(?<dll>\\w+\\.dll)\" | stats count by dest x dll";
    assert_eq!(miss(spl, &["EventCode"]), Vec::<String>::new());
    // After a lookup, the by-clause is not judged.
    assert!(miss("EventCode=10 | lookup t a OUTPUT b | stats count by b", &["EventCode"]).is_empty());
}

#[test]
fn one_alternative_of_an_or_is_enough_and_not_needs_nothing() {
    assert!(miss("(eventtype=x OR source=y) EventCode=1", &["source", "EventCode"]).is_empty());
    assert_eq!(miss("(a=1 OR b=2) c=3", &["c"]), ["a"]);
    assert!(miss("NOT user=x EventCode=1", &["EventCode"]).is_empty());
}

#[test]
fn data_model_searches_are_not_judged() {
    assert!(needs("| tstats count from datamodel=Endpoint.Processes by Processes.dest").is_none());
}

#[test]
fn catalog_uses_the_example_event_and_the_add_on_knowledge() {
    let knowledge = Knowledge::builtin().unwrap();
    let sysmon10 = DataSource {
        name: "Sysmon EventID 10".into(),
        example_log: Some("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>10</EventID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>pc</Computer></System><EventData><Data Name='SourceImage'>C:\\x.exe</Data><Data Name='TargetImage'>C:\\Windows\\system32\\lsass.exe</Data></EventData></Event>".into()),
        fields: vec!["only_in_splunk".into()],
        ..DataSource::default()
    };
    let other = DataSource { name: "Other".into(), fields: vec!["eventName".into()], ..DataSource::default() };
    let cat = FieldCatalog::new(&[sysmon10, other], &knowledge);
    let det = |ds: &str| Detection { data_source: vec![ds.into()], ..Detection::default() };
    let spl =
        "source=\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\" EventCode=10 | stats count by dest parent_process_name SourceImage";
    assert_eq!(cat.missing_fields(&det("Sysmon EventID 10"), spl), None);
    assert_eq!(cat.missing_fields(&det("Sysmon EventID 10"), "EventCode=10 | stats count by user"), Some(vec!["user".to_string()]));
    assert_eq!(cat.missing_fields(&det("Other"), "eventName=x | stats count by dest"), Some(vec!["dest".to_string()]));
    assert_eq!(cat.missing_fields(&det("Unknown"), "x=1 | stats count by y"), None, "unknown data source: not judged");
    let both = Detection { data_source: vec!["Other".into(), "Unknown".into()], ..Detection::default() };
    assert_eq!(cat.missing_fields(&both, "eventName=x | stats count by dest"), None, "one unknown data source might have it");
}

#[test]
fn group_names_of_a_regex() {
    assert_eq!(group_names("(?<a>x)(?P<b_1>y)(?:z)(?i)"), ["a", "b_1"]);
}
