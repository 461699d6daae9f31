"""What the launchers of local servers (dynamodb_local.py, moto_kms.py) share:
run one server on 127.0.0.1 for as long as the process that started the
launcher lives.

    <launcher> [PORT]

Prints `PORT <n>` once the server answers requests (PORT 0 or none given:
a free port), then stays until the process that started it exits, or until
it is told to stop (SIGTERM, SIGINT); either way the server is stopped with
it, so no server outlives its test run or local session. If the server
dies, this exits with its status.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    """Whether anything answers at url: an HTTP error status is an answer too."""
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def serve(launcher: str, server_name: str, start, probe_path: str = "/") -> None:
    """Runs the server that start(port) describes as (command, working
    directory); start may exit with a message when the server is not
    installed. The server is up once GET probe_path is answered. launcher and
    server_name name the two in messages."""
    # Read first: a parent that dies while the server starts is then seen to.
    parent = os.getppid()
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else free_port()
    command, cwd = start(port)
    server = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,
        start_new_session=True,
    )

    def halt():
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()

    def on_signal(*_):
        halt()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers(f"http://127.0.0.1:{port}{probe_path}"):
            if server.poll() is not None:
                sys.exit(f"{launcher}: {server_name} exited with status {server.returncode}")
            if time.monotonic() > deadline:
                sys.exit(f"{launcher}: {server_name} did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.05)
        print("PORT", port, flush=True)
        while os.getppid() == parent and server.poll() is None:
            time.sleep(0.2)
        if server.poll() is not None:
            sys.exit(server.returncode or 1)
    finally:
        # Whatever ends this process ends the server; the exit status stays
        # the one given above (the server's own, when it died).
        halt()
