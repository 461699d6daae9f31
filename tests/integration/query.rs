//! The query API through the `usage-query` entry point, for both API Gateway payloads.

use crate::support::*;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use serde_json::{Value, json};

/// app-1 (owned by OWNER) with the SQS fixture's usage; app-2 owned by another account.
async fn seeded_store() -> DynamoStore {
    let store = fresh_store().await;
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-usage-batch.json")).expect("SQS fixture");
    let (response, _) = handle_sqs(&store, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let other = AccountId::parse(OTHER_ACCOUNT).unwrap();
    store
        .register(&AppId::parse("app-2").unwrap(), &other)
        .await
        .unwrap();
    store
}

async fn ask(
    store: &DynamoStore,
    api: Api,
    pairs: &[(&str, &str)],
    account: Option<&str>,
) -> Answer {
    api_answer(store, api, pairs, account).await
}

fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(
        (a.status, a.body["Code"].as_str()),
        (status, Some(code)),
        "{}",
        a.text
    );
    assert_eq!(a.content_type, "application/json");
    let keys: Vec<&str> = a
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec!["Code", "HostId", "Message", "Recommend", "RequestId"];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected, "{}", a.text);
    for k in expected {
        assert!(
            a.body[k].as_str().is_some_and(|v| !v.is_empty()),
            "{k} empty: {}",
            a.text
        );
    }
}

#[tokio::test]
async fn success_matches_the_seed_and_the_contract_at_both_intervals() {
    let store = seeded_store().await;
    for api in [Api::Rest, Api::Http] {
        let a = ask(&store, api, &query_pairs(&[]), Some(OWNER)).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.content_type, "application/json");
        let b = &a.body;
        assert_eq!(b["AppId"], "app-1");
        assert_eq!(b["RecordMode"], "0");
        let summaries = [
            "TotalSummaryDuration",
            "AudioSummaryDuration",
            "V480SummaryDuration",
            "V720SummaryDuration",
            "V1080SummaryDuration",
        ];
        let got: Vec<&Value> = summaries.iter().map(|k| &b[*k]).collect();
        assert_eq!(
            got,
            [&json!(150), &json!(20), &json!(30), &json!(40), &json!(60)]
        );
        let data = b["Data"].as_array().unwrap();
        assert_eq!(data.len(), 24, "every hour, zeros included");
        assert_eq!(data[0]["Timestamp"], "2026-11-20T00:00:00Z");
        assert_eq!(data[23]["Timestamp"], "2026-11-20T23:00:00Z");
        assert_eq!(data[2]["V720Duration"], json!(40));
        assert_eq!(
            data[10],
            json!({"Timestamp": "2026-11-20T10:00:00Z", "TotalDuration": 80, "AudioDuration": 20, "V480Duration": 30, "V720Duration": 0, "V1080Duration": 30})
        );
        assert_eq!(data[11]["V1080Duration"], json!(30));
        assert_eq!(data[5]["TotalDuration"], json!(0));
        let request_id = match api {
            Api::Rest => "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            Api::Http => "JKJaXmPLvHcESHA=",
        };
        assert_eq!(b["RequestId"], request_id, "API Gateway's request id");
    }
    let daily = ask(
        &store,
        Api::Rest,
        &query_pairs(&[("Interval", "86400")]),
        Some(OWNER),
    )
    .await;
    assert_eq!(daily.status, 200, "{}", daily.text);
    assert_eq!(
        daily.body["Data"],
        json!([{"Timestamp": "2026-11-20T00:00:00Z", "TotalDuration": 150, "AudioDuration": 20, "V480Duration": 30, "V720Duration": 40, "V1080Duration": 60}])
    );
}

