"""``POST /v1/algo/{owner}/{algo}[/{version}]``: the call API (reference section 2).

Kept lean on purpose: no pydantic, no per-call log formatting, no database on a warm call.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.algorithms.semver import parse_version_spec
from modelport.api.requests import authenticate, read_body
from modelport.auth.errors import InvalidRequest, NotFound
from modelport.calls import DEFAULT_TIMEOUT, MAX_TIMEOUT

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONTENT_TYPES = {
    "application/json": "json",
    "text/json": "json",
    "text/plain": "text",
    "application/text": "text",
    "application/octet-stream": "binary",
}
_background: set[asyncio.Task[Any]] = set()


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), status,
                    media_type="application/json")


def _options(request: Request, is_owner: bool) -> tuple[float, bool, str | None]:
    q = request.query_params
    timeout = DEFAULT_TIMEOUT
    raw = q.get("timeout")
    if raw:
        try:
            timeout = float(raw)
        except ValueError:
            raise InvalidRequest(f"timeout must be a number of seconds (got {raw!r})") from None
        if not 0 < timeout <= MAX_TIMEOUT:
            raise InvalidRequest(f"timeout must be between 1 and {int(MAX_TIMEOUT)} seconds (got {raw})")
    stdout = (q.get("stdout") or "").lower() == "true" and is_owner  # only the owner sees output
    output = q.get("output")
    if output not in (None, "", "raw", "void", "default"):
        raise InvalidRequest(f"output must be raw or void (got {output!r})")
    return timeout, stdout, output or None


def _input(request: Request, body: bytes) -> tuple[str, Any]:
    raw_type = request.headers.get("content-type")
    media = raw_type.split(";", 1)[0].strip().lower() if raw_type else "application/json"
    kind = CONTENT_TYPES.get(media)
    if kind is None:
        raise InvalidRequest(f"unsupported Content-Type {media!r}: use application/json, text/plain or "
                             "application/octet-stream", status=415)
    if kind == "binary":
        if request.headers.get("content-encoding", "").lower() == "base64":
            body = base64.b64decode(body)
        return kind, body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"input sent as {media} is not valid UTF-8; send bytes as application/octet-stream",
                             code=2013) from None
    if kind == "text":
        return kind, text
    if not text.strip():
        return kind, None
    try:
        return kind, json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"input is not valid JSON ({exc}); send text as text/plain", code=2013) from None


def _split(path: str) -> tuple[str, str, str | None, str | None]:
    """(owner, algo, version text, algorithm id) from the path after /v1/algo/."""
    parts = path.strip("/").split("/")
    if len(parts) in (1, 2) and UUID_RE.match(parts[0]):
        return "", "", parts[1] if len(parts) == 2 else None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1], None, None
    if len(parts) == 3:
        return parts[0], parts[1], parts[2], None
    raise NotFound(f"no such algorithm path: /v1/algo/{path} (use /v1/algo/OWNER/ALGO[/VERSION])")


async def call_algorithm(request: Request) -> Response:
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
    platform = request.app.state.platform
    principal = await authenticate(request)
    owner, name, version_text, algorithm_id = _split(request.path_params["path"])
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
    timeout, want_stdout, output = _options(request, is_owner)
    body = await read_body(request, platform.settings.max_body_bytes)
    kind, data = _input(request, body)

    if output == "void":
        request_id = "req-" + uuid.uuid4().hex
        task = asyncio.get_running_loop().create_task(
            calls.call(principal, target, kind, data, timeout=timeout, want_stdout=False))
        _background.add(task)
        task.add_done_callback(_background.discard)
        return _json({"async": "void", "request_id": request_id})

    outcome = await calls.call(principal, target, kind, data, timeout=timeout, want_stdout=want_stdout)
    if outcome.error is not None:
        error = dict(outcome.error)
        if is_owner or target.open_source:
            error["stack_trace"] = error.get("stacktrace", "")  # 2.0.5 reads stack_trace; others stacktrace
        else:
            error.pop("stacktrace", None)
        if output == "raw":
            return _json({"error": error}, status=400)
        metadata: dict[str, Any] = {"duration": outcome.duration}
        if want_stdout and outcome.stdout is not None:
            metadata["stdout"] = outcome.stdout
        return _json({"error": error, "metadata": metadata})
    if output == "raw":
        if outcome.content_type == "text":
            return Response(outcome.result, media_type="text/plain; charset=utf-8")
        if outcome.content_type == "binary":
            return Response(base64.b64decode(outcome.result), media_type="application/octet-stream")
        return _json(outcome.result)
    metadata = {"content_type": outcome.content_type, "duration": outcome.duration}
    if want_stdout:
        metadata["stdout"] = outcome.stdout or ""
    return _json({"result": outcome.result, "metadata": metadata})


def routes() -> list[Route]:
    return [Route("/v1/algo/{path:path}", call_algorithm, methods=["POST"])]
