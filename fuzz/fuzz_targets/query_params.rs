//! Any query string, any caller: the query function answers 200 or a
//! contract error, and never panics.
#![no_main]

use lambda_http::RequestExt;
use libfuzzer_sys::fuzz_target;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::http;
use rtc_usage::store::UsageStore;
use rtc_usage::store::memory::MemoryStore;
use std::collections::HashMap;
use std::sync::OnceLock;

fn world() -> &'static (tokio::runtime::Runtime, MemoryStore) {
    static WORLD: OnceLock<(tokio::runtime::Runtime, MemoryStore)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = MemoryStore::new();
        let owner = AccountId::parse("111122223333").unwrap();
        runtime
            .block_on(store.register(&AppId::parse("app-1").unwrap(), &owner))
            .unwrap();
        (runtime, store)
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, store) = world();
    let text = String::from_utf8_lossy(data);
    let (caller, query) = text.split_once('\n').unwrap_or(("111122223333", &text));
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        params
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    let request = lambda_http::Request::default().with_query_string_parameters(params);
    let dev_caller = AccountId::parse(caller);
    let now = UtcMillis::parse_query_time("2026-11-23T12:00:00Z").unwrap();
    let response = runtime
        .block_on(http::handle(store, dev_caller.as_ref(), &request, now))
        .0;
    let status = response.status().as_u16();
    assert!([200, 400, 403, 404].contains(&status), "status {status}");
    let body = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        other => panic!("body {other:?}"),
    };
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert!(status == 200 || json.get("Code").is_some());
});