/// Same field names, same JSON types, same order, as the seed's example.
#[tokio::test]
async fn success_body_has_the_seeds_field_names_and_types() {
    let store = seeded_store().await;
    let a = ask(
        &store,
        Api::Rest,
        &query_pairs(&[("Interval", "86400")]),
        Some(OWNER),
    )
    .await;
    let seed: Value =
        serde_json::from_str(include_str!("../fixtures/alibaba-success-example.json")).unwrap();
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Array(m.iter().map(|(k, v)| json!([k, shape(v)])).collect()),
            Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
            Value::String(_) => json!("string"),
            Value::Number(_) => json!("number"),
            other => other.clone(),
        }
    }
    assert_eq!(shape(&a.body), shape(&seed), "{}", a.text);
    // Key order as in the seed, too (serde_json keeps insertion order only with
    // preserve_order, so compare the raw text's order).
    let order: Vec<usize> = [
        "\"RequestId\"",
        "\"RecordMode\"",
        "\"AppId\"",
        "\"TotalSummaryDuration\"",
        "\"Data\"",
    ]
    .iter()
    .map(|k| a.text.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", a.text);
}

#[tokio::test]
async fn another_accounts_app_answers_exactly_like_an_unknown_app() {
    let store = seeded_store().await;
    for api in [Api::Rest, Api::Http] {
        let theirs = ask(
            &store,
            api,
            &query_pairs(&[("AppId", "app-2")]),
            Some(OWNER),
        )
        .await;
        let unknown = ask(
            &store,
            api,
            &query_pairs(&[("AppId", "app-404")]),
            Some(OWNER),
        )
        .await;
        assert_error(&theirs, 400, "InvalidAppIdParameter");
        assert_eq!(
            theirs.text, unknown.text,
            "byte for byte (same request ids in both fixtures)"
        );
        // And the owner of app-2 is answered.
        let owner = ask(
            &store,
            api,
            &query_pairs(&[("AppId", "app-2")]),
            Some(OTHER_ACCOUNT),
        )
        .await;
        assert_eq!(owner.status, 200, "{}", owner.text);
        // The data's owner asking about their app as another account: refused.
        let stranger = ask(&store, api, &query_pairs(&[]), Some(OTHER_ACCOUNT)).await;
        assert_error(&stranger, 400, "InvalidAppIdParameter");
    }
}

#[tokio::test]
async fn forbidden_without_a_caller_before_anything_else() {
    let store = seeded_store().await;
    for api in [Api::Rest, Api::Http] {
        assert_error(
            &ask(&store, api, &query_pairs(&[]), None).await,
            403,
            "Forbidden.RAM",
        );
        assert_error(&ask(&store, api, &[], None).await, 403, "Forbidden.RAM");
        assert_error(
            &ask(&store, api, &[("Action", "Nope")], Some("")).await,
            403,
            "Forbidden.RAM",
        );
    }
}

#[tokio::test]
async fn dev_caller_stands_in_only_when_set_and_only_for_missing_identity() {
    let store = seeded_store().await;
    let dev = AccountId::parse(OWNER).unwrap();
    let event = api_event(Api::Rest, &query_pairs(&[]), None);
    assert_eq!(
        answer(handle_event(&store, Some(&dev), &event, now()).await).status,
        200
    );
    let event = api_event(Api::Rest, &query_pairs(&[]), Some(OTHER_ACCOUNT));
    let a = answer(handle_event(&store, Some(&dev), &event, now()).await);
    assert_error(&a, 400, "InvalidAppIdParameter");
}

