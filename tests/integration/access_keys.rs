//! AccessKeys end to end: secrets sealed and opened through a real KMS API
//! (moto's server), the cache of opened secrets over it, what a verified
//! request costs in DynamoDB, and the operator's `usage-keys` binary against
//! DynamoDB Local and moto's KMS. (The store's AccessKey operations are in
//! the store contract suite, against both stores.)

use crate::support::*;
use rtc_usage::domain::access_key::{AccessKeyId, AccessKeySecret};
use rtc_usage::domain::retention;
use rtc_usage::secrets::{KmsSealer, SealerError, Secret, SecretCache, SecretSealer};
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::{AccessKeyStatus, AccessKeyStore};
use rtc_usage::testkit::{LocalDynamo, LocalKms};
use serde_json::Value;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn id(n: u32) -> AccessKeyId {
    AccessKeyId::parse(&format!("RTCU{n:020}")).unwrap()
}

/// Whether `needle` appears anywhere in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn secrets_are_sealed_and_opened_through_kms() {
    let (sealer, _) = LocalKms::shared().fresh_sealer().await;
    let secret = b"0123456789abcdefghijABCDEFGHIJ";
    let sealed = sealer.seal(&id(1), secret).await.unwrap();
    assert!(
        !contains(&sealed, secret),
        "the sealed bytes hide the secret"
    );
    assert!(sealed.len() < 400, "{} bytes: a small item", sealed.len());
    let again = sealer.seal(&id(1), secret).await.unwrap();
    assert_ne!(sealed, again, "sealing is randomized");
    assert_eq!(sealer.open(&id(1), &sealed).await.unwrap().expose(), secret);
    assert_eq!(sealer.open(&id(1), &again).await.unwrap().expose(), secret);

    // Opening needs no key id: the function only opens. Its client is built
    // when the first secret is opened, not before.
    let opener = KmsSealer::opener(LocalKms::shared().sdk_config());
    assert!(!opener.client_built());
    assert_eq!(opener.open(&id(1), &sealed).await.unwrap().expose(), secret);
    assert!(opener.client_built());
    assert!(matches!(
        opener.seal(&id(1), secret).await,
        Err(SealerError::Misconfigured(_))
    ));

    // Bound to its AccessKey: under another id it does not open.
    assert!(matches!(
        sealer.open(&id(2), &sealed).await,
        Err(SealerError::Undecryptable(_))
    ));
    for garbage in [&b"not a ciphertext"[..], &sealed[..sealed.len() / 2]] {
        assert!(matches!(
            sealer.open(&id(1), garbage).await,
            Err(SealerError::Undecryptable(_))
        ));
    }
    assert!(matches!(
        sealer.open(&id(1), &[]).await,
        Err(SealerError::Undecryptable(_))
    ));

    // A key that does not exist is the deployment's fault.
    let unknown = KmsSealer::new(
        LocalKms::shared().client(),
        "11111111-2222-3333-4444-555555555555",
    );
    assert!(matches!(
        unknown.seal(&id(1), secret).await,
        Err(SealerError::Misconfigured(_))
    ));
}

/// Counts the `Decrypt`s that reach KMS.
struct Counting {
    inner: KmsSealer,
    opens: AtomicUsize,
}

impl SecretSealer for Counting {
    async fn seal(&self, key: &AccessKeyId, plaintext: &[u8]) -> Result<Vec<u8>, SealerError> {
        self.inner.seal(key, plaintext).await
    }

    async fn open(&self, key: &AccessKeyId, sealed: &[u8]) -> Result<Secret, SealerError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open(key, sealed).await
    }
}

#[tokio::test]
async fn the_cache_decrypts_each_key_once() {
    let (inner, _) = LocalKms::shared().fresh_sealer().await;
    let cache = SecretCache::new(Counting {
        inner,
        opens: AtomicUsize::new(0),
    });
    let one = cache.sealer().seal(&id(1), b"secret-one").await.unwrap();
    let two = cache.sealer().seal(&id(2), b"secret-two").await.unwrap();
    for _ in 0..3 {
        let lookups = (0..4).flat_map(|_| [(id(1), &one), (id(2), &two)]);
        let secrets = futures::future::join_all(
            lookups
                .collect::<Vec<_>>()
                .iter()
                .map(|(key, sealed)| cache.secret(key, sealed)),
        )
        .await;
        for (i, secret) in secrets.into_iter().enumerate() {
            let want: &[u8] = if i % 2 == 0 {
                b"secret-one"
            } else {
                b"secret-two"
            };
            assert_eq!(secret.unwrap().expose(), want);
        }
    }
    assert_eq!(
        cache.sealer().opens.load(Ordering::SeqCst),
        2,
        "one Decrypt per key"
    );
}

