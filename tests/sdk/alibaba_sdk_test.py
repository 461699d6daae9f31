#!/usr/bin/env python3
"""Alibaba Cloud's official Python SDK against the Alibaba-signed API
(contract section 9), through the local service:

  scripts/run-local --then .venv/bin/python tests/sdk/alibaba_sdk_test.py

run-local sets ALIBABA_API_URL (the Alibaba-signed HTTP API, played locally),
QUERY_BASE_URL (the query function's URL, where the development caller
stands in for IAM), LAMBDA_INVOKE_URL (the Lambda emulator's Invoke API), and
what `usage-keys` needs to issue and revoke AccessKeys against the local
table and KMS (USAGE_TABLE_NAME, ACCESS_KEY_KMS_KEY_ID, the AWS endpoints,
region and credentials).

1. It issues AccessKeys with `usage-keys`: two for 111122223333 (the owner of
   run-local's sample app `app-1`) and one for another account, and ingests
   usage with millisecond boundaries into the first hour of today (UTC)
   through usage-ingest (event ids carry today's date: a second run the same
   day changes nothing).
2. The SDK, unchanged but for its endpoint (the pinned versions of
   requirements-dev.txt), asks DescribeLiveRtcRecordUsageData with both
   signatures (ACS3-HMAC-SHA256, the default, and the RPC HMAC-SHA1 one,
   `signature_algorithm='v2'`), as POST (the generated method), GET and POST
   with a form body (the generic `call_api`). Each answer, parsed into the
   SDK's own response model and mapped back with to_map(), must equal the
   same query through the IAM route field by field, types included.
3. Refusals must surface as the SDK's own exception (ClientException, a
   Tea.exceptions.TeaException) with the API's code and message: an unknown
   app, another account's app (the same answer), a wrong secret, an unknown
   key, a revoked key, a bad parameter.
4. Raw requests (urllib, and a small RPC signer of its own) check what the
   SDK cannot be made to send: no signature, a reused nonce, timestamps off
   by 14 and 16 minutes, more than 10 requests in one second with one key
   (while the IAM route goes on answering).
5. It prints how long a warm SDK call takes (informational).

The last line is `N passed, M failed`; the exit status is 1 on any failure.
"""
import base64
import datetime as dt
import hashlib
import hmac
from http.client import HTTPConnection
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

from alibabacloud_live20161101 import models as live_models
from alibabacloud_live20161101.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

sys.dont_write_bytecode = True  # no tests/__pycache__ in the work tree
sys.path.append(str(Path(__file__).resolve().parent.parent))
import pysupport  # noqa: E402  (tests/pysupport.py)

ROOT = Path(__file__).resolve().parent.parent.parent
ACTION = "DescribeLiveRtcRecordUsageData"
VERSION = "2016-11-01"
APP = "app-1"
OWNER = "111122223333"  # run-local's development caller, app-1's owner
OTHER_ACCOUNT = "444455556666"
RATE = 10  # requests per second and AccessKey (section 9)
# One signed request per key every so often: the checks that are not about
# the rate must never meet it.
PACE_SECONDS = 0.12

