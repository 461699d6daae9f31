//! `usage-keys`: the operator's AccessKeys for Alibaba-signed access.
//!
//! ```text
//! usage-keys issue --account 123456789012
//! usage-keys revoke --access-key-id RTCU...
//! ```
//!
//! `issue` makes an AccessKey id and a 30-character secret from the OS's
//! random source, seals the secret under the KMS key `ACCESS_KEY_KMS_KEY_ID`
//! (bound to the id), stores the key in the table `USAGE_TABLE_NAME`, and
//! prints `{"AccessKeyId":…,"AccessKeySecret":…,"AccountId":…}` on stdout:
//! the one place the secret ever appears (nothing is logged). `revoke`
//! marks a key revoked; signed requests with it are refused from then on.
//! AWS credentials, region and endpoints come from the SDK's usual sources
//! (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_KMS`, …).
//!
//! Exit status: 0 done; 1 the operation failed (the message says whether
//! anything may have been written); 2 refused before anything was sent
//! (bad arguments or environment: nothing written).
//!
//! Arguments are parsed by hand: two subcommands with one flag each do not
//! warrant a parser crate in the package every Lambda function is built
//! from, and the refusals here are exactly the ones the tests check.

use rtc_usage::domain::access_key::{ACCESS_KEY_ID_PREFIX, AccessKeyId, AccessKeySecret};
use rtc_usage::domain::ids::AccountId;
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::config::{CredentialSource, TABLE_ENV, sdk_config};
use rtc_usage::secrets::kms::KMS_KEY_ENV;
use rtc_usage::secrets::{KmsSealer, SecretSealer};
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::{AccessKeyRecord, AccessKeyStore, StoreError};
use serde::Serialize;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: usage-keys issue --account <12-digit AWS account id>
       usage-keys revoke --access-key-id <AccessKey id>

  issue    makes an AccessKey for the account; prints its id and secret once, as JSON
  revoke   revokes an AccessKey: signed requests with it are refused from then on

environment: USAGE_TABLE_NAME (both), ACCESS_KEY_KMS_KEY_ID (issue), and AWS
credentials and region as the AWS SDK reads them";

/// Ids tried when an id is taken (at about 103 random bits, only ever this
/// command's own write seen again after a retried request).
const ISSUE_ATTEMPTS: u32 = 3;

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Issue { account: AccountId },
    Revoke { id: AccessKeyId },
}

/// Why the command was refused before anything was sent.
#[derive(Debug)]
struct Refusal(String);

fn parse(args: Vec<OsString>) -> Result<Command, Refusal> {
    let refuse = |message: String| Err(Refusal(message));
    let mut texts = Vec::with_capacity(args.len());
    for (i, arg) in args.into_iter().enumerate() {
        match arg.into_string() {
            Ok(text) => texts.push(text),
            Err(_) => return refuse(format!("argument {} is not valid UTF-8", i + 1)),
        }
    }
    let Some((command, rest)) = texts.split_first() else {
        return refuse("a command is required: issue or revoke".into());
    };
    let flag = match command.as_str() {
        "-h" | "--help" | "help" if rest.is_empty() => return Ok(Command::Help),
        "issue" => "--account",
        "revoke" => "--access-key-id",
        other => return refuse(format!("unknown command {}", shown(other))),
    };
    let mut value: Option<&str> = None;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let given = if arg == flag {
            match rest.next() {
                Some(v) => v.as_str(),
                None => return refuse(format!("{flag} needs a value")),
            }
        } else if let Some(v) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
            v
        } else {
            return refuse(format!(
                "{command}: unexpected argument {} (only {flag} is accepted)",
                shown(arg)
            ));
        };
        if value.replace(given).is_some() {
            return refuse(format!("{flag} is given more than once"));
        }
    }
    let Some(value) = value else {
        return refuse(format!("{command} needs {flag}"));
    };
    match command.as_str() {
        "issue" => AccountId::parse(value)
            .map(|account| Command::Issue { account })
            .ok_or_else(|| {
                Refusal(format!(
                    "--account must be a 12-digit AWS account id (ASCII digits 0-9), not {}",
                    shown(value)
                ))
            }),
        _ => AccessKeyId::parse(value)
            .map(|id| Command::Revoke { id })
            .ok_or_else(|| {
                Refusal(format!(
                    "--access-key-id must be an AccessKey id this service issued \
                     ({ACCESS_KEY_ID_PREFIX} and 20 of A-Z 0-9), not {}",
                    shown(value)
                ))
            }),
    }
}

