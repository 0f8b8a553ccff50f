"""Request helpers shared by routes: authentication, bounded bodies, JSON, paging parameters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from modelport.auth.errors import InvalidRequest, ServiceError, Unauthenticated
from modelport.auth.keys import Principal
from modelport.auth.service import AuthService, parse_authorization


class TooLarge(ServiceError):
    status, code = 413, 2015


async def principal_for(auth: AuthService, header: str | None) -> Principal:
    """The caller behind an Authorization header; the database only on a cache miss."""
    key = parse_authorization(header)
    if key is None:
        raise Unauthenticated("authorization required: send an API key in the Authorization header")
    cached = auth.cached(key)
    if cached is not None:
        return cached
    return await _lookup(auth, key)


# Cache misses in flight, by service and key. The cache lives one second, so under load every key
# misses once a second in all its concurrent requests at once; they share one database lookup
# instead of each taking a thread and a query.
_lookups: dict[tuple[AuthService, str], asyncio.Future[Principal]] = {}


async def _lookup(auth: AuthService, key: str) -> Principal:
    slot = (auth, key)
    pending = _lookups.get(slot)
    if pending is None:
        pending = asyncio.ensure_future(run_in_threadpool(auth.authenticate, key))
        _lookups[slot] = pending
        pending.add_done_callback(lambda _: _lookups.pop(slot, None))
    return await asyncio.shield(pending)  # one caller going away must not cancel the others' lookup


async def authenticate(request: Request) -> Principal:
    return await principal_for(request.app.state.platform.auth, request.headers.get("authorization"))


async def collect_body(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """Read a whole body, refusing early (413) when it is, or grows, over ``limit`` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is {int(declared)} bytes; the limit is {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def read_body(request: Request, limit: int) -> bytes:
    return await collect_body(request.stream(), request.headers.get("content-length"), limit)


async def json_body(request: Request, *, allow_empty: bool = True) -> dict[str, Any]:
    """A JSON object body. Form-encoded bodies that are not JSON get a precise error (see reference 7.3)."""
    raw = await read_body(request, request.app.state.platform.settings.max_body_bytes)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not raw.strip():
        if allow_empty:
            return {}
        raise InvalidRequest("request body is empty; send a JSON object", code=2013)
    error: Exception | None = None
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        body, error = None, exc
    except RecursionError:
        body, error = None, ValueError("nested too deeply")
    if ctype == "application/x-www-form-urlencoded":
        # `curl -d '{"name": ...}'` (Algorithmia's own samples) labels JSON as a form: take it as JSON.
        if isinstance(body, dict):
            return body
        raise InvalidRequest(
            "request body is form-encoded, not JSON; nothing was changed. (algorithmia 2.0.5's "
            "Algorithm.update() sends only the field names this way: call the API with a JSON body instead, "
            "e.g. `modelport algo update` or requests.put(url, json=...))", status=415, code=2013)
    if ctype and ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
        raise InvalidRequest(f"unsupported Content-Type {ctype!r}: send application/json", status=415, code=2013)
    if error is not None:
        raise InvalidRequest(f"invalid JSON in request body: {error}", code=2013)
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, not {type(body).__name__}", code=2013)
    return body


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidRequest(f"query parameter {name!r} must be true or false (got {raw!r})")
