"""The local cloud's REST API endpoint: API Gateway's Lambda proxy integration, which moto does not run.

`LocalApi` reads the deployed REST API's resources, methods and integrations from the local cloud (the
synthesized template, as moto's CloudFormation created it), turns each HTTP request into the API Gateway
REST proxy event, invokes the integration's Lambda through the local cloud's Lambda API (which runs the
handler in-process) and writes the proxy response back. Other GET requests are served from ``web/``, so
the request form and the API share one origin. Request validators and models are not emulated: the
intake Lambda validates everything itself.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger("local.api")

ROOT = Path(__file__).resolve().parents[1]
WEB_ROOT = ROOT / "web"
MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway REST's request payload limit
STAGE = "v1"
_INTEGRATION_URI = re.compile(r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<function>.+)/invocations$")
# What the static form may load: itself only (the API is on the same origin locally).
WEB_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class BurstServer(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog that holds a burst: http.server's default of 5 pending
    connections made the kernel reset the rest when 20 clients connected at once."""

    request_queue_size = 128
    daemon_threads = True


@dataclass(frozen=True)
class Route:
    """One method of one API Gateway resource with a Lambda proxy integration."""

    resource: str  # the path template, e.g. /requests/{request_id}
    method: str
    function_arn: str
    resource_id: str
    pattern: re.Pattern[str]


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$")


def discover_routes(apigateway: Any, rest_api_id: str) -> list[Route]:
    """The API's Lambda proxy routes, as deployed (longest literal templates first, like API Gateway)."""
    routes = []
    paginator = apigateway.get_paginator("get_resources")
    for page in paginator.paginate(restApiId=rest_api_id, embed=["methods"]):
        for resource in page["items"]:
            for method, spec in (resource.get("resourceMethods") or {}).items():
                integration = spec.get("methodIntegration") or apigateway.get_integration(
                    restApiId=rest_api_id, resourceId=resource["id"], httpMethod=method
                )
                match = _INTEGRATION_URI.match(integration.get("uri", ""))
                if integration.get("type") != "AWS_PROXY" or not match:
                    log.warning("%s %s: only Lambda proxy integrations are served locally", method, resource["path"])
                    continue
                routes.append(
                    Route(resource["path"], method, match["function"], resource["id"], _path_pattern(resource["path"]))
                )
    # Literal segments beat parameters: /requests/{id}/verify before /requests/{id}.
    routes.sort(key=lambda r: (r.resource.count("{"), -len(r.resource)))
    return routes


def find_rest_api(apigateway: Any, name: str | None = None) -> str:
    """The id of the deployed REST API (by name when there are several)."""
    apis = apigateway.get_rest_apis()["items"]
    if name:
        apis = [a for a in apis if a["name"] == name]
    if len(apis) != 1:
        raise LookupError(f"expected one REST API{f' named {name}' if name else ''}, found {len(apis)}")
    return str(apis[0]["id"])


def rest_api_id_from_url(url: str) -> str:
    """``https://<id>.execute-api.<region>.amazonaws.com/<stage>/`` -> ``<id>`` (the ApiUrl stack output)."""
    return urlsplit(url).hostname.split(".", 1)[0]  # type: ignore[union-attr]  # an ApiUrl always has a host


