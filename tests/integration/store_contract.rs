//! The storage port's contract, written once and run against both stores:
//! the in-memory one the unit tests rely on and DynamoDB (DynamoDB Local).
//! Every case is an async function over any `UsageStore`; the macro at the
//! end runs each against a new `MemoryStore` and a new DynamoDB table, so
//! the fast store cannot drift from the real one unnoticed.

use crate::support::*;
use rtc_usage::domain::access_key::AccessKeyId;
use rtc_usage::domain::commit::{CommitGroup, HourAdd};
use rtc_usage::domain::event::EventKey;
use rtc_usage::domain::ids::Name;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::domain::registration::RegistrationRequest;
use rtc_usage::domain::retention;
use rtc_usage::domain::time::{Day, Hour};
use rtc_usage::domain::usage::{ModeUsage, RecordMode, Tier};
use rtc_usage::domain::zone::BillingZone;
use rtc_usage::store::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};

fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap()
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn key(id: &str) -> EventKey {
    EventKey::of("/contract", id)
}

/// 2026-11-20, and hours counted from its midnight (negative: the day before).
fn day0() -> Day {
    Day::parse_key("2026-11-20").unwrap()
}

fn hour(h: i64) -> Hour {
    Hour(day0().first_hour().0 + h)
}

/// Usage in all eight counters, each different, one of them a whole 48 hours
/// in milliseconds, so that a counter read back from the wrong attribute or
/// truncated shows.
fn usage(n: u64) -> ModeUsage {
    let mut usage = ModeUsage::default();
    let mut i = 0;
    for mode in RecordMode::ALL {
        for tier in Tier::ALL {
            i += 1;
            usage.add(mode, tier, n * 1_000 + i);
        }
    }
    usage.add(RecordMode::Mixed, Tier::V1080, 172_800_000);
    usage
}

/// One transaction: these events, adding `usage` to each (app, hour), and
/// marking each day those hours fall on, as ingestion builds it.
fn group(events: &[&str], hours: &[(&str, Hour, ModeUsage)]) -> CommitGroup {
    let mut group = CommitGroup::default();
    let owner = hours.first().map_or("app-a", |(name, _, _)| *name);
    for id in events {
        group
            .events
            .push(rtc_usage::domain::commit::EventWrite::segment(
                key(id),
                rtc_usage::domain::event::Segment {
                    app: app(owner),
                    class: None,
                    mode: RecordMode::SingleStream,
                    tier: Tier::Audio,
                    start: day0().start(),
                    end: day0().start().plus_ms(1_000),
                },
            ));
    }
    for (name, hour, usage) in hours {
        group.hours.insert(
            (app(name), *hour),
            HourAdd {
                usage: *usage,
                head: ModeUsage::default(),
                expires: retention::hourly_expiry(*hour),
            },
        );
        group.days.insert((app(name), hour.day()));
    }
    group
}

async fn commit(store: &impl UsageStore, group: &CommitGroup) {
    assert_eq!(
        store.commit(group).await.unwrap(),
        CommitOutcome::Committed,
        "{group:?}"
    );
}

