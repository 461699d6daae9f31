#!/usr/bin/env python3
"""Serves moto's DynamoDB API on 127.0.0.1 for tests and local runs.

Prints `PORT <n>` once it listens (port 0 or none given: a free port), then
serves until the process that started it exits, so no server outlives its
test run or local session.
"""
import os
import sys
import time

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    parent = os.getppid()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("PORT", server.get_host_and_port()[1], flush=True)
    try:
        while os.getppid() == parent:
            time.sleep(0.5)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