#[tokio::test]
async fn every_error_code_of_the_contract() {
    let store = seeded_store().await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            query_pairs(&[])
                .into_iter()
                .filter(|(k, _)| *k != "Action")
                .collect(),
            400,
            "MissingParameter",
        ),
        (
            query_pairs(&[("Action", "DescribeLiveRtcRecordUsage")]),
            404,
            "InvalidAction.NotFound",
        ),
        (
            query_pairs(&[])
                .into_iter()
                .filter(|(k, _)| *k != "RecordMode")
                .collect(),
            400,
            "MissingParameter",
        ),
        (
            query_pairs(&[("StartTime", "2026-11-20 00:00:00")]),
            400,
            "InvalidStartTime.Malformed",
        ),
        (
            query_pairs(&[("EndTime", "2026-11-21T00:00:00+08:00")]),
            400,
            "InvalidEndTime.Malformed",
        ),
        (
            query_pairs(&[("EndTime", "2026-11-19T00:00:00Z")]),
            400,
            "InvalidEndTime.Mismatch",
        ),
        (
            query_pairs(&[("EndTime", "2026-11-20T00:04:59Z")]),
            400,
            "InvalidTimeSpan",
        ),
        (
            query_pairs(&[
                ("StartTime", "2026-11-23T12:00:01Z"),
                ("EndTime", "2026-11-24T00:00:00Z"),
            ]),
            400,
            "InvalidStartTime.ValueNotSupported",
        ),
        (
            query_pairs(&[("RecordMode", "2")]),
            400,
            "InvalidRecordModeParameter",
        ),
        (
            query_pairs(&[("Interval", "60")]),
            400,
            "InvalidInterval.ValueNotSupported",
        ),
        (
            query_pairs(&[("AppId", "app 1")]),
            400,
            "InvalidAppIdParameter",
        ),
        (
            query_pairs(&[("AppId", "unregistered-app")]),
            400,
            "InvalidAppIdParameter",
        ),
    ];
    for api in [Api::Rest, Api::Http] {
        for (pairs, status, code) in &cases {
            let a = ask(&store, api, pairs, Some(OWNER)).await;
            assert_error(&a, *status, code);
        }
    }
    let missing = ask(
        &store,
        Api::Rest,
        &query_pairs(&[("EndTime", "")]),
        Some(OWNER),
    )
    .await;
    assert!(
        missing.body["Message"]
            .as_str()
            .unwrap()
            .contains("\"EndTime\""),
        "{}",
        missing.text
    );
}

#[tokio::test]
async fn a_repeated_parameter_never_selects_another_app() {
    let store = seeded_store().await;
    // HTTP API keeps repeats in rawQueryString; REST API in multiValueQueryStringParameters.
    for api in [Api::Rest, Api::Http] {
        let mut pairs = query_pairs(&[]);
        pairs.push(("AppId", "app-2"));
        assert_error(
            &ask(&store, api, &pairs, Some(OWNER)).await,
            400,
            "InvalidAppIdParameter",
        );
        assert_error(
            &ask(&store, api, &pairs, Some(OTHER_ACCOUNT)).await,
            400,
            "InvalidAppIdParameter",
        );
    }
}

#[tokio::test]
async fn storage_failure_is_a_500_internal_error_in_the_same_shape() {
    let store = DynamoStore::new(client(), "no-such-table");
    let a = api_answer(&store, Api::Rest, &query_pairs(&[]), Some(OWNER)).await;
    assert_error(&a, 500, "InternalError");
    assert!(
        !a.text.contains("no-such-table") && !a.text.contains("ResourceNotFound"),
        "no internals leak: {}",
        a.text
    );
}

