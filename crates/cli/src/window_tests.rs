use super::*;
use vigil_content::ContentSet;
use vigil_engine::Engine;
use vigil_engine::Planner;
use vigil_model::Event;
use vigil_model::Value;
use vigil_scan::Consumer;
use vigil_time::{parse_iso8601_utc, Schedule};

fn t(s: &str) -> Micros {
    parse_iso8601_utc(s).expect("test time")
}

fn runs(cron: &str, earliest: &str, latest: &str, from: &str, to: &str) -> Runs {
    let tz = Tz::utc();
    let s = Schedule::parse(cron).expect("cron");
    Runs::new(s.ticks(t(from), t(to), &tz).map(|r| (r, Window::for_run(earliest, latest, r, &tz).expect("window"))).collect())
}

fn run_times(r: &Runs, at: &str) -> Vec<String> {
    r.containing(t(at)).map(|i| iso(r.times[i])).collect()
}

#[test]
fn hourly_escu_default_finds_each_instant_once() {
    let r = runs("0 * * * *", "-70m@m", "-10m@m", "2026-11-20T08:00:00Z", "2026-11-20T14:00:00Z");
    assert_eq!(r.len(), 6);
    assert_eq!(run_times(&r, "2026-11-20T10:15:01Z"), ["2026-11-20T11:00:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T10:55:00Z"), ["2026-11-20T12:00:00Z"]);
    // earliest inclusive, latest exclusive
    assert_eq!(run_times(&r, "2026-11-20T09:50:00Z"), ["2026-11-20T11:00:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T10:50:00Z"), ["2026-11-20T12:00:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T10:49:59.999999Z"), ["2026-11-20T11:00:00Z"]);
    // before the first window (06:50) and from the last window's latest (12:50) on: none
    assert!(run_times(&r, "2026-11-20T06:49:59Z").is_empty());
    assert_eq!(run_times(&r, "2026-11-20T06:50:00Z"), ["2026-11-20T08:00:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T12:49:59Z"), ["2026-11-20T13:00:00Z"]);
    assert!(run_times(&r, "2026-11-20T12:50:00Z").is_empty());
}

#[test]
fn overlapping_windows_each_get_the_instant() {
    // every 30 min over the last 35 min: 5 minutes of overlap between consecutive runs
    let r = runs("*/30 * * * *", "-35m", "now", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z");
    assert_eq!(r.len(), 4);
    assert_eq!(run_times(&r, "2026-11-20T10:27:00Z"), ["2026-11-20T10:30:00Z", "2026-11-20T11:00:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T10:25:00Z"), ["2026-11-20T10:30:00Z", "2026-11-20T11:00:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T10:24:59Z"), ["2026-11-20T10:30:00Z"]);
    assert_eq!(run_times(&r, "2026-11-20T10:30:00Z"), ["2026-11-20T11:00:00Z"]);
    // a wide window: every run of a 3-hour lookback holds the instant
    let r = runs("0 * * * *", "-3h", "now", "2026-11-20T10:00:00Z", "2026-11-20T14:00:00Z");
    assert_eq!(run_times(&r, "2026-11-20T09:30:00Z"), ["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"]);
}

#[test]
fn gaps_between_windows_route_nowhere() {
    // every 2 hours over the last hour: half of the time is never searched
    let r = runs("0 */2 * * *", "-1h", "now", "2026-11-20T00:00:00Z", "2026-11-20T06:00:00Z");
    assert_eq!(run_times(&r, "2026-11-20T01:30:00Z"), ["2026-11-20T02:00:00Z"]);
    assert!(run_times(&r, "2026-11-20T02:30:00Z").is_empty());
}

#[test]
fn binary_search_agrees_with_a_linear_scan() {
    let r = runs("*/7 * * * *", "-20m@m", "-3m", "2026-11-20T00:00:00Z", "2026-11-20T05:00:00Z");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let base = t("2026-11-19T23:30:00Z");
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // whole seconds, often on minute boundaries, across and beyond the range
        let secs = (x % (6 * 3600)) as i64;
        let secs = if x.is_multiple_of(3) { secs - secs % 60 } else { secs };
        let at = base + secs * 1_000_000;
        let fast: Vec<usize> = r.containing(at).collect();
        let slow: Vec<usize> = (0..r.len()).filter(|&i| r.windows[i].contains(at)).collect();
        assert_eq!(fast, slow, "at {}", iso(at));
    }
}

