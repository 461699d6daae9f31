"""What the Python tests against the local service share
(tests/browser/console_test.py, tests/sdk/alibaba_sdk_test.py): the
environment run-local sets, HTTP that no proxy sees, the local Lambda
emulator's own HTTP 500s asked again, usage delivered to usage-ingest as SQS
batches, and named checks counted to a last line `N passed, M failed`.
"""
import hashlib
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Loopback only: a proxy configured in the environment must not see these requests.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def env(name: str, script: str) -> str:
    """The variable run-local sets (a URL: no trailing `/`); without it,
    exits saying how to run `script` (the test's __file__)."""
    value = os.environ.get(name, "").rstrip("/")
    if not value:
        path = Path(script).resolve()
        sys.exit(f"{path.stem}: {name} is not set; run me as "
                 f"scripts/run-local --then .venv/bin/python {path.relative_to(ROOT)}")
    return value


def fetch(method: str, url: str, body: bytes = None, headers: dict = None, timeout: float = 60) -> tuple:
    """(HTTP status, body bytes); an error status is an answer too."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with HTTP.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# The local Lambda emulator (cargo lambda watch 1.9.2) now and then answers a
# function-URL request with HTTP 500 of its own (to urllib with a bare problem
# document; in the browser Playwright may even show the asset's body): about 1 in 100 of the
# page's script and CSV answers, never the small or JSON ones. The function's
# answer to the same request is right every time (asked 600 times through the
# Invoke API), and every error of the function carries the contract's error
# body (with its Code). So a 500 without that body is asked again (a few
# times at most), and counted.
ATTEMPTS = 5
emulator_retries = 0


def emulator_500(status: int, body) -> bool:
    if status != 500:
        return False
    try:
        answer = json.loads(body)
    except (ValueError, TypeError):
        return True
    return not (isinstance(answer, dict) and "Code" in answer)


def fetch_past_emulator_500(method: str, url: str, **options) -> tuple:
    """fetch(), asked again while the emulator fails it (ATTEMPTS in all)."""
    global emulator_retries
    for attempt in range(ATTEMPTS):
        status, body = fetch(method, url, **options)
        if attempt == ATTEMPTS - 1 or not emulator_500(status, body):
            return status, body
        emulator_retries += 1


def sqs_record(event: dict, sent_ms: int) -> dict:
    """One SQS message as Lambda delivers it (the shape of events/sqs-*-batch.json),
    holding the CloudEvent of event's id, source, type, time and data."""
    body = json.dumps({"specversion": "1.0", "id": event["id"], "source": event["source"],
                       "type": event["type"], "time": event["time"], "datacontenttype": "application/json",
                       "data": event["data"]}, separators=(",", ":"), ensure_ascii=False)
    message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event['source']}#{event['id']}"))
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id.replace('-', '')}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent_ms),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent_ms + 100),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rtc-usage-events",
        "awsRegion": "us-east-1",
    }


def ingest(lambda_invoke_url: str, events: list, what: str = "the batch") -> None:
    """Delivers events to usage-ingest as one SQS batch, through the Lambda
    emulator's Invoke API; usage-ingest must accept every record."""
    sent_ms = int(time.time() * 1000)
    batch = {"Records": [sqs_record(e, sent_ms) for e in events]}
    status, raw = fetch("POST", f"{lambda_invoke_url}/2015-03-31/functions/usage-ingest/invocations",
                        body=json.dumps(batch, ensure_ascii=False).encode(),
                        headers={"Content-Type": "application/json"}, timeout=300)
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = raw
    assert status == 200 and answer == {"batchItemFailures": []}, \
        f"usage-ingest refused part of {what}: HTTP {status} {json.dumps(answer, default=repr)[:2000]}"


class Checks:
    """Named checks, run one after another: each passes or fails, a failure
    is printed and the next check runs."""

    def __init__(self):
        self.passed, self.failed = 0, 0

    def run(self, name: str, test) -> None:
        started = time.monotonic()
        try:
            result = test()
            self.passed += 1
            extra = f": {result}" if isinstance(result, str) else ""
            print(f"ok   {name} ({time.monotonic() - started:.1f} s){extra}", flush=True)
        except Exception as error:  # an assertion, a timeout or a broken call or page: one failure, go on
            self.failed += 1
            print(f"FAIL {name}: {error}", flush=True)
            if not isinstance(error, AssertionError):
                traceback.print_exc()

    def summary(self, not_run: int = 0) -> int:
        """Prints the last line, `N passed, M failed` (with `not_run` checks
        that could not run counted as failed); returns the exit status."""
        failed = self.failed + not_run
        print(f"{self.passed} passed, {failed} failed")
        return 1 if failed else 0
