//! Starting the launchers in `scripts/` (`dynamodb_local.py`, `moto_kms.py`):
//! each runs its server on a free 127.0.0.1 port, prints `PORT <n>` once the
//! server answers, and stops it when the process that started the launcher
//! ends, so a test binary's servers never outlive it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A server a launcher started, and the launcher.
pub(super) struct Launched {
    pub endpoint: String,
    pub launcher: Child,
}

/// Runs `script` (a path in the repository) and waits for its port; fails
/// loudly, naming `server`, if the server is not installed or does not start.
pub(super) fn launch(script: &str, server: &str) -> Launched {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut launcher = Command::new("python3")
        .arg(repo.join(script))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {server} ({script}): {e:?}"));
    let mut line = String::new();
    BufReader::new(launcher.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("read its port");
    let port = line.trim().strip_prefix("PORT ").unwrap_or_else(|| {
        panic!("{server} did not start (said {line:?}); run ./setup, which installs it")
    });
    Launched {
        endpoint: format!("http://127.0.0.1:{port}"),
        launcher,
    }
}