async fn pending(store: &impl UsageStore) -> BTreeSet<PendingDay> {
    let mut all = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store.pending_days(cursor).await.unwrap();
        for day in page.days {
            assert!(all.insert(day.clone()), "{day:?} listed twice");
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

fn pending_day(name: &str, day: Day) -> PendingDay {
    PendingDay {
        app: app(name),
        day,
    }
}

async fn registration(store: impl UsageStore) {
    let (a, b) = (app("app-a"), app("app-b"));
    assert_eq!(store.owner_of(&a).await.unwrap(), None);
    let utc = BillingZone::utc();
    assert_eq!(
        store.register(&a, &account(OWNER)).await.unwrap(),
        RegisterOutcome::Accepted {
            zone: utc.clone(),
            open: false
        },
        "the first registration is not open until opened"
    );
    assert_eq!(store.owner_of(&a).await.unwrap(), Some(account(OWNER)));
    assert_eq!(
        store.register(&a, &account(OWNER)).await.unwrap(),
        RegisterOutcome::Accepted {
            zone: utc.clone(),
            open: true
        }
    );
    assert_eq!(
        store.register(&a, &account(OTHER_ACCOUNT)).await.unwrap(),
        RegisterOutcome::OwnedByAnother
    );
    assert_eq!(
        store.owner_of(&a).await.unwrap(),
        Some(account(OWNER)),
        "another account's registration writes nothing"
    );
    assert_eq!(
        store.register(&b, &account(OTHER_ACCOUNT)).await.unwrap(),
        RegisterOutcome::Accepted {
            zone: utc.clone(),
            open: false
        }
    );
    assert_eq!(
        store.owner_of(&b).await.unwrap(),
        Some(account(OTHER_ACCOUNT))
    );

    // A zone: fixed by the first registration, hidden until opened.
    let c = app("app-c");
    let zone = |name: &str| BillingZone::parse(name).unwrap();
    let request = |zone_name: Option<&str>, name: Option<&str>| RegistrationRequest {
        owner: account(OWNER),
        name: name.map(|n| Name::parse(n).unwrap()),
        zone: zone_name.map(zone),
    };
    assert_eq!(
        store
            .register_app(
                &c,
                &request(None, Some("Kolkata school")),
                &zone("Asia/Calcutta")
            )
            .await
            .unwrap(),
        RegisterOutcome::Accepted {
            zone: zone("Asia/Calcutta"),
            open: false
        },
        "no zone given: the deployment's default"
    );
    assert_eq!(store.registration(&c).await.unwrap(), None, "not open yet");
    assert_eq!(
        store.zones(&[c.clone(), app("app-none")]).await.unwrap(),
        [(c.clone(), zone("Asia/Calcutta"))].into_iter().collect()
    );
    assert_eq!(
        store
            .register_app(&c, &request(Some("Asia/Kathmandu"), None), &utc)
            .await
            .unwrap(),
        RegisterOutcome::OtherZone(zone("Asia/Calcutta"))
    );
    assert_eq!(
        store
            .register_app(&c, &request(Some("Asia/Kolkata"), Some("other name")), &utc)
            .await
            .unwrap(),
        RegisterOutcome::Accepted {
            zone: zone("Asia/Calcutta"),
            open: false
        },
        "a link and the zone it names are one zone; the name first fixed stays"
    );
    store.open_app(&c).await.unwrap();
    store.open_app(&c).await.unwrap();
    let registration = store.registration(&c).await.unwrap().unwrap();
    assert_eq!(registration.zone.name(), "Asia/Calcutta");
    assert_eq!(registration.name.unwrap().as_str(), "Kolkata school");
    let apps = store.apps_of(&account(OWNER)).await.unwrap();
    assert_eq!(
        apps.iter()
            .map(|(app, r)| (app.as_str(), r.zone.name()))
            .collect::<Vec<_>>(),
        [("app-a", "UTC"), ("app-c", "Asia/Calcutta")]
    );
}

/// app-a: the hour before the day, its first, a middle one, its last, the
/// next day's first. app-b: one hour inside the day.
async fn a_spread_of_hours(store: &impl UsageStore) {
    commit(
        store,
        &group(
            &["e1"],
            &[
                ("app-a", hour(-1), usage(1)),
                ("app-a", hour(0), usage(2)),
                ("app-a", hour(5), usage(3)),
            ],
        ),
    )
    .await;
    commit(
        store,
        &group(
            &["e2"],
            &[
                ("app-a", hour(23), usage(4)),
                ("app-a", hour(24), usage(5)),
                ("app-b", hour(5), usage(6)),
            ],
        ),
    )
    .await;
}

async fn hours_in_a_range(store: impl UsageStore) {
    a_spread_of_hours(&store).await;
    let hours = |name: &'static str, first: i64, last: i64| {
        let store = &store;
        async move {
            store
                .hours(&app(name), hour(first), hour(last))
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.hour, h.usage))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        hours("app-a", 0, 23).await,
        [
            (hour(0), usage(2)),
            (hour(5), usage(3)),
            (hour(23), usage(4))
        ],
        "both bounds inclusive, ascending, exact counters"
    );
    assert_eq!(hours("app-a", -1, 24).await.len(), 5);
    assert_eq!(hours("app-a", 5, 5).await, [(hour(5), usage(3))]);
    assert!(
        hours("app-a", 1, 4).await.is_empty(),
        "hours without usage do not exist"
    );
    assert_eq!(hours("app-b", -1, 24).await, [(hour(5), usage(6))]);
    assert!(hours("app-c", -1, 24).await.is_empty());
    // A second commit into the same hour adds to it.
    commit(&store, &group(&["e3"], &[("app-a", hour(5), usage(7))])).await;
    let mut sum = usage(3);
    sum += usage(7);
    assert_eq!(hours("app-a", 5, 5).await, [(hour(5), sum)]);
}

async fn days_in_a_range(store: impl UsageStore) {
    a_spread_of_hours(&store).await;
    let days = |name: &'static str, first: Day, last: Day| {
        let store = &store;
        async move { store.days(&app(name), first, last).await.unwrap() }
    };
    let (before, after) = (Day(day0().0 - 1), day0().next());
    let records = days("app-a", before, after).await;
    assert_eq!(
        records.iter().map(|r| (r.day, r.seq)).collect::<Vec<_>>(),
        [(before, 1), (day0(), 2), (after, 1)],
        "ascending; the change counter counts the commits touching the day"
    );
    for record in &records {
        assert_eq!(
            (record.rolled, record.rolled_seq),
            (ModeUsage::default(), None),
            "never rolled"
        );
        assert!(!record.is_rolled());
    }
    assert_eq!(
        days("app-a", day0(), day0()).await.len(),
        1,
        "bounds inclusive"
    );
    assert!(
        days("app-a", after.next(), Day(after.0 + 30))
            .await
            .is_empty()
    );
    assert_eq!(
        days("app-b", before, after)
            .await
            .iter()
            .map(|r| (r.day, r.seq))
            .collect::<Vec<_>>(),
        [(day0(), 1)]
    );
    assert!(days("app-c", before, after).await.is_empty());
}

