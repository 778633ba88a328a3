use super::*;
use vigil_model::Event;

fn ev(fields: &[(&str, &str)]) -> Event {
    let mut e = Event::default();
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

fn run(x: &Expr, e: &Event) -> Vec<String> {
    let mut out = Items::default();
    x.eval(e.fields.as_slice(), &mut out);
    let got = out.as_slice().to_vec();
    // Items already in the list (and stale buffers after them) change nothing.
    out.clear();
    ["before", "stale 1", "stale 2", "stale 3"].iter().for_each(|v| out.push_str(v));
    out.truncate(1);
    x.eval(e.fields.as_slice(), &mut out);
    assert_eq!(out.as_slice()[0], "before");
    assert_eq!(&out.as_slice()[1..], got);
    // The direct path agrees with the general one, whatever the slot held.
    let multi = |n: usize| Value::Multi((0..n).map(|i| format!("stale {i}")).collect());
    for mut slot in [Value::Null, Value::str("stale"), multi(1), multi(2), multi(3)] {
        x.eval_into(e.fields.as_slice(), &mut out, &mut slot);
        assert_eq!(slot, Value::from_items(got.clone()));
    }
    got
}

fn value(x: &Expr, e: &Event) -> Value {
    let mut slot = Value::Null;
    x.eval_into(e.fields.as_slice(), &mut Items::default(), &mut slot);
    slot
}

#[test]
fn hashes_and_last() {
    let h = "SHA1=AA,MD5=BB,SHA256=CC,IMPHASH=DD";
    assert_eq!(Op::HashMd5.apply(h), "BB");
    assert_eq!(Op::HashImphash.apply(h), "DD");
    assert_eq!(Op::HashSha256.apply("MD5=BB"), "");
    let e = ev(&[("Channel", "System"), ("Channel", "Application")]);
    let mut x = Expr::field("Channel");
    x.last = true;
    assert_eq!(run(&x, &e), ["Application"]);
    assert_eq!(value(&x, &e), Value::str("Application"));
    assert_eq!(value(&Expr::field("Channel"), &e), Value::Multi(vec!["System".into(), "Application".into()]));
}

#[test]
fn ops() {
    assert_eq!(basename("C:\\Windows\\System32\\msiexec.exe"), "msiexec.exe");
    assert_eq!(basename("/usr/bin/curl"), "curl");
    assert_eq!(basename("msiexec.exe"), "msiexec.exe");
    assert_eq!(basename("C:\\Windows\\"), "Windows");
    assert_eq!(basename("a/b//"), "b");
    assert_eq!(basename("\\/"), "");
    assert_eq!(basename(""), "");
    assert_eq!(basename("C:\\dossier\\é\\ü.exe"), "ü.exe");
    assert_eq!(hex_to_dec("0x1b28"), "6952");
    assert_eq!(hex_to_dec("0XF84"), "3972");
    assert_eq!(hex_to_dec("6952"), "6952");
    assert_eq!(hex_to_dec("0xzz"), "0xzz");
    assert_eq!(strip_device_prefix("\\Device\\HarddiskVolume1\\Windows\\x.exe"), "\\Windows\\x.exe");
    assert_eq!(strip_device_prefix("\\??\\C:\\x.exe"), "C:\\x.exe");
    assert_eq!(strip_device_prefix("C:\\x.exe"), "C:\\x.exe");
    assert_eq!(first_token("\"C:\\Program Files\\a b.exe\" -x"), "C:\\Program Files\\a b.exe");
    assert_eq!(first_token("msiexec.exe /i http://x"), "msiexec.exe");
    assert_eq!(first_token("\"unterminated"), "unterminated");
    assert_eq!(Op::Unquote.apply("\"a\""), "a");
    assert_eq!(Op::PathRoot.apply("HKLM\\System\\x"), "HKLM");
    assert_eq!(Op::Ipv4Unmapped.apply("::ffff:10.0.0.5"), "10.0.0.5");
    assert_eq!(Op::Ipv4Unmapped.apply("::1"), "::1");
    assert_eq!(Op::DnsAnswer.apply("type:  5 edge.example.net"), "edge.example.net");
    assert_eq!(Op::DnsAnswer.apply("::ffff:93.184.216.34"), "93.184.216.34");
    let e = ev(&[("Q", "type:  5 a.example;::ffff:1.2.3.4;")]);
    let split = Expr { split: Some(";".into()), ops: vec![Op::DnsAnswer], ..Expr::field("Q") };
    assert_eq!(run(&split, &e), ["a.example", "1.2.3.4"]);
    assert_eq!(Op::Lower.apply("ÀB"), "àb");
    assert_eq!(Op::Upper.apply("ab"), "AB");
    let lower_split = Expr { split: Some(";".into()), ops: vec![Op::Upper, Op::Trim], ..Expr::field("L") };
    assert_eq!(run(&lower_split, &ev(&[("L", "x; ;y"), ("L", "z")])), ["X", "Y", "Z"]);
    // One op, written straight into the slot: a value, an empty result, none, several.
    let one_op = |op| Expr { ops: vec![op], ..Expr::field("H") };
    assert_eq!(run(&one_op(Op::Basename), &ev(&[("H", "C:\\w\\X.exe")])), ["X.exe"]);
    assert_eq!(run(&one_op(Op::HashSha256), &ev(&[("H", "MD5=BB")])), Vec::<String>::new());
    assert_eq!(run(&one_op(Op::Lower), &ev(&[("Q", "A")])), Vec::<String>::new());
    assert_eq!(run(&one_op(Op::Lower), &ev(&[("H", "A"), ("H", "B")])), ["a", "b"]);
}

#[test]
fn sources() {
    let e = ev(&[("A", "-"), ("B", "x"), ("D", "DOM"), ("N", "bob"), ("M", "1"), ("M", "2")]);
    let mut first = Expr::field("A");
    first.source = Source::First(vec![Expr { empty: vec!["-".into()], ..Expr::field("A") }, Expr::field("B")]);
    assert_eq!(run(&first, &e), ["x"]);
    let join = Expr {
        source: Source::Join { parts: vec![Expr::field("D"), Expr::field("Z"), Expr::field("N")], sep: "\\".into() },
        ..Expr::field("")
    };
    assert_eq!(run(&join, &e), ["DOM\\bob"]);
    assert_eq!(run(&Expr::field("M"), &e), ["1", "2"]);
    assert!(run(&Expr::field("Z"), &e).is_empty());
    let mut mapped = Expr::field("M");
    mapped.map = Some([("1".to_string(), "one".to_string())].into_iter().collect());
    assert_eq!(run(&mapped, &e), ["one", "2"]);
    mapped.map_only = true;
    assert_eq!(run(&mapped, &e), ["one"]);
    let unmapped_first = ev(&[("M", "2"), ("M", "1"), ("M", "1")]);
    assert_eq!(run(&mapped, &unmapped_first), ["one", "one"]);
    let mut join_mapped = join.clone();
    join_mapped.ops = vec![Op::Lower];
    assert_eq!(run(&join_mapped, &e), ["dom\\bob"]);
    assert!(run(&Expr { source: Source::Join { parts: vec![Expr::field("Z")], sep: "-".into() }, ..Expr::field("") }, &e).is_empty());
}