/// A value as the operator typed it, quoted and escaped, cut at 64
/// characters so a pasted blob does not flood the terminal.
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

fn env(name: &'static str) -> Result<String, Refusal> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Refusal(format!("environment variable {name} is not set")))
}

/// What `issue` prints: the one place the secret ever appears.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Issued<'a> {
    access_key_id: &'a str,
    access_key_secret: &'a str,
    account_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Revoked<'a> {
    access_key_id: &'a str,
    status: &'static str,
}

/// Fills `buf` from the OS's random source.
fn os_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS's random source failed after answering once");
}

async fn issue(account: AccountId) -> Result<(), String> {
    let table = env(TABLE_ENV).map_err(|r| r.0)?;
    let kms_key = env(KMS_KEY_ENV).map_err(|r| r.0)?;
    getrandom::fill(&mut [0u8; 16])
        .map_err(|e| format!("the OS's random source is unavailable ({e}); nothing was written"))?;
    let sdk = sdk_config(CredentialSource::DefaultChain).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let sealer = KmsSealer::new(aws_sdk_kms::Client::new(&sdk), kms_key);
    for _ in 0..ISSUE_ATTEMPTS {
        let id = AccessKeyId::generate(os_random);
        let secret = AccessKeySecret::generate(os_random);
        let sealed = sealer
            .seal(&id, secret.expose().as_bytes())
            .await
            .map_err(|e| format!("sealing the secret failed: {e}; nothing was written"))?;
        let record = AccessKeyRecord {
            id: id.clone(),
            account: account.clone(),
            sealed_secret: sealed,
            created_at: UtcMillis::now(),
        };
        let stored = match store.put_access_key(&record).await {
            Ok(()) => true,
            Err(StoreError::Conflict(_)) => is_ours(&store, &record).await,
            Err(e @ StoreError::Ambiguous(_)) => {
                return Err(format!(
                    "storing AccessKey {id} failed ({e}). It may have been stored, and its secret \
                     was never shown: run `usage-keys revoke --access-key-id {id}`, then issue again"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "storing the AccessKey failed: {e}; nothing was written"
                ));
            }
        };
        if stored {
            let issued = Issued {
                access_key_id: id.as_str(),
                access_key_secret: secret.expose(),
                account_id: account.as_str(),
            };
            println!(
                "{}",
                serde_json::to_string(&issued).expect("JSON of strings")
            );
            eprintln!(
                "usage-keys: issued AccessKey {id} for account {account}. The secret is shown \
                 only this once: hand it to the account's owner now."
            );
            return Ok(());
        }
    }
    Err(format!(
        "{ISSUE_ATTEMPTS} AccessKey ids in a row were taken; nothing was written"
    ))
}