async fn counted(store: impl UsageStore) {
    assert_eq!(store.counted(&[]).await.unwrap(), HashSet::new());
    // More than one BatchGetItem's worth (100 keys) of each kind.
    let ids: Vec<String> = (0..150).map(|i| format!("counted-{i}")).collect();
    for chunk in ids.chunks(90) {
        let events: Vec<&str> = chunk.iter().map(String::as_str).collect();
        commit(&store, &group(&events, &[("app-a", hour(3), usage(1))])).await;
    }
    let unknown: Vec<EventKey> = (0..120).map(|i| key(&format!("never-{i}"))).collect();
    let mut asked: Vec<EventKey> = ids.iter().map(|id| key(id)).collect();
    asked.extend(&unknown);
    let seen = store.counted(&asked).await.unwrap();
    let want: HashSet<EventKey> = ids.iter().map(|id| key(id)).collect();
    assert_eq!(seen, want);
    assert_eq!(store.counted(&unknown).await.unwrap(), HashSet::new());
}

async fn commit_is_all_or_nothing(store: impl UsageStore) {
    commit(&store, &group(&["e1"], &[("app-a", hour(1), usage(1))])).await;
    commit(&store, &group(&["e2"], &[("app-a", hour(2), usage(2))])).await;
    let hours_before = store
        .hours(&app("app-a"), hour(-24), hour(48))
        .await
        .unwrap();
    let days_before = store
        .days(&app("app-a"), Day(0), Day(day0().0 + 10))
        .await
        .unwrap();
    let pending_before = pending(&store).await;

    // Two events of the group were counted before: the whole group is refused,
    // naming exactly those two.
    let mixed = group(
        &["e3", "e1", "e4", "e2"],
        &[
            ("app-a", hour(1), usage(3)),
            ("app-a", hour(30), usage(4)),
            ("app-b", hour(7), usage(5)),
        ],
    );
    let CommitOutcome::AlreadyCounted(seen) = store.commit(&mixed).await.unwrap() else {
        panic!("a group with counted events must not commit");
    };
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        [key("e1"), key("e2")].iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(seen.len(), 2, "each named once");
    // Nothing of it was written.
    assert_eq!(
        store
            .hours(&app("app-a"), hour(-24), hour(48))
            .await
            .unwrap(),
        hours_before
    );
    assert_eq!(
        store
            .days(&app("app-a"), Day(0), Day(day0().0 + 10))
            .await
            .unwrap(),
        days_before
    );
    assert!(
        store
            .hours(&app("app-b"), hour(-24), hour(48))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(pending(&store).await, pending_before);
    assert_eq!(
        store.counted(&[key("e3"), key("e4")]).await.unwrap(),
        HashSet::new()
    );
    // The rest commits on its own.
    let rest = group(
        &["e3", "e4"],
        &[("app-a", hour(1), usage(3)), ("app-b", hour(7), usage(5))],
    );
    commit(&store, &rest).await;
    let mut sum = usage(1);
    sum += usage(3);
    assert_eq!(
        store.hours(&app("app-a"), hour(1), hour(1)).await.unwrap(),
        [HourRecord {
            hour: hour(1),
            usage: sum,
            head: ModeUsage::default(),
        }]
    );
    assert_eq!(
        store.commit(&rest).await.unwrap(),
        CommitOutcome::AlreadyCounted(vec![key("e3"), key("e4")])
    );
}

/// 250 marked days: more than one page of either store's work list
/// (DynamoDB's pages hold 200, the memory store's 100).
async fn pending_days_page_through_everything(store: impl UsageStore) {
    const APPS: [&str; 5] = ["app-a", "app-b", "app-c", "app-d", "app-e"];
    let mut marked = BTreeSet::new();
    for name in APPS {
        for chunk in 0..2 {
            let hours: Vec<(&str, Hour, ModeUsage)> = (0..25)
                .map(|d| {
                    let day = Day(day0().0 - 60 + chunk * 25 + d);
                    marked.insert(pending_day(name, day));
                    (name, day.first_hour(), usage(1))
                })
                .collect();
            commit(&store, &group(&[&format!("{name}-{chunk}")], &hours)).await;
        }
    }
    assert_eq!(marked.len(), 250);
    assert_eq!(pending(&store).await, marked);

    // The rollup clears each page's marks before it asks for the next: the
    // cursor must still lead to every day not yet seen.
    let first = store.pending_days(None).await.unwrap();
    assert!(!first.days.is_empty() && first.days.len() < 250);
    let cursor = first.next.clone().expect("more than one page");
    for day in &first.days {
        let record = &store.days(&day.app, day.day, day.day).await.unwrap()[0];
        let outcome = store
            .write_day(&day.app, day.day, &usage(1), record.seq)
            .await
            .unwrap();
        assert_eq!(outcome, WriteDayOutcome::Written);
    }
    let mut rest = BTreeSet::new();
    let mut cursor = Some(cursor);
    while let Some(c) = cursor {
        let page = store.pending_days(Some(c)).await.unwrap();
        rest.extend(page.days);
        cursor = page.next;
    }
    let first: BTreeSet<PendingDay> = first.days.into_iter().collect();
    assert_eq!(rest, &marked - &first);
    assert_eq!(pending(&store).await, rest);

    assert!(matches!(
        store.pending_days(Some("not a cursor".into())).await,
        Err(StoreError::Corrupt(_))
    ));
}

async fn apps_with_usage(store: impl UsageStore) {
    a_spread_of_hours(&store).await;
    let apps = |day: Day| {
        let store = &store;
        async move {
            let mut apps = store.apps_with_usage(day).await.unwrap();
            apps.sort();
            apps
        }
    };
    assert_eq!(apps(day0()).await, [app("app-a"), app("app-b")]);
    assert_eq!(apps(day0().next()).await, [app("app-a")]);
    assert!(apps(Day(day0().0 + 5)).await.is_empty());
}

async fn day_snapshot(store: impl UsageStore) {
    a_spread_of_hours(&store).await;
    let snapshot = store.day_snapshot(&app("app-a"), day0()).await.unwrap();
    let record = snapshot.record.expect("the day has a record");
    assert_eq!(
        (record.day, record.seq, record.rolled_seq),
        (day0(), 2, None)
    );
    assert_eq!(
        snapshot
            .hours
            .iter()
            .map(|h| (h.hour, h.usage))
            .collect::<Vec<_>>(),
        [
            (hour(0), usage(2)),
            (hour(5), usage(3)),
            (hour(23), usage(4))
        ],
        "the day's own hours, first and last included, neighbours excluded"
    );
    let other = store.day_snapshot(&app("app-b"), day0()).await.unwrap();
    assert_eq!(other.hours.len(), 1);
    assert_eq!(
        store
            .day_snapshot(&app("app-b"), day0().next())
            .await
            .unwrap(),
        DaySnapshot::default()
    );
    assert_eq!(
        store.day_snapshot(&app("app-c"), day0()).await.unwrap(),
        DaySnapshot::default()
    );
    // The record as rolled shows in the next snapshot.
    store
        .write_day(&app("app-a"), day0(), &usage(9), 2)
        .await
        .unwrap();
    let record = store
        .day_snapshot(&app("app-a"), day0())
        .await
        .unwrap()
        .record
        .unwrap();
    assert!(record.is_rolled());
    assert_eq!(record.rolled, usage(9));
}

async fn write_day_is_conditional_on_the_change_counter(store: impl UsageStore) {
    let a = app("app-a");
    commit(&store, &group(&["e1"], &[("app-a", hour(1), usage(1))])).await;
    commit(&store, &group(&["e2"], &[("app-a", hour(2), usage(2))])).await;
    commit(&store, &group(&["e3"], &[("app-a", hour(30), usage(3))])).await;
    let record = |day: Day| {
        let store = &store;
        let a = a.clone();
        async move { store.days(&a, day, day).await.unwrap().pop() }
    };
    let before = record(day0()).await.unwrap();
    assert_eq!(before.seq, 2);

    // A stale counter: nothing changes.
    assert_eq!(
        store.write_day(&a, day0(), &usage(8), 1).await.unwrap(),
        WriteDayOutcome::Changed
    );
    assert_eq!(record(day0()).await.unwrap(), before);
    assert!(
        pending(&store)
            .await
            .contains(&pending_day("app-a", day0()))
    );

    // The current counter: written, and only this day's mark is cleared.
    assert_eq!(
        store.write_day(&a, day0(), &usage(8), 2).await.unwrap(),
        WriteDayOutcome::Written
    );
    let rolled = record(day0()).await.unwrap();
    assert_eq!(
        (rolled.rolled, rolled.seq, rolled.rolled_seq),
        (usage(8), 2, Some(2))
    );
    assert!(rolled.is_rolled());
    assert_eq!(
        pending(&store).await,
        BTreeSet::from([pending_day("app-a", day0().next())])
    );
    // Overlapping runs may write the same day at the same counter again.
    assert_eq!(
        store.write_day(&a, day0(), &usage(8), 2).await.unwrap(),
        WriteDayOutcome::Written
    );

    // A new event: the counter moves on, the rolled totals stay as they
    // were (no longer vouched for), and the day is marked again.
    commit(&store, &group(&["e4"], &[("app-a", hour(3), usage(4))])).await;
    let changed = record(day0()).await.unwrap();
    assert_eq!(
        (changed.rolled, changed.seq, changed.rolled_seq),
        (usage(8), 3, Some(2))
    );
    assert!(!changed.is_rolled());
    assert!(
        pending(&store)
            .await
            .contains(&pending_day("app-a", day0()))
    );
    assert_eq!(
        store.write_day(&a, day0(), &usage(9), 2).await.unwrap(),
        WriteDayOutcome::Changed
    );

    // A day without a record is never created by a write.
    let empty = Day(day0().0 + 10);
    assert_eq!(
        store.write_day(&a, empty, &usage(1), 0).await.unwrap(),
        WriteDayOutcome::Changed
    );
    assert_eq!(record(empty).await, None);
    let all: BTreeMap<Day, u64> = store
        .days(&a, Day(0), Day(day0().0 + 100))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.day, r.seq))
        .collect();
    assert_eq!(all, BTreeMap::from([(day0(), 3), (day0().next(), 1)]));
}