/// The class fixture (`events/sqs-class-batch.json`) after the recording
/// fixture: a named app, a 100-minute package, one class with three users in
/// it (one rejoining) and one watching the playback later that day.
#[tokio::test]
async fn the_class_fixture_answers_details_packages_and_trend() {
    let store = seeded_store().await;
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-class-batch.json")).expect("SQS fixture");
    let (response, report) = handle_sqs(&store, batch).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        report.failures
    );
    let window = [
        ("AppId", "app-1"),
        ("StartTime", "2026-11-20T00:00:00Z"),
        ("EndTime", "2026-11-21T00:00:00Z"),
        ("ServiceType", "AudioVideo"),
    ];
    let with = |action: &'static str| {
        let mut pairs = vec![("Action", action)];
        pairs.extend(window);
        pairs
    };
    let details = ask(
        &store,
        Api::Rest,
        &with("DescribeUsageDetails"),
        Some(OWNER),
    )
    .await;
    assert_eq!(details.status, 200, "{}", details.text);
    let row = |usage: &str, users: u64, seconds: u64, billable: u64, packages: Value, paid: u64| {
        json!({"Date": "2026-11-20", "AppId": "app-1", "AppName": "Demo School 演示学校",
            "ClassId": "class-42", "ClassName": "Algebra I",
            "StartTime": "2026-11-20T10:00:00+00:00", "EndTime": "2026-11-20T11:00:00+00:00",
            "UsageType": usage, "UserCount": users, "DurationSeconds": seconds,
            "BillableMinutes": billable, "Packages": packages, "PackageMinutes": paid,
            "PayAsYouGoMinutes": billable - paid})
    };
    // Interactive: 63.5 + 29 5/6 + 25 + 58 minutes = 10,580 s, 177 billable;
    // the package's 100 minutes go to it, the first row in allocation order.
    let pkg = json!([{"PackageId": "pkg-1", "PackageName": "Starter 100 min", "Minutes": 100}]);
    assert_eq!(
        details.body,
        json!({"RequestId": details.body["RequestId"], "AppId": "app-1", "TimeZone": "UTC",
            "ServiceType": "AudioVideo", "TotalCount": 2, "PageNumber": 1, "PageSize": 20,
            "Summary": {"DurationSeconds": 13280, "BillableMinutes": 222,
                "PackageMinutes": 100, "PayAsYouGoMinutes": 122},
            "Records": [row("Interactive", 3, 10580, 177, pkg, 100),
                        row("Playback", 1, 2700, 45, json!([]), 0)]})
    );

    let packages = ask(
        &store,
        Api::Http,
        &[("Action", "DescribeUsagePackages"), ("AppId", "app-1")],
        Some(OWNER),
    )
    .await;
    assert_eq!(
        packages.body["Packages"],
        json!([{"PackageId": "pkg-1", "PackageName": "Starter 100 min", "Minutes": 100,
            "UsedMinutes": 100, "RemainingMinutes": 0, "ValidFrom": "2026-11-01",
            "ValidTo": "2026-12-31", "Status": "Exhausted", "RunOutDate": null}]),
        "{}",
        packages.text
    );

    let mut daily = with("DescribeUsageData");
    daily.push(("Interval", "86400"));
    let trend = ask(&store, Api::Rest, &daily, Some(OWNER)).await;
    assert_eq!(
        (
            &trend.body["InteractiveSummaryDuration"],
            &trend.body["PlaybackSummaryDuration"],
            &trend.body["TotalSummaryDuration"],
            trend.body["Data"].as_array().map(Vec::len),
        ),
        (&json!(10580), &json!(2700), &json!(13280), Some(1)),
        "{}",
        trend.text
    );

    let apps = ask(
        &store,
        Api::Rest,
        &[("Action", "DescribeApps")],
        Some(OWNER),
    )
    .await;
    assert_eq!(
        apps.body["Apps"],
        json!([{"AppId": "app-1", "AppName": "Demo School 演示学校", "TimeZone": "UTC"}]),
        "{}",
        apps.text
    );
}