class LocalApi:
    """Serves one deployed REST API (and ``web/``) on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(
        self,
        client: Callable[..., Any],
        *,
        rest_api_id: str | None = None,
        port: int = 8080,
        host: str = "127.0.0.1",
        web_root: Path | None = WEB_ROOT,
    ) -> None:
        """``client(service, **config)`` gives a boto3 client bound to the local cloud (e.g. ``LocalCloud.client``)."""
        self._client = client
        self.rest_api_id = rest_api_id or find_rest_api(client("apigateway"))
        self.routes = discover_routes(client("apigateway"), self.rest_api_id)
        if not self.routes:
            raise LookupError(f"REST API {self.rest_api_id} has no Lambda proxy routes")
        # API Gateway invokes an integration once and never retries it: a retried invoke after a slow answer would
        # run the function twice (file a request twice). The function's own timeout bounds the wait.
        self._lambda = client("lambda", retries={"total_max_attempts": 1}, read_timeout=900)
        self.web_root = web_root.resolve() if web_root else None
        self._server = BurstServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def local_link(self, url: str) -> str:
        """A link on the deployed API (``https://<id>.execute-api.../v1/requests/...?token=...``, as an email carries
        it) as the same request to this server, which serves the stage at its root: what DNS would do on AWS."""
        parts = urlsplit(url)
        if rest_api_id_from_url(url) != self.rest_api_id or not parts.path.startswith(f"/{STAGE}/"):
            raise ValueError("not a link on this REST API's stage")
        path = parts.path.removeprefix(f"/{STAGE}")
        return f"{self.url}{path}" + (f"?{parts.query}" if parts.query else "")

    def start(self) -> LocalApi:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        log.info("REST API %s at %s (%d routes)", self.rest_api_id, self.url, len(self.routes))
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ requests

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, whether some resource has this path at all)."""
        known_path = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            known_path = True
            if route.method in (method, "ANY"):
                return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
        return None, {}, known_path

    def proxy_event(
        self,
        route: Route,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        client_ip: str,
        path_parameters: dict[str, str],
    ) -> dict[str, Any]:
        """The REST API (v1) Lambda proxy event API Gateway would send for this request."""
        split = urlsplit(raw_path)
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        query = parse_qsl(split.query, keep_blank_values=True)
        query_single = dict(query) or None
        query_multi: dict[str, list[str]] = {}
        for k, v in query:
            query_multi.setdefault(k, []).append(v)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        request_id = str(uuid.uuid4())
        now = time.time()
        return {
            "resource": route.resource,
            "path": unquote(split.path),
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": query_single,
            "multiValueQueryStringParameters": query_multi or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": self.rest_api_id,
                "resourceId": route.resource_id,
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/{STAGE}{split.path}",
                "stage": STAGE,
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "domainName": single.get("Host", "127.0.0.1"),
                "identity": {"sourceIp": client_ip, "userAgent": single.get("User-Agent")},
            },
            "body": text if body else None,
            "isBase64Encoded": encoded,
        }

    def invoke(self, route: Route, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Invoke the integration; a failed or malformed invocation is API Gateway's 502."""
        response = self._lambda.invoke(FunctionName=route.function_arn, Payload=json.dumps(event).encode())
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            log.warning("%s %s: the function failed: %s", route.method, route.resource, payload[:500])
            return _json_error(502, "api_error", "Internal server error")
        try:
            result = json.loads(payload)
            status = int(result["statusCode"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s %s: malformed Lambda proxy response", route.method, route.resource)
            return _json_error(502, "api_error", "Internal server error")
        headers: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((name, str(value)))
        single_names = {n.lower() for n, _ in headers}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            if name.lower() in single_names:
                continue  # API Gateway merges both maps; a name in both would otherwise repeat
            headers += [(name, str(v)) for v in values]
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        return status, headers, data

    def static_file(self, path: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """A file under ``web/`` (index.html for directories), or None."""
        if self.web_root is None:
            return None
        relative = unquote(urlsplit(path).path).lstrip("/") or "index.html"
        target = (self.web_root / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        if self.web_root not in target.parents or not target.is_file():
            return None
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in {"application/javascript"}:
            content_type += "; charset=utf-8"
        return 200, [("Content-Type", content_type), *WEB_HEADERS.items()], target.read_bytes()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "LocalApiGateway"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.client_address[0], *args)

            def _body(self) -> bytes | None:
                """The request body, or None if it is larger than API Gateway accepts."""
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks, size = [], 0
                    while True:
                        length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if length == 0:
                            self.rfile.readline()
                            break
                        size += length
                        if size > MAX_PAYLOAD:
                            return None
                        chunks.append(self.rfile.read(length))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD:
                    return None
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                names = {n.lower() for n, _ in headers}
                for name, value in headers:
                    if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                        self.send_header(name, value)
                if "content-type" not in names and body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                method = self.command
                path = urlsplit(self.path).path
                route, parameters, known_path = api.match(method, path)
                body = self._body()
                if body is None:
                    self.close_connection = True
                    self._send(*_json_error(413, "body_too_large", "Request Too Long"))
                    return
                if route is None:
                    static = api.static_file(self.path) if method in {"GET", "HEAD"} and not known_path else None
                    # API Gateway's answer for a path or method it has no route for.
                    self._send(*(static or _json_error(403, "api_error", "Missing Authentication Token")))
                    return
                event = api.proxy_event(
                    route, method, self.path, list(self.headers.items()), body, self.client_address[0], parameters
                )
                try:
                    self._send(*api.invoke(route, event))
                except Exception:  # noqa: BLE001 - the local endpoint must answer like API Gateway, not hang up
                    log.exception("%s %s: invocation failed", method, route.resource)
                    self._send(*_json_error(502, "api_error", "Internal server error"))

            def __getattr__(self, name: str) -> Any:
                # Any method (TRACE, PROPFIND, ...) gets API Gateway's answer, not http.server's HTML 501.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

        return Handler


def _json_error(status: int, error: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    # The shape of the stack's gateway responses (infra/api.py), so clients parse one error format.
    body = json.dumps({"error": error, "message": message}).encode()
    return status, [("Content-Type", "application/json")], body
