"""``POST /v1/algo/{owner}/{algo}[/{version}]``: the call API (reference section 2).

This is the hot path, so it is a plain ASGI app: ``create_app`` sends ``/v1/algo/`` requests to it
before Starlette's middleware and router, and it reads headers, query and body straight from the
ASGI scope. No pydantic, no per-call log formatting, no database on a warm call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from modelport import fastjson
from modelport.algorithms.semver import parse_version_spec
from modelport.api.requests import TooLarge, collect_body, principal_for
from modelport.auth.errors import InvalidRequest, NotFound, ServiceError
from modelport.calls import DEFAULT_TIMEOUT, MAX_TIMEOUT

log = logging.getLogger("modelport.api.calls")

PREFIX = "/v1/algo/"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONTENT_TYPES = {
    "application/json": "json",
    "text/json": "json",
    "text/plain": "text",
    "application/text": "text",
    "application/octet-stream": "binary",
}
JSON_HEADERS = [(b"content-type", b"application/json")]
_background: set[asyncio.Task[Any]] = set()


_dumps = fastjson.dumps


def _options(query: dict[str, str], is_owner: bool) -> tuple[float, bool, str | None]:
    timeout = DEFAULT_TIMEOUT
    raw = query.get("timeout")
    if raw:
        try:
            timeout = float(raw)
        except ValueError:
            raise InvalidRequest(f"timeout must be a number of seconds (got {raw!r})") from None
        if not 0 < timeout <= MAX_TIMEOUT:
            raise InvalidRequest(f"timeout must be between 1 and {int(MAX_TIMEOUT)} seconds (got {raw})")
    stdout = query.get("stdout", "").lower() == "true" and is_owner  # only the owner sees output
    output = query.get("output")
    if output not in (None, "", "raw", "void", "default"):
        raise InvalidRequest(f"output must be raw or void (got {output!r})")
    return timeout, stdout, output or None


def _input(content_type: str | None, encoding: str | None, body: bytes) -> tuple[str, Any]:
    media = content_type.split(";", 1)[0].strip().lower() if content_type else "application/json"
    kind = CONTENT_TYPES.get(media)
    if kind is None:
        raise InvalidRequest(f"unsupported Content-Type {media!r}: use application/json, text/plain or "
                             "application/octet-stream", status=415)
    if kind == "binary":
        if encoding and encoding.lower() == "base64":
            try:
                body = base64.b64decode(body, validate=True)
            except binascii.Error:
                raise InvalidRequest("Content-Encoding is base64 but the body is not valid base64") from None
        return kind, body
    if kind == "json":
        if not body.strip():
            return kind, None
        try:
            return kind, fastjson.loads(body)
        except UnicodeDecodeError:
            pass  # reported below, as for text
        except ValueError as exc:
            raise InvalidRequest(f"input is not valid JSON ({exc}); send text as text/plain", code=2013) from None
        except RecursionError:
            raise InvalidRequest("input JSON is nested too deeply", code=2013) from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"input sent as {media} is not valid UTF-8; send bytes as application/octet-stream",
                             code=2013) from None
    return kind, text


def _split(path: str) -> tuple[str, str, str | None, str | None]:
    """(owner, algo, version text, algorithm id) from the path after /v1/algo/."""
    parts = path.strip("/").split("/")
    if len(parts) in (1, 2) and UUID_RE.match(parts[0]):
        return "", "", parts[1] if len(parts) == 2 else None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1], None, None
    if len(parts) == 3:
        return parts[0], parts[1], parts[2], None
    raise NotFound(f"no such algorithm path: {PREFIX}{path} (use {PREFIX}OWNER/ALGO[/VERSION])")


class CallEndpoint:
    """The call API as an ASGI app (see the module docstring)."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            status, headers, body = await self.handle(scope, receive)
        except ServiceError as exc:
            status, body = exc.status, _dumps({"error": {"code": exc.code, "message": exc.message}})
            headers = JSON_HEADERS + ([(b"www-authenticate", b'Simple realm="modelport"')] if status == 401 else [])
        except Exception:
            log.exception("call failed")
            status, headers = 500, JSON_HEADERS
            body = _dumps({"error": {"code": 5001, "message": "internal error; the server log has the details"}})
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def handle(self, scope: dict[str, Any], receive: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if scope["method"] != "POST":
            raise InvalidRequest("call algorithms with POST", status=405)
        headers = {k: v.decode("latin-1") for k, v in scope["headers"]
                   if k in (b"authorization", b"content-type", b"content-length", b"content-encoding")}
        platform = self.platform
        principal = await principal_for(platform.auth, headers.get(b"authorization"))
        owner, name, version_text, algorithm_id = _split(scope["path"][len(PREFIX):])
        if algorithm_id is not None:
            names = await run_in_threadpool(platform.algorithms.names_for_id, algorithm_id)
            if names is None:
                raise NotFound(f"No such algorithm with id {algorithm_id}", code=1009)
            owner, name = names
        spec = parse_version_spec(version_text)
        if spec is None:
            raise InvalidRequest(f"invalid version {version_text!r}: use X.Y.Z, X.Y.*, X.*, latest, latestPrivate "
                                 "or a 40-character commit hash")
        calls = platform.calls
        target = await calls.target(principal, owner, name, spec, version_text)
        is_owner = principal.username == target.owner or principal.is_admin
        raw_query = scope.get("query_string", b"")
        query = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
        timeout, want_stdout, output = _options(query, is_owner)
        body = await _read_body(receive, headers.get(b"content-length"), platform.settings.max_body_bytes)
        kind, data = _input(headers.get(b"content-type"), headers.get(b"content-encoding"), body)

        if output == "void":
            task = asyncio.get_running_loop().create_task(
                calls.call(principal, target, kind, data, timeout=timeout, want_stdout=False))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return 200, JSON_HEADERS, _dumps({"async": "void", "request_id": "req-" + uuid.uuid4().hex})

        outcome = await calls.call(principal, target, kind, data, timeout=timeout, want_stdout=want_stdout)
        if outcome.error is not None:
            error = dict(outcome.error)
            if is_owner or target.open_source:
                error["stack_trace"] = error.get("stacktrace", "")  # 2.0.5 reads stack_trace; others stacktrace
            else:
                error.pop("stacktrace", None)
            if output == "raw":
                return 400, JSON_HEADERS, _dumps({"error": error})
            metadata: dict[str, Any] = {"duration": outcome.duration}
            if want_stdout and outcome.stdout is not None:
                metadata["stdout"] = outcome.stdout
            return 200, JSON_HEADERS, _dumps({"error": error, "metadata": metadata})
        if output == "raw":
            if outcome.content_type == "text":
                return 200, [(b"content-type", b"text/plain; charset=utf-8")], outcome.result.encode()
            if outcome.content_type == "binary":
                return 200, [(b"content-type", b"application/octet-stream")], base64.b64decode(outcome.result)
            return 200, JSON_HEADERS, _dumps(outcome.result)
        metadata = {"content_type": outcome.content_type, "duration": outcome.duration}
        if want_stdout:
            metadata["stdout"] = outcome.stdout or ""
        return 200, JSON_HEADERS, _dumps({"result": outcome.result, "metadata": metadata})

    async def post(self) -> None:
        """
        summary: Call an algorithm
        description: >
          VERSION may be omitted or "latest" (latest public), X.Y.Z, X.Y.*, X.Y, X.*, latestPrivate, or the
          40-hex commit of a successful build (owner only). Body: application/json, text/plain or
          application/octet-stream. Query: timeout (seconds, default 300, max 3000), stdout=true (owner
          only), output=raw or output=void. Algorithm errors answer 200 with an "error" object.
        responses:
          200: {description: "{result, metadata: {content_type, duration}} or {error, metadata}"}
        """


async def _read_body(receive: Any, declared: str | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is {int(declared)} bytes; the limit is {limit} bytes")
    first = await receive()
    if first["type"] == "http.request" and not first.get("more_body"):  # the usual case: one message
        body: bytes = first.get("body", b"")
        if len(body) > limit:
            raise TooLarge(f"request body is over the limit of {limit} bytes")
        return body
    return await collect_body(_chunks(receive, first), None, limit)


async def _chunks(receive: Any, message: dict[str, Any]):  # type: ignore[no-untyped-def]
    while True:
        if message["type"] == "http.disconnect":
            raise InvalidRequest("the client disconnected before sending the whole body")
        yield message.get("body", b"")
        if not message.get("more_body"):
            return
        message = await receive()


def routes(endpoint: CallEndpoint) -> list[Route]:
    """Registered for the OpenAPI document; requests reach ``endpoint`` before routing."""
    return [Route(PREFIX + "{path:path}", endpoint, methods=["POST"])]
