#!/usr/bin/env python3
"""Serves moto's DynamoDB API on 127.0.0.1 for tests and local runs.

Prints `PORT <n>` once it listens (port 0 or none given: a free port), then
serves until the process that started it exits, so no server outlives its
test run or local session.
"""
import functools
import inspect
import os
import sys
import textwrap
import threading
import time

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb import responses as dynamodb_responses
from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def copy_each_table_once_per_transaction() -> None:
    """moto backs up a table for rollback once per *action* of a transaction:
    a 100-action transaction deep-copies the table 100 times. Backing it up
    once is the same rollback, and keeps large test tables fast. If moto's
    code has changed shape, it is left as it is."""
    backend = dynamodb_models.DynamoDBBackend
    source = textwrap.dedent(inspect.getsource(backend.transact_write_items))
    guard = "if table_name and table_name in self.tables:"
    if guard not in source:
        print("note: moto transaction backup not patched", file=sys.stderr)
        return
    source = source.replace(guard, guard[:-1] + " and table_name not in original_table_state:")
    namespace: dict = {}
    exec(compile(source, dynamodb_models.__file__, "exec"), vars(dynamodb_models), namespace)
    backend.transact_write_items = namespace["transact_write_items"]


def serialize_requests() -> None:
    """DynamoDB's operations are atomic and its transactions isolated; moto's
    are not under concurrent requests: a cancelled transaction restores a
    table backup taken while others were writing, a TransactGetItems reads
    its items one by one while writes land between them, and answers are
    serialized from live items after the backend call returns. Handling one
    DynamoDB request at a time, from parsing to the serialized answer, gives
    the isolation DynamoDB guarantees, so concurrency tests exercise the
    client side truthfully."""
    handler = dynamodb_responses.DynamoHandler
    lock = threading.Lock()
    dispatch = handler.call_action

    @functools.wraps(dispatch)
    def one_at_a_time(self, *args, **kwargs):
        with lock:
            return dispatch(self, *args, **kwargs)

    handler.call_action = one_at_a_time


def main() -> None:
    copy_each_table_once_per_transaction()
    serialize_requests()
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
