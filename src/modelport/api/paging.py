"""Paged lists ``{"marker", "next_link", "results"}`` with opaque, tamper-evident markers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from modelport.auth.errors import InvalidRequest

MAX_LIMIT = 1000


def sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(payload.encode() + b"." + mac).decode().rstrip("=")


def unsign(secret: bytes, marker: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4))
        payload, _, mac = raw.rpartition(b".")
        expected = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
        if payload and hmac.compare_digest(mac, expected):
            return payload.decode()
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidRequest("invalid marker: pass back the marker of a previous page unchanged", code=5002)


def page_params(request: Request, default_limit: int = 50) -> tuple[int, int]:
    """(offset, limit) from ``?limit=&marker=``; errors 5003 and 5002 as Algorithmia's API."""
    raw_limit = request.query_params.get("limit")
    limit = default_limit
    if raw_limit not in (None, ""):
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise InvalidRequest(f"invalid limit {raw_limit!r}: use a number from 1 to {MAX_LIMIT}", code=5003)
        limit = int(raw_limit)
    marker = request.query_params.get("marker")
    offset = 0
    if marker:
        payload = unsign(request.app.state.platform.secret, marker)
        if not payload.startswith("o:") or not payload[2:].isdigit():
            raise InvalidRequest("invalid marker", code=5002)
        offset = int(payload[2:])
    return offset, limit


def paged(request: Request, results: list[Any], offset: int, limit: int, more: bool) -> dict[str, Any]:
    if not more:
        return {"marker": None, "next_link": None, "results": results}
    marker = sign(request.app.state.platform.secret, f"o:{offset + limit}")
    params = dict(request.query_params) | {"marker": marker, "limit": str(limit)}
    next_link = str(request.url.replace(query=urlencode(params)))
    return {"marker": marker, "next_link": next_link, "results": results}
