#!/usr/bin/env python3
"""Runs moto's server on 127.0.0.1 as a local AWS KMS, for tests.

    moto_kms.py [PORT]

moto (pinned in requirements-dev.txt, installed into .venv by ./setup)
serves every AWS API it emulates; the tests use it for KMS only (DynamoDB
is Amazon's DynamoDB Local, scripts/dynamodb_local.py). State lives in
memory and is gone when the server stops.

Prints `PORT <n>` once the server answers requests (PORT 0 or none given:
a free port); stops the server when the process that started this one
exits, or on SIGTERM or SIGINT (local_server.py, beside this script).
"""
import os
import sys

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree
import local_server  # noqa: E402  (beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, ".venv", "bin", "moto_server")


def start(port: int) -> tuple:
    if not os.access(SERVER, os.X_OK):
        sys.exit(f"moto_kms: {SERVER} is missing: run ./setup (moto[server] is in requirements-dev.txt)")
    return [SERVER, "-H", "127.0.0.1", "-p", str(port)], ROOT


if __name__ == "__main__":
    # moto answers its own dashboard API once it serves.
    local_server.serve("moto_kms", "moto's server", start, probe_path="/moto-api/data.json")
