"""A local stand-in for an API Gateway HTTP API on its `$default` stage, for
scripts/run-local: it turns each HTTP request into the Lambda event AWS sends
(payload format 2.0, with the stage variables the template gives the stage),
invokes the function through the Lambda emulator's Invoke API, and turns the
function's answer back into the HTTP response.

For the Alibaba-signed API only what the template declares is routed (`GET /`
and `POST /`); anything else gets API Gateway's own 404. Without routes it
stands in for the query function's own URL (every method and path, the
`$default` route), which run-local uses instead of cargo-lambda's function
URL emulation: that emulation now and then answers larger responses with an
HTTP 500 of its own, which its Invoke API never did. As API Gateway does for HTTP APIs, a request
body is handed over base64-encoded, repeated headers and query parameters are
joined with commas, and header names are lower-cased.
"""
import base64
import datetime as dt
import http.server
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROUTES = {("GET", "/"), ("POST", "/")}
# Loopback only: a proxy configured in the environment must not see these requests.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def event_of(method: str, target: str, headers, body: bytes, stage_variables: dict, host: str,
             route: str) -> dict:
    path, _, raw_query = target.partition("?")
    joined = {}
    for name, value in headers.items():
        name = name.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    query = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = dt.datetime.now(dt.timezone.utc)
    event = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": joined.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": route,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "stageVariables": stage_variables or None,
        "isBase64Encoded": bool(body),
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = base64.b64encode(body).decode()
    return event


def serve(invoke_url: str, function: str, stage_variables: dict, routes=ROUTES) -> str:
    """Serves on a free 127.0.0.1 port in a background thread; returns its URL.
    routes: the (method, path) pairs routed, or None for all of them."""
    invocations = f"{invoke_url}/2015-03-31/functions/{function}/invocations"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):  # the functions' own logs say enough
            pass

        def answer(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers only
                self.wfile.write(body)

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.partition("?")[0]
            if routes is not None and (self.command, path) not in routes:
                return self.answer(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
            route = "$default" if routes is None else f"{self.command} {path}"
            event = event_of(self.command, self.path, self.headers, body, stage_variables,
                             self.headers.get("Host", "127.0.0.1"), route)
            request = urllib.request.Request(invocations, data=json.dumps(event).encode(), method="POST")
            try:
                with _HTTP.open(request, timeout=60) as response:
                    result = json.loads(response.read())
            except (OSError, ValueError, urllib.error.HTTPError):
                return self.answer(500, {"Content-Type": "application/json"},
                                   b'{"message":"Internal Server Error"}')
            headers = dict(result.get("headers") or {})
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[name] = ",".join(values)
            text = result.get("body") or ""
            payload = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
            self.answer(int(result.get("statusCode", 200)), headers, payload)

        def __getattr__(self, name):
            # Every method reaches the function (a function URL hands it any
            # method; the routes decide the rest), whatever its name.
            if name.startswith("do_"):
                return self.handle_any
            raise AttributeError(name)

    class Server(http.server.ThreadingHTTPServer):
        # Callers open many connections at once (a burst of signed requests);
        # the default backlog of 5 would make some wait to connect.
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"