/// Storage readings: idempotent puts (the same reading again, in one call or
/// another, is one reading), the window's readings in order, and the one
/// reading in effect before it.
async fn storage_measurements(store: impl UsageStore) {
    use rtc_usage::domain::storage::{MAX_BYTES, Measurement, Reading, Readings};
    use rtc_usage::domain::time::{HOUR_MS, UtcMillis};
    let a = app("app-a");
    let from = day0().start();
    let to = from.plus_ms(24 * HOUR_MS);
    let since = from.minus_ms(30 * 24 * HOUR_MS);
    let m = |name: &str, at: UtcMillis, bytes: u64| Measurement {
        app: app(name),
        bytes,
        at,
    };
    let read = |app: AppId, since: UtcMillis, from: UtcMillis, to: UtcMillis| {
        let store = &store;
        async move { store.measurements(&app, since, from, to).await.unwrap() }
    };
    assert_eq!(read(a.clone(), since, from, to).await, Readings::default());
    store.put_measurements(&[]).await.unwrap();

    let batch = vec![
        // Before `since`: never read.
        m("app-a", since.minus_ms(1), 1),
        // Exactly at `since`, and later before the window.
        m("app-a", since, 2),
        m("app-a", from.minus_ms(HOUR_MS), 30),
        // The latest instant before the window, three readings, one twice.
        m("app-a", from.minus_ms(1), 40),
        m("app-a", from.minus_ms(1), 45),
        m("app-a", from.minus_ms(1), 40),
        // Inside, out of order, one exactly at the window's start, two at
        // one instant, one of them twice in this call.
        m("app-a", from.plus_ms(5 * HOUR_MS), MAX_BYTES),
        m("app-a", from, 0),
        m("app-a", from.plus_ms(HOUR_MS), 7),
        m("app-a", from.plus_ms(HOUR_MS), 6),
        m("app-a", from.plus_ms(HOUR_MS), 7),
        m("app-a", to.minus_ms(1), 9),
        // At the window's end: not inside.
        m("app-a", to, 11),
        // Another app's readings are never read for this one.
        m("app-b", from.plus_ms(2 * HOUR_MS), 100),
        m("app-b", from.minus_ms(2), 200),
    ];
    store.put_measurements(&batch).await.unwrap();
    let r = |at: UtcMillis, bytes: u64| Reading { at, bytes };
    let want = Readings {
        before: Some(r(from.minus_ms(1), 45)),
        inside: vec![
            r(from, 0),
            r(from.plus_ms(HOUR_MS), 6),
            r(from.plus_ms(HOUR_MS), 7),
            r(from.plus_ms(5 * HOUR_MS), MAX_BYTES),
            r(to.minus_ms(1), 9),
        ],
    };
    assert_eq!(read(a.clone(), since, from, to).await, want);
    // Stored again, in another order and call: nothing changes.
    let mut again = batch.clone();
    again.reverse();
    store.put_measurements(&again).await.unwrap();
    store.put_measurements(&batch[3..5]).await.unwrap();
    assert_eq!(read(a.clone(), since, from, to).await, want);

    // The reading before is looked for in `[since, from)` only.
    assert_eq!(
        read(a.clone(), from.minus_ms(HOUR_MS), from, to)
            .await
            .before,
        Some(r(from.minus_ms(1), 45))
    );
    assert_eq!(
        read(a.clone(), since, from.minus_ms(1), to).await.before,
        Some(r(from.minus_ms(HOUR_MS), 30)),
        "a reading at `from` is inside, not before"
    );
    assert_eq!(
        read(a.clone(), since, since.plus_ms(1), since.plus_ms(2))
            .await
            .before,
        Some(r(since, 2)),
        "`since` is inclusive"
    );
    assert_eq!(
        read(a.clone(), since.plus_ms(1), from.minus_ms(HOUR_MS), from).await,
        Readings {
            before: None,
            inside: vec![
                r(from.minus_ms(HOUR_MS), 30),
                r(from.minus_ms(1), 40),
                r(from.minus_ms(1), 45)
            ],
        }
    );
    assert_eq!(read(a.clone(), from, from, from).await, Readings::default());
    assert_eq!(
        read(app("app-b"), since, from, to).await,
        Readings {
            before: Some(r(from.minus_ms(2), 200)),
            inside: vec![r(from.plus_ms(2 * HOUR_MS), 100)],
        }
    );
    assert_eq!(
        read(app("app-c"), since, from, to).await,
        Readings::default()
    );

    // More than one `BatchWriteItem` (25 puts) in one call, duplicates
    // across its chunks.
    let later = to.plus_ms(10 * 24 * HOUR_MS);
    let many: Vec<Measurement> = (0..70)
        .map(|i: i64| m("app-a", later.plus_ms((i % 60) * 60_000), (i % 60) as u64))
        .collect();
    store.put_measurements(&many).await.unwrap();
    let readings = read(a.clone(), later, later, later.plus_ms(HOUR_MS)).await;
    assert_eq!(readings.before, None);
    assert_eq!(
        readings.inside,
        (0..60)
            .map(|i: i64| r(later.plus_ms(i * 60_000), i as u64))
            .collect::<Vec<_>>()
    );
}