ALIBABA_API_URL = pysupport.env("ALIBABA_API_URL", __file__)
QUERY_BASE_URL = pysupport.env("QUERY_BASE_URL", __file__)
LAMBDA_INVOKE_URL = pysupport.env("LAMBDA_INVOKE_URL", __file__)
for _name in ("USAGE_TABLE_NAME", "ACCESS_KEY_KMS_KEY_ID", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KMS"):
    pysupport.env(_name, __file__)
ENDPOINT = urllib.parse.urlsplit(ALIBABA_API_URL).netloc  # 127.0.0.1:PORT, as a caller configures it


# ================================================================ plumbing ==
def parsed(answer: tuple) -> tuple:
    """(HTTP status, parsed JSON body or raw bytes)."""
    status, raw = answer
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def send_http(method: str, url: str, body: bytes = None, headers: dict = None):
    """(HTTP status, parsed JSON body or raw bytes); an error status is an answer too."""
    return parsed(pysupport.fetch(method, url, body=body, headers=headers))


def query_string(params: dict) -> str:
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def iam_query(params: dict) -> tuple:
    """The same query through the IAM route (the development caller stands
    in), asked again after the local emulator's own rare 500s (a 500 without
    the contract's error body, see tests/pysupport.py)."""
    url = f"{QUERY_BASE_URL}/?{query_string({'Action': ACTION, **params})}"
    return parsed(pysupport.fetch_past_emulator_500("GET", url))


class Pacer:
    """Keeps one AccessKey's signed requests PACE_SECONDS apart."""

    def __init__(self):
        self.last = {}
        self.lock = threading.Lock()

    def wait(self, key_id: str) -> None:
        with self.lock:
            gap = self.last.get(key_id, 0.0) + PACE_SECONDS - time.monotonic()
            if gap > 0:
                time.sleep(gap)
            self.last[key_id] = time.monotonic()


PACER = Pacer()


# ==================================================================== keys ==
def usage_keys(*args: str) -> str:
    done = subprocess.run(["cargo", "run", "--quiet", "--bin", "usage-keys", "--", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"usage-keys {args[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
    return done.stdout


def issue(account: str) -> dict:
    key = json.loads(usage_keys("issue", "--account", account))
    assert set(key) == {"AccessKeyId", "AccessKeySecret", "AccountId"}, f"usage-keys issue printed {sorted(key)}"
    assert key["AccountId"] == account, f"issued for {key['AccountId']}, asked {account}"
    return key


# ================================================================= the SDK ==
def client(key_id: str, secret: str, rpc: bool = False) -> Client:
    """The official client as a caller makes it; only the endpoint is ours."""
    extra = {"signature_algorithm": "v2"} if rpc else {}
    return Client(open_api_models.Config(access_key_id=key_id, access_key_secret=secret,
                                         endpoint=ENDPOINT, protocol="http", **extra))


def generic_params(method: str) -> open_api_models.Params:
    return open_api_models.Params(action=ACTION, version=VERSION, protocol="HTTP", pathname="/",
                                  method=method, auth_type="AK", style="RPC", req_body_type="formData",
                                  body_type="json")


# How a request reaches the API: (name, signature, call).
MODES = (
    ("ACS3 POST", False, "typed"),
    ("ACS3 GET", False, "get"),
    ("ACS3 POST form", False, "form"),
    ("RPC POST", True, "typed"),
    ("RPC GET", True, "get"),
    ("RPC POST form", True, "form"),
)


def sdk_query(c: Client, key_id: str, call: str, params: dict) -> live_models.DescribeLiveRtcRecordUsageDataResponse:
    """One DescribeLiveRtcRecordUsageData through the SDK, parsed into its
    response model: the generated method (POST, parameters in the query
    string), or call_api with GET, or call_api with POST and a form body."""
    PACER.wait(key_id)
    if call == "typed":
        return c.describe_live_rtc_record_usage_data(live_models.DescribeLiveRtcRecordUsageDataRequest(
            app_id=params.get("AppId"), start_time=params.get("StartTime"), end_time=params.get("EndTime"),
            record_mode=params.get("RecordMode"), interval=params.get("Interval")))
    if call == "get":
        answer = c.call_api(generic_params("GET"), open_api_models.OpenApiRequest(query=dict(params)),
                            RuntimeOptions())
    else:
        in_body = {k: v for k, v in params.items() if k in ("AppId", "RecordMode")}
        in_query = {k: v for k, v in params.items() if k not in in_body}
        answer = c.call_api(generic_params("POST"),
                            open_api_models.OpenApiRequest(query=in_query, body=in_body), RuntimeOptions())
    return live_models.DescribeLiveRtcRecordUsageDataResponse().from_map(answer)


def sdk_refusal(fn) -> ClientException:
    """The exception a refused SDK call raises, checked to be the SDK's own."""
    try:
        answer = fn()
    except TeaException as error:
        assert isinstance(error, ClientException), \
            f"the SDK raised {type(error).__module__}.{type(error).__name__}, not ClientException: {error}"
        return error
    raise AssertionError(f"the call was answered: {getattr(answer, 'body', answer)}")


def assert_refusal(error: ClientException, status: int, code: str) -> dict:
    """The SDK's exception carries our status, code and message; returns the error body."""
    data = error.data or {}
    assert error.code == code, f"code {error.code!r}, expected {code!r} (body {data})"
    assert error.status_code == status, f"status {error.status_code}, expected {status} (body {data})"
    assert {"RequestId", "HostId", "Code", "Message", "Recommend"} <= set(data), f"error body {data}"
    assert data["Code"] == code, f"body code {data['Code']!r}"
    assert data["Message"], "empty Message"
    expected = f"code: {status}, {data['Message']} request id: {data['RequestId']}"
    assert error.message == expected, f"the SDK's message {error.message!r}, expected {expected!r}"
    return data


# ============================================================== comparison ==
def differences(got, want, path: str = "") -> list:
    """Field-by-field differences, types included (12.345 vs 12, 150 vs 150.0)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}.{k}: missing" for k in want if k not in got]
        out += [f"{path}.{k}: unexpected" for k in got if k not in want]
        for k in want:
            if k in got:
                out += differences(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, expected {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]")]
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} ({type(got).__name__}), expected {want!r} ({type(want).__name__})"]
    return []


def same_as_reference(response, reference: dict) -> None:
    assert response.status_code == 200, f"status {response.status_code}"
    body = response.body
    assert isinstance(body, live_models.DescribeLiveRtcRecordUsageDataResponseBody), type(body)
    assert body.data and all(isinstance(p, live_models.DescribeLiveRtcRecordUsageDataResponseBodyData)
                             for p in body.data), "no parsed Data points"
    got = body.to_map()
    assert isinstance(got.get("RequestId"), str) and got["RequestId"], f"RequestId {got.get('RequestId')!r}"
    want = dict(reference)
    want["RequestId"] = got["RequestId"]  # each answer has its own
    problems = differences(got, want)
    assert not problems, "; ".join(problems[:8])


# ================================================================ raw RPC ==
def rpc_signature(params: dict, method: str, secret: str) -> str:
    """The RPC HMAC-SHA1 signature version 1.0, written from its definition:
    sorted parameters, RFC 3986 percent-encoding, METHOD&%2F&encoded(query),
    HMAC-SHA1 keyed with secret + "&", base64."""
    def encode(text: str) -> str:
        return urllib.parse.quote(text, safe="~")
    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{encode('/')}&{encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_url(key: dict, params: dict, at: dt.datetime = None, method: str = "POST") -> str:
    """A request URL signed as the SDK's RPC signature does (parameters in the query string)."""
    at = at or dt.datetime.now(dt.timezone.utc)
    signed = {"Action": ACTION, "Format": "json", "Version": VERSION, **params,
              "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "SignatureNonce": uuid.uuid4().hex,
              "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "AccessKeyId": key["AccessKeyId"]}
    signed["Signature"] = rpc_signature(signed, method, key["AccessKeySecret"])
    return f"{ALIBABA_API_URL}/?{query_string(signed)}"


def raw_signed(key: dict, params: dict, at: dt.datetime = None, url: str = None):
    PACER.wait(key["AccessKeyId"])
    return send_http("POST", url or signed_url(key, params, at), body=b"")


def assert_raw(answer: tuple, status: int, code: str = None) -> None:
    got_status, body = answer
    got_code = body.get("Code") if isinstance(body, dict) else None
    assert got_status == status and got_code == code, \
        f"HTTP {got_status} {got_code!r}, expected {status} {code!r}: {body!r:.300}"


# ================================================================== ingest ==
# Usage with millisecond boundaries in today's first hour (UTC): V720
# 00:00:01.100 .. 00:00:13.445 (12.345 s) and audio 00:00:20.000 .. 00:00:20.999
# (0.999 s). Past at any time of the day: end times may be up to 5 minutes ahead.
FRACTIONAL = (("v720", {"media": "video", "width": 1280, "height": 720}, "00:00:01.100", "00:00:13.445"),
              ("audio", {"media": "audio"}, "00:00:20.000", "00:00:20.999"))
FRACTIONAL_EXPECTED = {"V720Duration": 12.345, "AudioDuration": 0.999, "TotalDuration": 13.344}


def ingest_fractional(today: dt.date) -> str:
    events = [{"id": f"sdk-test-{name}-{today}", "source": "/rtc/recorder/sdk-test", "type": "rtc.recording.segment",
               "time": f"{today}T{end}Z",
               "data": {"appId": APP, "recordMode": "0", **media,
                        "startTime": f"{today}T{start}Z", "endTime": f"{today}T{end}Z"}}
              for name, media, start, end in FRACTIONAL]
    pysupport.ingest(LAMBDA_INVOKE_URL, events)
    return ", ".join(f"{e['data']['startTime']} .. {e['data']['endTime']}" for e in events)


# ================================================================= throttle ==
def burst(key: dict, params: dict, size: int) -> dict:
    """`size` signed requests with one key, sent at once from threads right
    after a second begins, with one unsigned request through the IAM route
    among them. Returns what each got and when.

    Each request is signed and its connection opened beforehand, so that
    sending is all that is left: the local HTTP API's listen backlog is
    Python's default of 5, and a dozen connections opened at once would see
    some of them wait out a SYN retransmission (a second) first."""
    target = urllib.parse.urlsplit(ALIBABA_API_URL)
    paths = [signed_url(key, params).removeprefix(ALIBABA_API_URL) for _ in range(size)]
    connections = []
    for _ in range(size):
        connection = HTTPConnection(target.hostname, target.port, timeout=60)
        connection.connect()
        connections.append(connection)
    results = [None] * size
    iam = {}
    gate = threading.Barrier(size + 1)

    def send(i):
        gate.wait()
        sent = time.time()
        try:
            connections[i].request("POST", paths[i], body=b"", headers={"Content-Length": "0"})
            response = connections[i].getresponse()
            status, raw = response.status, response.read()
        finally:
            connections[i].close()
        try:
            code = json.loads(raw).get("Code")
        except (ValueError, AttributeError):
            code = None
        results[i] = (sent, time.time(), status, code)

    def send_iam():
        gate.wait()
        iam["answer"] = iam_query(params)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(size)]
    threads.append(threading.Thread(target=send_iam))
    # Start 20 ms into a fresh second, with the second's first 20 ms to spare.
    time.sleep(1 - (time.time() % 1) + 0.02)
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return {"results": results, "iam": iam.get("answer")}


def throttled(key: dict, params: dict) -> str:
    """More than RATE signed requests in one second: exactly those beyond RATE
    are refused with 429 Throttling.User. A burst that straddles a second
    boundary (its answers are not all back within its first second) cannot
    be told apart, so it is sent again, with the count checked only within
    its bounds."""
    size = RATE + 1
    notes = []
    for attempt in range(1, 5):
        outcome = burst(key, params, size)
        results = outcome["results"]
        assert all(results), "a request of the burst did not finish"
        iam_status, iam_body = outcome["iam"]
        assert iam_status == 200, f"the IAM route answered {iam_status} during the burst: {iam_body!r:.300}"
        refused = [r for r in results if r[2] == 429]
        answered = [r for r in results if r[2] == 200]
        others = [r for r in results if r[2] not in (200, 429)]
        assert not others, f"unexpected answers: {[(r[2], r[3]) for r in others]}"
        assert all(r[3] == "Throttling.User" for r in refused), f"429 codes {[r[3] for r in refused]}"
        first_second = math.floor(min(r[0] for r in results))
        last_back = max(r[1] for r in results)
        span_ms = (last_back - min(r[0] for r in results)) * 1000
        if last_back < first_second + 1:  # every request was handled within one second
            assert len(refused) == size - RATE, \
                f"{len(refused)} of {size} refused within one second, expected {size - RATE}"
            notes.append(f"attempt {attempt}: {len(answered)} answered, {len(refused)} refused "
                         f"with 429 Throttling.User, all within one second ({span_ms:.0f} ms)")
            return "; ".join(notes)
        # Straddled: at most `size - RATE` can have been refused, in any split.
        assert len(refused) <= size - RATE, f"{len(refused)} of {size} refused across two seconds"
        notes.append(f"attempt {attempt} straddled a second ({span_ms:.0f} ms, {len(refused)} refused)")
        time.sleep(1.1)  # the key's next seconds start empty
    raise AssertionError("no burst fitted within one second: " + "; ".join(notes))


# =================================================================== tests ==
def main() -> int:
    now = dt.datetime.now(dt.timezone.utc)
    today = now.date()
    yesterday = today - dt.timedelta(days=1)
    tomorrow = today + dt.timedelta(days=1)
    checks, figures = pysupport.Checks(), []
    check = checks.run

    keys = {}

    def issue_all():
        keys["a"], keys["b"], keys["other"] = issue(OWNER), issue(OWNER), issue(OTHER_ACCOUNT)
        return ", ".join(f"{k['AccessKeyId']} ({k['AccountId']})" for k in keys.values())

    check("usage-keys issues two AccessKeys for 111122223333 and one for another account", issue_all)
    if len(keys) < 3:
        return checks.summary(not_run=1)
    a, b, other = keys["a"], keys["b"], keys["other"]
    check("usage-ingest accepts usage with millisecond boundaries (today's first hour)",
          lambda: ingest_fractional(today))

    def window(start: dt.date, end: dt.date, interval: str, end_hour: int = 0) -> dict:
        return {"AppId": APP, "StartTime": f"{start}T00:00:00Z", "EndTime": f"{end}T{end_hour:02d}:00:00Z",
                "RecordMode": "0", "Interval": interval}

    windows = {
        "yesterday, hourly": window(yesterday, today, "3600"),
        "yesterday, daily": window(yesterday, today, "86400"),
        "today's first hours, hourly (fractional seconds)": window(today, today, "3600", end_hour=2),
        "today, daily (fractional seconds)": window(today, tomorrow, "86400"),
    }
    references = {}

    def reference(name, params):
        def test():
            status, answer = iam_query(params)
            assert status == 200 and isinstance(answer, dict) and "Data" in answer, \
                f"the IAM route answered {status}: {answer!r:.300}"
            references[name] = answer
            if "yesterday" in name:
                assert answer["TotalSummaryDuration"] == 150, f"run-local's sample: {answer['TotalSummaryDuration']}"
            else:
                first = answer["Data"][0]
                for field, value in FRACTIONAL_EXPECTED.items():
                    assert type(first[field]) is float and first[field] == value, \
                        f"{field} {first[field]!r}, expected {value!r}"
            return f"{len(answer['Data'])} points, TotalSummaryDuration {answer['TotalSummaryDuration']}"
        return test

    for name, params in windows.items():
        check(f"reference through the IAM route: {name}", reference(name, params))

    clients = {False: client(a["AccessKeyId"], a["AccessKeySecret"]),
               True: client(a["AccessKeyId"], a["AccessKeySecret"], rpc=True)}
    for mode, rpc, call in MODES:
        for name, params in windows.items():
            def test(rpc=rpc, call=call, name=name, params=params):
                assert name in references, "no reference"
                response = sdk_query(clients[rpc], a["AccessKeyId"], call, params)
                same_as_reference(response, references[name])
                if "fractional" in name:
                    first = response.body.data[0]
                    got = {"V720Duration": first.v_720duration, "AudioDuration": first.audio_duration,
                           "TotalDuration": first.total_duration}
                    assert got == FRACTIONAL_EXPECTED and all(type(v) is float for v in got.values()), \
                        f"the model's first point {got}, expected {FRACTIONAL_EXPECTED}"
                    return f"V720 {first.v_720duration!r} s, total {response.body.total_summary_duration!r} s"
                return f"{len(response.body.data)} points, total {response.body.total_summary_duration!r} s"
            check(f"SDK {mode}: {name} equals the reference", test)

    # ------------------------------------------------------------ refusals --
    hourly = windows["yesterday, hourly"]

    def typed(c: Client, key_id: str, **changes):
        return lambda: sdk_query(c, key_id, "typed", {**hourly, **changes})

    def unknown_app_like_other_accounts():
        unknown = assert_refusal(sdk_refusal(typed(clients[False], a["AccessKeyId"], AppId="no-such-app")),
                                 400, "InvalidAppIdParameter")
        other_client = client(other["AccessKeyId"], other["AccessKeySecret"])
        foreign = assert_refusal(sdk_refusal(typed(other_client, other["AccessKeyId"])), 400, "InvalidAppIdParameter")
        other_unknown = assert_refusal(sdk_refusal(typed(other_client, other["AccessKeyId"], AppId="no-such-app")),
                                       400, "InvalidAppIdParameter")
        for body in (foreign, other_unknown):
            assert (body["Code"], body["Message"], body["Recommend"]) == \
                (unknown["Code"], unknown["Message"], unknown["Recommend"]), \
                f"another account's app answered {body}, an unknown app {unknown}"
        return f"all three: {unknown['Message']!r}"

    check("SDK: an unknown app and another account's app raise the same InvalidAppIdParameter",
          unknown_app_like_other_accounts)

    for rpc in (False, True):
        scheme = "RPC" if rpc else "ACS3"

        def wrong_secret(rpc=rpc):
            wrong = client(a["AccessKeyId"], a["AccessKeySecret"][:-1] + ("x" if a["AccessKeySecret"][-1] != "x" else "y"),
                           rpc=rpc)
            assert_refusal(sdk_refusal(typed(wrong, a["AccessKeyId"])), 403, "SignatureDoesNotMatch")

        def unknown_key(rpc=rpc):
            messages = set()
            for key_id in ("RTCU" + "0" * 20, "LTAI5tFakeFakeFakeFake00"):
                c = client(key_id, a["AccessKeySecret"], rpc=rpc)
                messages.add(assert_refusal(sdk_refusal(typed(c, key_id)), 403,
                                            "InvalidAccessKeyId.NotFound")["Message"])
            assert len(messages) == 1, f"different messages: {messages}"

        check(f"SDK {scheme}: a wrong secret raises SignatureDoesNotMatch", wrong_secret)
        check(f"SDK {scheme}: an unknown AccessKey raises InvalidAccessKeyId.NotFound", unknown_key)

    def bad_parameter():
        error = sdk_refusal(typed(clients[False], a["AccessKeyId"], RecordMode="7"))
        body = assert_refusal(error, 400, "InvalidRecordModeParameter")
        status, iam = iam_query({**hourly, "RecordMode": "7"})
        assert status == 400 and (iam.get("Code"), iam.get("Message")) == (body["Code"], body["Message"]), \
            f"the IAM route answered {status} {iam}"
        rpc_body = assert_refusal(sdk_refusal(typed(clients[True], a["AccessKeyId"], RecordMode="7")),
                                  400, "InvalidRecordModeParameter")
        assert rpc_body["Message"] == body["Message"], f"RPC {rpc_body['Message']!r} vs ACS3 {body['Message']!r}"
        return body["Message"]

    check("SDK: record_mode='7' raises InvalidRecordModeParameter, as the IAM route answers", bad_parameter)

    # ---------------------------------------------------------- raw refusals --
    def unsigned():
        assert_raw(send_http("GET", f"{ALIBABA_API_URL}/?{query_string({'Action': ACTION, **hourly})}"), 403, "Forbidden.RAM")
        form = query_string(hourly).encode()
        assert_raw(send_http("POST", f"{ALIBABA_API_URL}/?Action={ACTION}", body=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded"}), 403, "Forbidden.RAM")

    check("raw: an unsigned GET and an unsigned form POST are refused with 403 Forbidden.RAM", unsigned)

    def nonce_reused():
        url = signed_url(b, hourly)
        assert_raw(raw_signed(b, hourly, url=url), 200)  # the test's own signer is right
        assert_raw(raw_signed(b, hourly, url=url), 400, "SignatureNonceUsed")

    check("raw: the same signed request twice: the second is refused with 400 SignatureNonceUsed", nonce_reused)

    def timestamps():
        now = dt.datetime.now(dt.timezone.utc)
        minutes = dt.timedelta(minutes=1)
        assert_raw(raw_signed(b, hourly, at=now - 16 * minutes), 400, "InvalidTimeStamp.Expired")
        assert_raw(raw_signed(b, hourly, at=now + 16 * minutes), 400, "InvalidTimeStamp.Expired")
        assert_raw(raw_signed(b, hourly, at=now - 14 * minutes), 200)
        assert_raw(raw_signed(b, hourly, at=now + 14 * minutes), 200)

    check("raw: timestamps 16 minutes old or ahead are refused with 400 InvalidTimeStamp.Expired, "
          "14 minutes are not", timestamps)

    time.sleep(1.1)  # key b's next seconds start empty
    check(f"raw: {RATE + 1} signed requests in one second with one key: those beyond {RATE} get 429 "
          "Throttling.User; the IAM route answers meanwhile", lambda: throttled(b, hourly))

    def revoked():
        time.sleep(1.1)  # past the burst's second, which key b has used up
        c = client(b["AccessKeyId"], b["AccessKeySecret"])
        response = sdk_query(c, b["AccessKeyId"], "typed", hourly)
        assert response.status_code == 200, f"before revoking: {response.status_code}"
        usage_keys("revoke", "--access-key-id", b["AccessKeyId"])
        revoked_at = time.monotonic()
        while True:
            try:
                sdk_query(c, b["AccessKeyId"], "typed", hourly)
            except ClientException as error:
                seconds = time.monotonic() - revoked_at
                body = assert_refusal(error, 403, "InvalidAccessKeyId.NotFound")
                unknown_id = "RTCU" + "0" * 20
                unknown = assert_refusal(sdk_refusal(typed(client(unknown_id, b["AccessKeySecret"]), unknown_id)),
                                         403, "InvalidAccessKeyId.NotFound")
                assert body["Message"] == unknown["Message"], \
                    f"a revoked key: {body['Message']!r}; an unknown one: {unknown['Message']!r}"
                return f"refused {seconds:.2f} s after revoking, as an unknown key is"
            assert time.monotonic() - revoked_at < 60, "still answered a minute after revoking"
            time.sleep(0.5)

    check("SDK: a revoked AccessKey raises InvalidAccessKeyId.NotFound within a minute", revoked)

    # ------------------------------------------------------------- figures --
    def warm_calls():
        c = clients[False]
        sdk_query(c, a["AccessKeyId"], "typed", hourly)  # warm
        took = []
        for _ in range(20):
            PACER.wait(a["AccessKeyId"])
            started = time.perf_counter()
            response = c.describe_live_rtc_record_usage_data(live_models.DescribeLiveRtcRecordUsageDataRequest(
                app_id=hourly["AppId"], start_time=hourly["StartTime"], end_time=hourly["EndTime"],
                record_mode=hourly["RecordMode"], interval=hourly["Interval"]))
            took.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        figures.append(f"alibaba sdk call (ACS3, POST, warm): median {statistics.median(took):.0f} ms "
                       f"(20 calls, {min(took):.0f}..{max(took):.0f} ms)")
        return figures[-1]

    check("SDK: 20 warm calls (ACS3, POST)", warm_calls)

    print()
    for figure in figures:
        print(figure)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