/// Whether the key stored under `record`'s id is `record` itself: a write
/// of this command that landed, and then was sent again by the SDK's retry
/// and refused as existing. Sealed bytes differ every time KMS seals, so
/// equal bytes are this command's own. The read is eventually consistent:
/// a few tries.
async fn is_ours(store: &DynamoStore, record: &AccessKeyRecord) -> bool {
    for _ in 0..3 {
        match store.access_key(&record.id).await {
            Ok(Some(found)) => return found.record == *record,
            Ok(None) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    false
}

async fn revoke(id: AccessKeyId) -> Result<(), String> {
    let table = env(TABLE_ENV).map_err(|r| r.0)?;
    let sdk = sdk_config(CredentialSource::DefaultChain).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    match store.revoke_access_key(&id, UtcMillis::now()).await {
        Ok(true) => {
            let revoked = Revoked {
                access_key_id: id.as_str(),
                status: "Revoked",
            };
            println!(
                "{}",
                serde_json::to_string(&revoked).expect("JSON of strings")
            );
            eprintln!(
                "usage-keys: revoked AccessKey {id}: requests signed with it are refused within \
                 seconds (reads are eventually consistent)"
            );
            Ok(())
        }
        Ok(false) => Err(format!(
            "there is no AccessKey {id} in table {table}; nothing was written"
        )),
        Err(e @ StoreError::Ambiguous(_)) => Err(format!(
            "revoking AccessKey {id} failed ({e}); it may have been revoked: run the command again"
        )),
        Err(e) => Err(format!(
            "revoking AccessKey {id} failed: {e}; nothing was written"
        )),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let command = match parse(std::env::args_os().skip(1).collect()) {
        Ok(command) => command,
        Err(Refusal(message)) => {
            eprintln!("usage-keys: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The environment is checked before anything is sent, as arguments are.
    let needed: &[&'static str] = match command {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Issue { .. } => &[TABLE_ENV, KMS_KEY_ENV],
        Command::Revoke { .. } => &[TABLE_ENV],
    };
    for name in needed {
        if let Err(Refusal(message)) = env(name) {
            eprintln!("usage-keys: {message}; nothing was written\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let outcome = match command {
        Command::Help => Ok(()),
        Command::Issue { account } => issue(account).await,
        Command::Revoke { id } => revoke(id).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("usage-keys: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn refused(list: &[&str]) -> String {
        parse(args(list)).expect_err("refused").0
    }

    #[test]
    fn the_two_commands_parse() {
        let account = AccountId::parse("123456789012").unwrap();
        for form in [
            &["issue", "--account", "123456789012"][..],
            &["issue", "--account=123456789012"],
        ] {
            assert_eq!(
                parse(args(form)).unwrap(),
                Command::Issue {
                    account: account.clone()
                }
            );
        }
        let id = AccessKeyId::parse("RTCU0123456789ABCDEFGHIJ").unwrap();
        assert_eq!(
            parse(args(&["revoke", "--access-key-id", id.as_str()])).unwrap(),
            Command::Revoke { id }
        );
        assert_eq!(parse(args(&["--help"])).unwrap(), Command::Help);
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        assert!(refused(&[]).contains("a command is required"));
        assert!(refused(&["delete"]).contains("unknown command \"delete\""));
        assert!(refused(&["issue"]).contains("issue needs --account"));
        assert!(refused(&["issue", "--account"]).contains("--account needs a value"));
        assert!(refused(&["issue", "--account", "12345678901"]).contains("12-digit"));
        assert!(refused(&["issue", "--account", "１２３４５６７８９０１２"]).contains("12-digit"));
        assert!(refused(&["issue", "--account", "1", "--account", "2"]).contains("more than once"));
        assert!(
            refused(&["issue", "--access-key-id", "RTCU0123456789ABCDEFGHIJ"])
                .contains("unexpected argument")
        );
        assert!(
            refused(&["revoke", "--access-key-id", "LTAI0123456789ABCDEFGHIJ"])
                .contains("AccessKey id")
        );
        assert!(
            refused(&["issue", "--account", "123456789012", "extra"])
                .contains("unexpected argument \"extra\"")
        );
        let long = "9".repeat(10_000);
        assert!(refused(&["issue", "--account", &long]).len() < 300);
        assert!(refused(&["issue", "--account", "1\u{1b}[2J"]).contains("\\u{1b}"));
    }

    #[cfg(unix)]
    #[test]
    fn arguments_that_are_not_utf8_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = vec![
            OsString::from("issue"),
            OsString::from("--account"),
            OsString::from_vec(vec![0xff, 0xfe]),
        ];
        assert!(
            parse(bad)
                .expect_err("refused")
                .0
                .contains("argument 3 is not valid UTF-8")
        );
    }
}