/// A verified signed request reads its key, uses up its nonce and counts
/// itself: one eventually consistent read and two writes of one unit each.
#[tokio::test]
async fn a_verified_request_costs_one_read_and_two_writes() {
    let (store, meter) = fresh_metered_store().await;
    let (sealer, _) = LocalKms::shared().fresh_sealer().await;
    let key = id(7);
    let secret = AccessKeySecret::generate(|buf| buf.fill(7));
    let record = rtc_usage::store::AccessKeyRecord {
        id: key.clone(),
        account: rtc_usage::domain::ids::AccountId::parse(OWNER).unwrap(),
        sealed_secret: sealer.seal(&key, secret.expose().as_bytes()).await.unwrap(),
        created_at: now(),
    };
    store.put_access_key(&record).await.unwrap();
    meter.reset();

    let found = store.access_key(&key).await.unwrap().unwrap();
    assert!(found.is_active());
    let nonce = "3f2504e0-4f89-11d3-9a0c-0305e82c3301".repeat(8); // long, still one unit
    let until = retention::nonce_expiry(now(), now());
    assert!(store.use_nonce(&key, &nonce, until, now()).await.unwrap());
    assert!(
        store
            .count_request(&key, now().0 / 1000, 10, now())
            .await
            .unwrap()
    );
    let cost = meter.snapshot();
    assert_eq!(cost.total_requests(), 3, "{cost:?}");
    assert_eq!(cost.read_units, 0.5, "{cost:?}");
    assert_eq!(cost.write_units, 2.0, "{cost:?}");
}

// ------------------------------------------------------------- usage-keys

const KEYS_BIN: &str = env!("CARGO_BIN_EXE_usage-keys");

/// The binary with exactly this environment: the local DynamoDB and KMS,
/// the table and the KMS key, and nothing of this machine's own AWS setup.
fn usage_keys(table: &str, kms_key: &str) -> Command {
    let mut command = Command::new(KEYS_BIN);
    command
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &LocalDynamo::shared().endpoint)
        .env("AWS_ENDPOINT_URL_KMS", &LocalKms::shared().endpoint)
        .env("USAGE_TABLE_NAME", table)
        .env("ACCESS_KEY_KMS_KEY_ID", kms_key);
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run usage-keys");
    (
        status.code(),
        String::from_utf8(stdout).expect("UTF-8 stdout"),
        String::from_utf8(stderr).expect("UTF-8 stderr"),
    )
}

/// Every item in the table (a scan: fine for a test's few items).
async fn items(store: &DynamoStore) -> usize {
    let out = store
        .client()
        .scan()
        .table_name(store.table())
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().len()
}

#[tokio::test]
async fn issue_stores_a_sealed_secret_and_prints_it_once() {
    let store = fresh_store().await;
    let (sealer, kms_key) = LocalKms::shared().fresh_sealer().await;
    let (code, stdout, stderr) =
        run(usage_keys(store.table(), &kms_key).args(["issue", "--account", OWNER]));
    assert_eq!(code, Some(0), "{stderr}");
    let printed: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let fields: Vec<&str> = printed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["AccessKeyId", "AccessKeySecret", "AccountId"]);
    assert!(stdout.starts_with("{\"AccessKeyId\":\"RTCU"), "{stdout}");
    let key = AccessKeyId::parse(printed["AccessKeyId"].as_str().unwrap()).expect("our format");
    let secret = printed["AccessKeySecret"].as_str().unwrap();
    assert_eq!(secret.len(), 30);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(printed["AccountId"], OWNER);
    assert!(!stderr.contains(secret), "the secret only on stdout, once");
    assert_eq!(stdout.matches(secret).count(), 1);

    let stored = store.access_key(&key).await.unwrap().expect("stored");
    assert_eq!(stored.status, AccessKeyStatus::Active);
    assert_eq!(stored.record.account.as_str(), OWNER);
    let sealed = &stored.record.sealed_secret;
    assert!(!contains(sealed, secret.as_bytes()), "sealed, not plain");
    assert_eq!(
        sealer.open(&key, sealed).await.unwrap().expose(),
        secret.as_bytes(),
        "opens to the printed secret"
    );
    assert_eq!(items(&store).await, 1, "one item: the key");

    // Each issue is a new key with a new secret.
    let (code, stdout2, _) =
        run(usage_keys(store.table(), &kms_key).args(["issue", "--account=444455556666"]));
    assert_eq!(code, Some(0));
    let second: Value = serde_json::from_str(stdout2.trim()).unwrap();
    assert_ne!(second["AccessKeyId"], printed["AccessKeyId"]);
    assert_ne!(second["AccessKeySecret"], printed["AccessKeySecret"]);
    assert_eq!(items(&store).await, 2);
}