fn access_key_id(n: u32) -> AccessKeyId {
    AccessKeyId::parse(&format!("RTCU{n:020}")).unwrap()
}

fn access_key(n: u32, account_id: &str) -> AccessKeyRecord {
    AccessKeyRecord {
        id: access_key_id(n),
        account: account(account_id),
        // Every byte value, as a KMS ciphertext may hold.
        sealed_secret: (0..=255u8).rev().chain([n as u8]).collect(),
        created_at: now(),
    }
}

async fn access_keys_are_stored_once(store: impl AccessKeyStore) {
    let (a, b) = (access_key(1, OWNER), access_key(2, OTHER_ACCOUNT));
    assert_eq!(store.access_key(&a.id).await.unwrap(), None);
    store.put_access_key(&a).await.unwrap();
    store.put_access_key(&b).await.unwrap();
    let active = |record: &AccessKeyRecord| StoredAccessKey {
        record: record.clone(),
        status: AccessKeyStatus::Active,
    };
    assert_eq!(store.access_key(&a.id).await.unwrap(), Some(active(&a)));
    assert_eq!(store.access_key(&b.id).await.unwrap(), Some(active(&b)));
    // The same id again, with anything in it: refused, nothing written.
    let mut again = access_key(1, OTHER_ACCOUNT);
    again.sealed_secret = vec![1, 2, 3];
    for attempt in [again, a.clone()] {
        assert!(
            matches!(
                store.put_access_key(&attempt).await,
                Err(StoreError::Conflict(_))
            ),
            "{attempt:?}"
        );
    }
    assert_eq!(store.access_key(&a.id).await.unwrap(), Some(active(&a)));
    // A revoked key's id is taken too.
    store.revoke_access_key(&a.id, now()).await.unwrap();
    assert!(matches!(
        store.put_access_key(&access_key(1, OWNER)).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn revoking_an_access_key_is_idempotent(store: impl AccessKeyStore) {
    let (a, b) = (access_key(1, OWNER), access_key(2, OWNER));
    store.put_access_key(&a).await.unwrap();
    store.put_access_key(&b).await.unwrap();
    let first = now().plus_ms(1_000);
    assert!(store.revoke_access_key(&a.id, first).await.unwrap());
    let revoked = StoredAccessKey {
        record: a.clone(),
        status: AccessKeyStatus::Revoked { at: first },
    };
    assert_eq!(
        store.access_key(&a.id).await.unwrap(),
        Some(revoked.clone())
    );
    assert!(!store.access_key(&a.id).await.unwrap().unwrap().is_active());
    assert!(
        store
            .revoke_access_key(&a.id, first.plus_ms(60_000))
            .await
            .unwrap(),
        "revoking again: the key exists"
    );
    assert_eq!(
        store.access_key(&a.id).await.unwrap(),
        Some(revoked),
        "the first revocation's instant stays"
    );
    assert!(
        store.access_key(&b.id).await.unwrap().unwrap().is_active(),
        "other keys are untouched"
    );
    let unknown = access_key_id(3);
    assert!(!store.revoke_access_key(&unknown, first).await.unwrap());
    assert_eq!(
        store.access_key(&unknown).await.unwrap(),
        None,
        "revoking an unknown key writes nothing"
    );
}

async fn a_nonce_is_fresh_once(store: impl AccessKeyStore) {
    let (a, b) = (access_key_id(1), access_key_id(2));
    let until = retention::nonce_expiry(now(), now());
    assert!(store.use_nonce(&a, "n-1", until, now()).await.unwrap());
    assert!(!store.use_nonce(&a, "n-1", until, now()).await.unwrap());
    assert!(
        !store
            .use_nonce(&a, "n-1", until.plus_ms(3_600_000), now().plus_ms(60_000))
            .await
            .unwrap(),
        "still used a minute later, whatever the new expiry"
    );
    assert!(
        store.use_nonce(&b, "n-1", until, now()).await.unwrap(),
        "another key's same nonce is its own"
    );
    assert!(store.use_nonce(&a, "n-2", until, now()).await.unwrap());
    // Nonces are caller-chosen text: any of it is a fixed-size key.
    let huge = "ň".repeat(50_000);
    for nonce in ["", "#", "NONCE#RTCU", "\u{0}\u{1f}", "e\u{301}", "é", &huge] {
        assert!(
            store.use_nonce(&a, nonce, until, now()).await.unwrap(),
            "{nonce:?}"
        );
        assert!(
            !store.use_nonce(&a, nonce, until, now()).await.unwrap(),
            "{nonce:?}"
        );
    }
}

async fn a_used_nonce_is_fresh_again_once_expired(store: impl AccessKeyStore) {
    let key = access_key_id(1);
    // An item whose expiry has passed (TTL deletes it lazily, days later).
    assert!(
        store
            .use_nonce(&key, "old", now().minus_ms(60_000), now())
            .await
            .unwrap()
    );
    let until = retention::nonce_expiry(now(), now());
    assert!(
        store.use_nonce(&key, "old", until, now()).await.unwrap(),
        "an expired use counts as none"
    );
    assert!(!store.use_nonce(&key, "old", until, now()).await.unwrap());
    // The edges: storage keeps expiry in whole seconds, rounded up, so a
    // nonce is in use through its expiry's second and fresh from the next.
    let edge = now().plus_ms(500); // not on a whole second
    assert!(store.use_nonce(&key, "edge", edge, now()).await.unwrap());
    for at in [edge.minus_ms(1), edge, edge.plus_ms(499)] {
        assert!(
            !store.use_nonce(&key, "edge", until, at).await.unwrap(),
            "{at:?}"
        );
    }
    assert!(
        store
            .use_nonce(&key, "edge", until, edge.plus_ms(500))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_nonce(&key, "edge", until, edge.plus_ms(500))
            .await
            .unwrap()
    );
}

async fn concurrent_uses_of_a_nonce_find_it_fresh_once(store: impl AccessKeyStore + 'static) {
    let store = std::sync::Arc::new(store);
    let until = retention::nonce_expiry(now(), now());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .use_nonce(&access_key_id(1), "race", until, now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        fresh += usize::from(task.await.unwrap());
    }
    assert_eq!(fresh, 1);
}

async fn requests_are_counted_up_to_the_limit_per_second(store: impl AccessKeyStore) {
    let (a, b) = (access_key_id(1), access_key_id(2));
    let second = now().0 / 1000;
    for i in 0..10 {
        assert!(
            store.count_request(&a, second, 10, now()).await.unwrap(),
            "{i}"
        );
    }
    assert!(!store.count_request(&a, second, 10, now()).await.unwrap());
    assert!(!store.count_request(&a, second, 10, now()).await.unwrap());
    assert!(
        store.count_request(&a, second, 11, now()).await.unwrap(),
        "the refused ones were not counted"
    );
    assert!(
        store
            .count_request(&a, second + 1, 10, now().plus_ms(1_000))
            .await
            .unwrap(),
        "the next second starts over"
    );
    assert!(
        store.count_request(&b, second, 10, now()).await.unwrap(),
        "per key"
    );
    assert!(!store.count_request(&b, second + 5, 0, now()).await.unwrap());
    // Concurrent requests in one second: exactly the limit counted.
    let counts = (0..16).map(|_| store.count_request(&b, second + 7, 10, now()));
    let counted = futures::future::join_all(counts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|counted| *counted)
        .count();
    assert_eq!(counted, 10);
}

/// The alerts' port: one decision per (app, kind, package), the watch
/// counted up by commits and its limit refused after a purchase, the
/// pending lists, and the list of packages watched for expiry.
async fn alerts_are_raised_once_and_watched(store: impl UsageStore + AlertStore) {
    use rtc_usage::domain::alert::{Alert, AlertKey, AlertKind};
    use rtc_usage::domain::class::Package;
    use rtc_usage::domain::ids::PackageId;
    use rtc_usage::domain::time::UtcMillis;
    let app = app("alert-items");
    store.register(&app, &account(OWNER)).await.unwrap();
    let alert = Alert {
        app: app.clone(),
        key: AlertKey {
            kind: AlertKind::PackageLow,
            package: PackageId::parse("p").unwrap(),
        },
        package_name: Name::parse("名前 \"p\"").unwrap(),
        raised_at: UtcMillis(1_795_170_605_123),
        remaining_minutes: 7,
    };
    let watched = |watches: std::collections::HashMap<AppId, AlertWatch>| watches[&app].clone();
    assert!(
        watched(
            store
                .alert_watches(std::slice::from_ref(&app))
                .await
                .unwrap()
        )
        .is_due()
    );
    assert_eq!(
        store.raise_alert(&alert).await.unwrap(),
        RaiseOutcome::Raised
    );
    let again = Alert {
        raised_at: UtcMillis(alert.raised_at.0 + 1),
        remaining_minutes: 3,
        ..alert.clone()
    };
    assert_eq!(
        store.raise_alert(&again).await.unwrap(),
        RaiseOutcome::AlreadyRaised
    );
    assert_eq!(
        store.raised_alerts(&app).await.unwrap(),
        vec![alert.clone()]
    );
    assert_eq!(
        store.recent_alerts(&app, 100).await.unwrap(),
        vec![alert.clone()]
    );
    let w = watched(
        store
            .alert_watches(std::slice::from_ref(&app))
            .await
            .unwrap(),
    );
    assert_eq!(w.pending.len(), 1);
    let (pending, next) = store.unpublished_alerts(None).await.unwrap();
    assert!(pending.contains(&alert) && next.is_none());
    store.alert_published(&alert).await.unwrap();
    let w = watched(
        store
            .alert_watches(std::slice::from_ref(&app))
            .await
            .unwrap(),
    );
    assert!(w.pending.is_empty());
    assert!(
        !store
            .unpublished_alerts(None)
            .await
            .unwrap()
            .0
            .contains(&alert)
    );
    // Newest first, at most the limit.
    let later = Alert {
        key: AlertKey {
            kind: AlertKind::PackageExhausted,
            package: PackageId::parse("p").unwrap(),
        },
        raised_at: UtcMillis(alert.raised_at.0 + 60_000),
        ..alert.clone()
    };
    store.raise_alert(&later).await.unwrap();
    assert_eq!(
        store.recent_alerts(&app, 1).await.unwrap(),
        vec![later.clone()]
    );
    // A limit under the epoch read holds; a purchase since refuses it.
    assert!(store.set_alert_limit(&app, 0, 30).await.unwrap());
    let w = watched(
        store
            .alert_watches(std::slice::from_ref(&app))
            .await
            .unwrap(),
    );
    assert_eq!((w.limit, w.epoch), (Some(30), 0));
    let package = Package {
        app: app.clone(),
        id: PackageId::parse("q").unwrap(),
        name: Name::parse("q").unwrap(),
        minutes: 50,
        valid_from: day0(),
        valid_to: Day(day0().0 + 8),
        acked: UtcMillis(0),
        refunded: None,
    };
    store.put_package(&package).await.unwrap();
    assert_eq!(
        watched(
            store
                .alert_watches(std::slice::from_ref(&app))
                .await
                .unwrap()
        )
        .epoch,
        1
    );
    assert!(!store.set_alert_limit(&app, 0, 99).await.unwrap());
    assert!(store.set_alert_limit(&app, 1, 99).await.unwrap());
    // Commits count their billable minutes up (rounded up per row).
    let session = rtc_usage::service::ingest::InboundMessage {
        message_id: "m".into(),
        body: Some(
            serde_json::json!({"specversion": "1.0", "id": "s", "source": "/c",
                "type": "rtc.class.session",
                "data": {"appId": "alert-items", "classId": "c", "userId": "u", "role": "student",
                         "usageType": "interactive", "startTime": "2026-11-20T10:00:00Z",
                         "endTime": "2026-11-20T10:02:00.001Z"}})
            .to_string(),
        ),
    };
    let report = rtc_usage::service::ingest::ingest_batch(
        &store,
        &[session],
        now(),
        rtc_usage::service::ingest::RetryPolicy::default(),
    )
    .await;
    assert_eq!(report.counted, 1);
    let w = watched(
        store
            .alert_watches(std::slice::from_ref(&app))
            .await
            .unwrap(),
    );
    assert_eq!((w.spent, w.limit), (3, Some(99)));
    // The package is watched for expiry up to its last day.
    let entry = ExpiryEntry {
        valid_to: package.valid_to,
        app: app.clone(),
        package: package.id.clone(),
    };
    assert!(
        store
            .expiring_packages(package.valid_to)
            .await
            .unwrap()
            .contains(&entry)
    );
    let before = Day(package.valid_to.0 - 1);
    assert!(
        !store
            .expiring_packages(before)
            .await
            .unwrap()
            .contains(&entry)
    );
    store.forget_expiry(&entry).await.unwrap();
    assert!(
        !store
            .expiring_packages(package.valid_to)
            .await
            .unwrap()
            .contains(&entry)
    );
    // Another app's watch is its own.
    let other = AppId::parse("alert-other").unwrap();
    let watches = store
        .alert_watches(std::slice::from_ref(&other))
        .await
        .unwrap();
    assert_eq!(watches[&other], AlertWatch::default());
}

/// A busy app's line of writers: tickets in order, each taken once even
/// when taken at once; the turn moves on only from the ticket served,
/// once; each app's line is its own.
async fn a_line_hands_out_tickets_and_moves_on_once(store: impl UsageStore + 'static) {
    let store = std::sync::Arc::new(store);
    let (busy, other) = (app("busy-app"), app("other-app"));
    assert_eq!(store.serving(&busy).await.unwrap(), 1, "no line yet");
    assert!(
        !store.pass_turn(&busy, 1).await.unwrap(),
        "nothing to pass on before any ticket"
    );
    let first = store.take_ticket(&busy).await.unwrap();
    assert_eq!(
        first,
        Ticket {
            number: 1,
            serving: 1
        }
    );
    let second = store.take_ticket(&busy).await.unwrap();
    assert_eq!(
        second,
        Ticket {
            number: 2,
            serving: 1
        }
    );
    // Twenty invocations at once: twenty different tickets, 3 to 22.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, busy) = (store.clone(), busy.clone());
            tokio::spawn(async move { store.take_ticket(&busy).await.unwrap() })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for task in tasks {
        numbers.insert(task.await.unwrap().number);
    }
    assert_eq!(numbers, (3..=22).collect::<BTreeSet<u64>>());
    assert!(!store.pass_turn(&busy, 2).await.unwrap(), "2 is not served");
    assert_eq!(store.serving(&busy).await.unwrap(), 1);
    assert!(store.pass_turn(&busy, 1).await.unwrap());
    assert!(!store.pass_turn(&busy, 1).await.unwrap(), "passed on once");
    assert_eq!(store.serving(&busy).await.unwrap(), 2);
    let next = store.take_ticket(&busy).await.unwrap();
    assert_eq!(
        next,
        Ticket {
            number: 23,
            serving: 2
        }
    );
    assert_eq!(
        store.take_ticket(&other).await.unwrap(),
        Ticket {
            number: 1,
            serving: 1
        },
        "another app's line is its own"
    );
    assert_eq!(store.serving(&busy).await.unwrap(), 2);
}

/// Runs every case against a new memory store and a new DynamoDB table.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(rtc_usage::store::memory::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::support::fresh_store().await).await;
                }
            )*
        }
    };
}

contract!(
    registration,
    hours_in_a_range,
    days_in_a_range,
    counted,
    commit_is_all_or_nothing,
    pending_days_page_through_everything,
    apps_with_usage,
    day_snapshot,
    write_day_is_conditional_on_the_change_counter,
    storage_measurements,
    access_keys_are_stored_once,
    revoking_an_access_key_is_idempotent,
    a_nonce_is_fresh_once,
    a_used_nonce_is_fresh_again_once_expired,
    concurrent_uses_of_a_nonce_find_it_fresh_once,
    requests_are_counted_up_to_the_limit_per_second,
    alerts_are_raised_once_and_watched,
    a_line_hands_out_tickets_and_moves_on_once,
);