/// Recording rows: one per class and UTC day (segments that name their
/// class), one per day for the rest; both record modes together, in
/// allocation order (a class with a known start first, the row without a
/// class last). The recording fixture's segments name no class and keep
/// counting, in that row.
#[tokio::test]
async fn recording_rows_per_class_and_day() {
    use rtc_usage::service::ingest::{InboundMessage, RetryPolicy, ingest_batch};
    let store = seeded_store().await;
    let segment = |n: u32, class: Option<&str>, mode: &str, start: &str, end: &str| {
        let mut data = json!({"appId": "app-1", "recordMode": mode, "media": "audio",
            "startTime": start, "endTime": end});
        if let Some(class) = class {
            data["classId"] = json!(class);
        }
        InboundMessage {
            message_id: format!("m{n}"),
            body: Some(
                json!({"specversion": "1.0", "id": format!("rec-{n}"), "source": "/rec",
                "type": "rtc.recording.segment", "data": data})
                .to_string(),
            ),
        }
    };
    let started = InboundMessage {
        message_id: "m-start".into(),
        body: Some(
            json!({"specversion": "1.0", "id": "start-z", "source": "/cls",
            "type": "rtc.class.started", "data": {"appId": "app-1", "classId": "z-class",
            "className": "Zoology", "startTime": "2026-11-20T08:00:00Z"}})
            .to_string(),
        ),
    };
    let batch = vec![
        segment(
            1,
            Some("a-class"),
            "0",
            "2026-11-20T12:00:00Z",
            "2026-11-20T12:01:00Z",
        ),
        segment(
            2,
            Some("a-class"),
            "1",
            "2026-11-20T12:00:00Z",
            "2026-11-20T12:00:30.5Z",
        ),
        segment(
            3,
            Some("z-class"),
            "0",
            "2026-11-20T23:59:00Z",
            "2026-11-21T00:01:00Z",
        ),
        segment(4, None, "1", "2026-11-20T13:00:00Z", "2026-11-20T13:00:10Z"),
        segment(
            5,
            Some("bad class"),
            "0",
            "2026-11-20T13:00:00Z",
            "2026-11-20T13:00:10Z",
        ),
        started,
    ];
    let report = ingest_batch(&store, &batch, now(), RetryPolicy::default()).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].message_id, "m5");
    assert!(report.failures[0].reason.contains("data.classId"));

    let details = |class: Option<&'static str>| {
        let mut pairs = vec![
            ("Action", "DescribeUsageDetails"),
            ("AppId", "app-1"),
            ("StartTime", "2026-11-20T00:00:00Z"),
            ("EndTime", "2026-11-22T00:00:00Z"),
            ("ServiceType", "Recording"),
        ];
        pairs.extend(class.map(|c| ("ClassId", c)));
        pairs
    };
    let all = ask(&store, Api::Rest, &details(None), Some(OWNER)).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let rows: Vec<(String, Value, Value, Value)> = all.body["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["Date"].as_str().unwrap().to_owned(),
                r["ClassId"].clone(),
                r["ClassName"].clone(),
                r["DurationSeconds"].clone(),
            )
        })
        .collect();
    // 2026-11-20: Zoology started at 08:00 comes first; a-class (no known
    // start) next; the fixture's 150 s and segment 4's 10 s without a class last.
    assert_eq!(
        rows,
        vec![
            (
                "2026-11-20".into(),
                json!("z-class"),
                json!("Zoology"),
                json!(60)
            ),
            (
                "2026-11-20".into(),
                json!("a-class"),
                Value::Null,
                json!(90.5)
            ),
            ("2026-11-20".into(), Value::Null, Value::Null, json!(160)),
            (
                "2026-11-21".into(),
                json!("z-class"),
                json!("Zoology"),
                json!(60)
            ),
        ]
    );
    for row in all.body["Records"].as_array().unwrap() {
        assert_eq!(
            (&row["UsageType"], &row["UserCount"], &row["Packages"]),
            (&Value::Null, &Value::Null, &json!([]))
        );
    }
    let one = ask(&store, Api::Rest, &details(Some("z-class")), Some(OWNER)).await;
    assert_eq!(one.body["TotalCount"], json!(2), "{}", one.text);
    assert_eq!(one.body["Summary"]["DurationSeconds"], json!(120));

    let trend = ask(
        &store,
        Api::Rest,
        &[
            ("Action", "DescribeUsageData"),
            ("AppId", "app-1"),
            ("ServiceType", "Recording"),
            ("StartTime", "2026-11-20T00:00:00Z"),
            ("EndTime", "2026-11-22T00:00:00Z"),
            ("Interval", "86400"),
        ],
        Some(OWNER),
    )
    .await;
    // Both record modes together: 150 + 60 + 30.5 + 60 + 10 on the 20th.
    assert_eq!(
        trend.body["Data"][0]["TotalDuration"],
        json!(310.5),
        "{}",
        trend.text
    );
    assert_eq!(trend.body["Data"][1]["TotalDuration"], json!(60));
}