#[tokio::test]
async fn revoke_marks_the_key_revoked_and_is_idempotent() {
    let store = fresh_store().await;
    let (_, kms_key) = LocalKms::shared().fresh_sealer().await;
    let (_, stdout, _) =
        run(usage_keys(store.table(), &kms_key).args(["issue", "--account", OWNER]));
    let printed: Value = serde_json::from_str(stdout.trim()).unwrap();
    let key = AccessKeyId::parse(printed["AccessKeyId"].as_str().unwrap()).unwrap();

    // Revoking needs no KMS key.
    let mut revoke = usage_keys(store.table(), "");
    revoke.env_remove("ACCESS_KEY_KMS_KEY_ID");
    revoke.args(["revoke", "--access-key-id", key.as_str()]);
    let (code, stdout, stderr) = run(&mut revoke);
    assert_eq!(code, Some(0), "{stderr}");
    let said: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(said["AccessKeyId"], key.as_str());
    assert_eq!(said["Status"], "Revoked");
    let stored = store.access_key(&key).await.unwrap().unwrap();
    let AccessKeyStatus::Revoked { at } = stored.status else {
        panic!("not revoked: {stored:?}");
    };

    let (code, _, stderr) = run(&mut revoke);
    assert_eq!(code, Some(0), "again: {stderr}");
    assert_eq!(
        store.access_key(&key).await.unwrap().unwrap().status,
        AccessKeyStatus::Revoked { at },
        "the first revocation stays"
    );

    let unknown = id(42);
    let (code, stdout, stderr) = run(usage_keys(store.table(), &kms_key).args([
        "revoke",
        "--access-key-id",
        unknown.as_str(),
    ]));
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!("no AccessKey {unknown}")),
        "{stderr}"
    );
    assert_eq!(items(&store).await, 1, "nothing written");
}

#[tokio::test]
async fn bad_arguments_are_refused_and_write_nothing() {
    let store = fresh_store().await;
    let (_, kms_key) = LocalKms::shared().fresh_sealer().await;
    let cases: &[(&[&str], &str)] = &[
        (&[], "a command is required"),
        (&["issue"], "issue needs --account"),
        (&["issue", "--account"], "--account needs a value"),
        (
            &["issue", "--account", "12345678901"],
            "12-digit AWS account id",
        ),
        (
            &["issue", "--account", "1234567890123"],
            "12-digit AWS account id",
        ),
        (
            &["issue", "--account", "12345678901a"],
            "12-digit AWS account id",
        ),
        (
            &["issue", "--account", "１２３４５６７８９０１２"],
            "12-digit AWS account id",
        ),
        (
            &["issue", "--account", "١٢٣٤٥٦٧٨٩٠١٢"],
            "12-digit AWS account id",
        ),
        (
            &["issue", "--account", " 123456789012"],
            "12-digit AWS account id",
        ),
        (
            &["issue", "--acount", "123456789012"],
            "unexpected argument \"--acount\"",
        ),
        (
            &[
                "issue",
                "--account",
                "123456789012",
                "--account",
                "123456789012",
            ],
            "more than once",
        ),
        (&["issue", "123456789012"], "unexpected argument"),
        (&["revoke"], "revoke needs --access-key-id"),
        (
            &["revoke", "--access-key-id", "LTAI0123456789ABCDEFGHIJ"],
            "AccessKey id",
        ),
        (
            &["revoke", "--access-key-id", "RTCU0123456789ABCDEFGHİJ"],
            "AccessKey id",
        ),
        (
            &["revoke", "--account", "123456789012"],
            "unexpected argument",
        ),
        (
            &["issue-key", "--account", "123456789012"],
            "unknown command",
        ),
        (&["ïssue", "--account", "123456789012"], "unknown command"),
    ];
    for (args, message) in cases {
        let (code, stdout, stderr) = run(usage_keys(store.table(), &kms_key).args(*args));
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            stderr.contains("usage: usage-keys issue"),
            "{args:?}: {stderr}"
        );
    }

    // The environment is checked before anything is sent, too.
    let mut no_table = usage_keys(store.table(), &kms_key);
    no_table.env_remove("USAGE_TABLE_NAME");
    let (code, _, stderr) = run(no_table.args(["issue", "--account", OWNER]));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("USAGE_TABLE_NAME is not set"), "{stderr}");
    let (code, _, stderr) = run(usage_keys(store.table(), " ").args(["issue", "--account", OWNER]));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("ACCESS_KEY_KMS_KEY_ID is not set"),
        "{stderr}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut command = usage_keys(store.table(), &kms_key);
        command
            .args(["issue", "--account"])
            .arg(std::ffi::OsStr::from_bytes(&[0x31, 0xff, 0x32]));
        let (code, _, stderr) = run(&mut command);
        assert_eq!(code, Some(2));
        assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    }

    // A KMS key that does not exist: refused by KMS, nothing stored.
    let (code, stdout, stderr) = run(usage_keys(
        store.table(),
        "11111111-2222-3333-4444-555555555555",
    )
    .args(["issue", "--account", OWNER]));
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("fix the configuration"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");

    assert_eq!(items(&store).await, 0, "nothing was written");
}