#[test]
fn unsorted_windows_fall_back_to_a_scan() {
    let r = Runs::new(vec![(10, Window::new(5, 20)), (11, Window::new(0, 8)), (12, Window::new(6, 7))]);
    assert!(!r.is_sorted());
    assert_eq!(r.containing(6).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(r.containing(7).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(r.containing(19).collect::<Vec<_>>(), [0]);
    assert!(r.containing(20).next().is_none());
    assert!(Runs::new(vec![]).containing(0).next().is_none());
}

#[test]
fn window_args_resolve_against_now() {
    let mut ctx = EvalContext { now: 0, tz: Tz::utc() };
    let args = WindowArgs { earliest: Some("-70m@m".into()), latest: Some("-10m@m".into()), now: Some("2026-11-20T14:05:37Z".into()) };
    let w = args.resolve(&mut ctx).expect("resolve").expect("window");
    assert_eq!(ctx.now, t("2026-11-20T14:05:37Z"));
    assert_eq!((iso(w.earliest), iso(w.latest)), ("2026-11-20T12:55:00Z".into(), "2026-11-20T13:55:00Z".into()));
    let only_earliest = WindowArgs { earliest: Some("1795600000".into()), ..WindowArgs::default() };
    let w = only_earliest.resolve(&mut ctx).expect("resolve").expect("window");
    assert_eq!((w.earliest, w.latest), (1_795_600_000_000_000, Micros::MAX));
    assert!(WindowArgs::default().resolve(&mut ctx).expect("resolve").is_none());
    let bad = WindowArgs { earliest: Some("-1x".into()), ..WindowArgs::default() };
    assert!(bad.resolve(&mut ctx).unwrap_err().starts_with("--earliest: "));
    let rel_now = WindowArgs { now: Some("-1h".into()), ..WindowArgs::default() };
    assert!(rel_now.resolve(&mut ctx).unwrap_err().starts_with("--now: "));
    let reversed = WindowArgs { earliest: Some("-1h".into()), latest: Some("-2h".into()), ..WindowArgs::default() };
    assert!(reversed.resolve(&mut ctx).unwrap_err().contains("after --latest"));
}

#[test]
fn arrival_times() {
    assert_eq!(parse_arrival("1795600000"), Some(1_795_600_000_000_000));
    assert_eq!(parse_arrival(" 1795600000.5 "), Some(1_795_600_000_500_000));
    assert_eq!(parse_arrival("2026-11-20T10:00:00Z"), Some(t("2026-11-20T10:00:00Z")));
    assert_eq!(parse_arrival("soon"), None);
    assert_eq!(parse_arrival("NaN"), None);
}

/// A group running a raw-event search, fed by the consumer, finished per run.
fn event_group(r: Runs) -> Group {
    let content = ContentSet::builtin();
    let catalog = vigil_model::Catalog::default();
    let mut planner = Planner::new(&catalog, &content);
    let q = planner.plan("all", "search * | stats count").expect("plan");
    Group {
        engine: Engine::new(vec![q], &catalog),
        names: vec!["all".into()],
        cron: String::new(),
        earliest: String::new(),
        latest: String::new(),
        runs: r,
    }
}

fn event(time: Option<&str>, arrival: Option<&str>) -> Event {
    let mut ev = Event { time: time.map(t), sourcetype: "x".into(), raw: "x".into(), ..Event::default() };
    if let Some(a) = arrival {
        ev.push("_indextime", a);
    }
    ev
}

fn counts(groups: &[Group], state: ScheduledState) -> Vec<String> {
    let ctx = EvalContext { now: 0, tz: Tz::utc() };
    let mut out = Vec::new();
    for (g, states) in groups.iter().zip(state.states) {
        for (i, st) in states.into_iter().enumerate() {
            let st = st.unwrap_or_else(|| g.engine.new_state());
            for o in g.engine.finish(st, &ctx) {
                let rows = o.result.expect("result");
                let n = rows.first().map(|r| r.value("count").clone()).unwrap_or(Value::Null);
                out.push(format!("{}={}", iso(g.runs.times[i]), n));
            }
        }
    }
    out
}

#[test]
fn scheduled_consumer_routes_and_reports_late_events() {
    let groups = vec![event_group(runs("0 * * * *", "-70m@m", "-10m@m", "2026-11-20T10:00:00Z", "2026-11-20T13:00:00Z"))];
    let c = Scheduled { groups: &groups, arrival_field: "_indextime" };
    let mut a = c.new_state();
    let mut b = c.new_state();
    c.consume(&mut a, &event(Some("2026-11-20T10:15:01Z"), None), &[]); // 11:00
    c.consume(&mut b, &event(Some("2026-11-20T10:49:59Z"), Some("2026-11-20T10:59:00Z")), &[]); // 11:00, on time
    c.consume(&mut b, &event(Some("2026-11-20T10:20:00Z"), Some("2026-11-20T11:00:01Z")), &[]); // missed
    c.consume(&mut a, &event(Some("2026-11-20T11:00:00Z"), Some("1795172400")), &[]); // 12:00, arrived 11:00
    c.consume(&mut a, &event(Some("2026-11-20T08:00:00Z"), None), &[]); // outside every window
    c.consume(&mut a, &event(None, None), &[]);
    c.merge(&mut a, b);
    assert_eq!((a.outside, a.untimed, a.with_arrival, a.bad_arrival), (1, 1, 3, 0));
    assert_eq!(a.missed_per_group, [1]);
    let m = &a.missed[0];
    assert_eq!(
        (iso(m.event_time), iso(m.arrival), iso(m.run_time)),
        ("2026-11-20T10:20:00Z".into(), "2026-11-20T11:00:01Z".into(), "2026-11-20T11:00:00Z".into())
    );
    assert_eq!(counts(&groups, a), ["2026-11-20T10:00:00Z=0", "2026-11-20T11:00:00Z=2", "2026-11-20T12:00:00Z=1"]);
}

#[test]
fn late_event_seen_by_a_later_overlapping_window_is_not_missed() {
    let groups = vec![event_group(runs("*/30 * * * *", "-35m", "now", "2026-11-20T10:00:00Z", "2026-11-20T11:30:00Z"))];
    let c = Scheduled { groups: &groups, arrival_field: "_indextime" };
    let mut s = c.new_state();
    // in the 10:30 and 11:00 windows; arrives 10:40: only the 11:00 run sees it
    c.consume(&mut s, &event(Some("2026-11-20T10:27:00Z"), Some("2026-11-20T10:40:00Z")), &[]);
    assert!(s.missed.is_empty());
    assert_eq!(counts(&groups, s), ["2026-11-20T10:00:00Z=0", "2026-11-20T10:30:00Z=0", "2026-11-20T11:00:00Z=1"]);
}