/// `events/sqs-zone-batch.json`: a Shanghai school's 07:30 class (23:30Z
/// the day before). Its first session arrives alone, before the app's
/// registration, and is parked; the rest of the batch registers the app in
/// Asia/Shanghai, and the class is one row on its own local day, paid by a
/// package valid from that day, its start written at +08:00. Alibaba's API
/// still answers the app's recording in UTC (it has none here: zeros).
#[tokio::test]
async fn the_zone_fixture_answers_local_days() {
    let store = fresh_store().await;
    let mut batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-zone-batch.json")).expect("SQS fixture");
    let rest = batch.records.split_off(1);
    let (response, report) = handle_sqs(&store, batch.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.counted, 1);
    let app = AppId::parse("app-sh").unwrap();
    assert_eq!(store.parked(&app).await.unwrap().len(), 1, "parked");
    batch.records = rest;
    let (response, report) = handle_sqs(&store, batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.counted, report.facts), (1, 3));
    assert!(
        store.parked(&app).await.unwrap().is_empty(),
        "counted in place"
    );

    let details = ask(
        &store,
        Api::Rest,
        &[
            ("Action", "DescribeUsageDetails"),
            ("StartTime", "2026-11-19T00:00:00Z"),
            ("EndTime", "2026-11-21T00:00:00Z"),
            ("AppId", "app-sh"),
            ("ServiceType", "AudioVideo"),
        ],
        Some(OWNER),
    )
    .await;
    assert_eq!(details.status, 200, "{}", details.text);
    // ann 20 min, bo 41 min 0.5 s: 3,660.5 s, 62 minutes, 30 from the package.
    assert_eq!(
        details.body["Records"],
        json!([{"Date": "2026-11-20", "AppId": "app-sh", "AppName": "上海学校",
            "ClassId": "morning-7", "ClassName": "早读 Morning reading",
            "StartTime": "2026-11-20T07:30:00+08:00", "EndTime": null,
            "UsageType": "Interactive", "UserCount": 2, "DurationSeconds": 3660.5,
            "BillableMinutes": 62,
            "Packages": [{"PackageId": "pkg-nov20", "PackageName": "From 20 November",
                          "Minutes": 30}],
            "PackageMinutes": 30, "PayAsYouGoMinutes": 32}]),
        "{}",
        details.text
    );
    assert_eq!(details.body["TimeZone"], "Asia/Shanghai");
    let trend = ask(
        &store,
        Api::Http,
        &[
            ("Action", "DescribeUsageData"),
            ("StartTime", "2026-11-19T16:00:00Z"),
            ("EndTime", "2026-11-20T16:00:00Z"),
            ("AppId", "app-sh"),
            ("ServiceType", "AudioVideo"),
            ("Interval", "86400"),
        ],
        Some(OWNER),
    )
    .await;
    assert_eq!(
        trend.body["Data"],
        json!([{"Timestamp": "2026-11-20T00:00:00+08:00", "InteractiveDuration": 3660.5,
                "PlaybackDuration": 0, "TotalDuration": 3660.5}]),
        "{}",
        trend.text
    );
    let alibaba = ask(
        &store,
        Api::Rest,
        &[
            ("Action", "DescribeLiveRtcRecordUsageData"),
            ("StartTime", "2026-11-19T00:00:00Z"),
            ("EndTime", "2026-11-21T00:00:00Z"),
            ("AppId", "app-sh"),
            ("RecordMode", "0"),
            ("Interval", "86400"),
        ],
        Some(OWNER),
    )
    .await;
    let stamps: Vec<&str> = alibaba.body["Data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(stamps, ["2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"]);
}
