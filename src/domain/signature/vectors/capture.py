"""Drive the official Alibaba Cloud SDK against a local recorder and save
the raw requests it sends as signature test vectors."""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer as HTTPServer
from importlib.metadata import version

from alibabacloud_live20161101.client import Client
from alibabacloud_live20161101 import models
from alibabacloud_tea_openapi import utils_models as open_api_models
from alibabacloud_tea_openapi.utils import Utils
from darabonba.runtime import RuntimeOptions

ACCESS_KEY_ID = "FakeKeyIdForVectors01"
ACCESS_KEY_SECRET = "fake-secret-for-signature-vectors"

CAPTURED = []

ANSWER = json.dumps({
    "RequestId": "00000000-0000-0000-0000-000000000000",
    "AppId": "app-1", "RecordMode": "0",
    "TotalSummaryDuration": 0, "AudioSummaryDuration": 0, "V480SummaryDuration": 0,
    "V720SummaryDuration": 0, "V1080SummaryDuration": 0, "Data": [],
}).encode()


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = self.path.partition("?")
        CAPTURED.append({
            "method": self.command,
            "path": path,
            "raw_query": raw_query,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_base64": base64.b64encode(body).decode(),
        })
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    do_GET = _record
    do_POST = _record

    def log_message(self, *args):
        pass


def client(port, **extra):
    return Client(open_api_models.Config(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        endpoint=f"127.0.0.1:{port}",
        protocol="http",
        **extra,
    ))


# Unicode, spaces and the characters that percent-encodings disagree on.
ODD = "app ünï*~+/ 测试 a=b&c%"

PARAMS = {
    "AppId": ODD,
    "StartTime": "2026-11-20T10:00:00Z",
    "EndTime": "2026-11-20T12:00:00Z",
    "RecordMode": "0",
    "Interval": "3600",
}


def typed_request():
    return models.DescribeLiveRtcRecordUsageDataRequest(
        app_id=PARAMS["AppId"], start_time=PARAMS["StartTime"],
        end_time=PARAMS["EndTime"], record_mode=PARAMS["RecordMode"],
        interval=PARAMS["Interval"],
    )


def generic(c, method, query=None, body=None):
    """The generic call (`call_api`) a caller uses to pick the HTTP method:
    the same Params as the generated method, but the method chosen."""
    params = open_api_models.Params(
        action="DescribeLiveRtcRecordUsageData", version="2016-11-01",
        protocol="HTTPS", pathname="/", method=method, auth_type="AK",
        style="RPC", req_body_type="formData", body_type="json",
    )
    req = open_api_models.OpenApiRequest(
        query=Utils.query(query) if query is not None else None,
        body=body,
    )
    return c.call_api(params, req, RuntimeOptions())


def main():
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    cases = []

    def case(name, description, config, call, fn):
        before = len(CAPTURED)
        fn()
        assert len(CAPTURED) == before + 1, name
        cases.append((name, description, config, call, CAPTURED[-1]))

    v3 = client(port)
    rpc = client(port, signature_algorithm="v2")
    half = {k: PARAMS[k] for k in ("AppId", "RecordMode")}
    rest = {k: PARAMS[k] for k in ("StartTime", "EndTime", "Interval")}

    case("acs3_post_query", "V3 default: the generated method, POST, parameters in the query, empty body",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http')",
         "client.describe_live_rtc_record_usage_data(request)",
         lambda: v3.describe_live_rtc_record_usage_data(typed_request()))
    case("acs3_get_query", "V3, GET through call_api, parameters in the query",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http')",
         "client.call_api(Params(..., method='GET', style='RPC', req_body_type='formData'), OpenApiRequest(query=...), RuntimeOptions())",
         lambda: generic(v3, "GET", query=PARAMS))
    case("acs3_post_form", "V3, POST through call_api, some parameters in an x-www-form-urlencoded body",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http')",
         "client.call_api(Params(..., method='POST', style='RPC', req_body_type='formData'), OpenApiRequest(query=..., body=...), RuntimeOptions())",
         lambda: generic(v3, "POST", query=rest, body=half))
    case("acs3_get_empty_value", "V3, GET through call_api, with an empty parameter value",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http')",
         "client.call_api(Params(..., method='GET'), OpenApiRequest(query={..., 'Interval': ''}), RuntimeOptions())",
         lambda: generic(v3, "GET", query={**PARAMS, "Interval": ""}))
    case("rpc_post_query", "RPC HMAC-SHA1 1.0: the generated method, POST, parameters in the query, empty body",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http', signature_algorithm='v2')",
         "client.describe_live_rtc_record_usage_data(request)",
         lambda: rpc.describe_live_rtc_record_usage_data(typed_request()))
    case("rpc_get_query", "RPC HMAC-SHA1 1.0, GET through call_api, parameters in the query",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http', signature_algorithm='v2')",
         "client.call_api(Params(..., method='GET', style='RPC'), OpenApiRequest(query=...), RuntimeOptions())",
         lambda: generic(rpc, "GET", query=PARAMS))
    case("rpc_post_form", "RPC HMAC-SHA1 1.0, POST through call_api, some parameters in an x-www-form-urlencoded body",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http', signature_algorithm='v2')",
         "client.call_api(Params(..., method='POST', style='RPC'), OpenApiRequest(query=..., body=...), RuntimeOptions())",
         lambda: generic(rpc, "POST", query=rest, body=half))
    case("rpc_get_empty_value", "RPC HMAC-SHA1 1.0, GET through call_api, with an empty parameter value",
         "Config(access_key_id, access_key_secret, endpoint, protocol='http', signature_algorithm='v2')",
         "client.call_api(Params(..., method='GET'), OpenApiRequest(query={..., 'Interval': ''}), RuntimeOptions())",
         lambda: generic(rpc, "GET", query={**PARAMS, "Interval": ""}))

    server.shutdown()
    sdk = {p: version(p) for p in (
        "alibabacloud-live20161101", "alibabacloud-tea-openapi", "darabonba-core",
        "alibabacloud-credentials", "alibabacloud-tea-util", "alibabacloud-gateway-spi",
        "alibabacloud-tea")}
    out = sys.argv[1]
    for name, description, config, call, request in cases:
        vector = {
            "name": name,
            "description": description,
            "sdk": sdk,
            "config": config,
            "call": call,
            "access_key_id": ACCESS_KEY_ID,
            "access_key_secret": ACCESS_KEY_SECRET,
            "request": request,
        }
        with open(f"{out}/{name}.json", "w", encoding="utf-8") as f:
            json.dump(vector, f, ensure_ascii=False, indent=2)
            f.write("\n")
        print(name, request["method"], request["path"], request["raw_query"][:80])


if __name__ == "__main__":
    main()
