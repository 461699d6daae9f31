#!/usr/bin/env python3
"""Runs moto's server on 127.0.0.1 as a local AWS KMS, for tests.

    moto_kms.py [PORT]

moto (pinned in requirements-dev.txt, installed into .venv by ./setup)
serves every AWS API it emulates; the tests use it for KMS only (DynamoDB
is Amazon's DynamoDB Local, scripts/dynamodb_local.py). State lives in
memory and is gone when the server stops.

Prints `PORT <n>` once the server answers requests (PORT 0 or none given:
a free port), then stays until the process that started it exits, or until
it is told to stop (SIGTERM, SIGINT); either way the server is stopped with
it, so no server outlives its test run. If the server dies, this exits with
its status.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, ".venv", "bin", "moto_server")
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    """moto answers its own dashboard API once it serves."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def main() -> None:
    # Read first: a parent that dies during the checks below is then seen to.
    parent = os.getppid()
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else free_port()
    if not os.access(SERVER, os.X_OK):
        sys.exit(f"moto_kms: {SERVER} is missing: run ./setup (moto[server] is in requirements-dev.txt)")
    server = subprocess.Popen(
        [SERVER, "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,
        start_new_session=True,
    )

    def stop(*_):
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers(port):
            if server.poll() is not None:
                sys.exit(f"moto_kms: moto's server exited with status {server.returncode}")
            if time.monotonic() > deadline:
                sys.exit(f"moto_kms: moto's server did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.05)
        print("PORT", port, flush=True)
        while os.getppid() == parent and server.poll() is None:
            time.sleep(0.2)
        if server.poll() is not None:
            sys.exit(server.returncode or 1)
    finally:
        stop()


if __name__ == "__main__":
    main()
