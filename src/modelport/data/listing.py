"""Paging markers and timestamps of directory listings (`GET /v1/data/<owner>[/<collection>]`).

A page holds at most PAGE_SIZE entries sorted by name (code point order: SQLite's BINARY collation,
`COLLATE "C"` on PostgreSQL). When more remain, the response carries `marker = encode_marker(last
name on the page)`, and the next request lists the names greater than `decode_marker(marker)`.
"""

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime

from modelport.data.errors import InvalidMarker

PAGE_SIZE = 1000
LAST_MODIFIED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_VERSION = 1
_TAG_BYTES = 16
_PASS_BACK = "pass back the marker of the previous page unchanged"
_MALFORMED = "marker is malformed: " + _PASS_BACK


def encode_marker(last_name: str, *, secret: bytes, scope: str = "") -> str:
    """An opaque, URL-safe marker resuming a listing after `last_name`.

    `scope` names the listing (e.g. "alice/models") so a marker cannot be replayed on another one.
    """
    payload = json.dumps({"v": _VERSION, "after": last_name, "scope": scope}, separators=(",", ":"))
    body = _b64encode(payload.encode("utf-8"))
    return f"{body}.{_b64encode(_tag(body, secret))}"


def decode_marker(marker: str, *, secret: bytes, scope: str = "") -> str:
    """The name a listing resumes after; raises InvalidMarker if `marker` was not issued for this listing."""
    if not isinstance(marker, str) or not marker.isascii():
        raise InvalidMarker(_MALFORMED)
    body, _, tag = marker.partition(".")
    try:
        expected = _b64decode(tag)
    except ValueError:
        raise InvalidMarker(_MALFORMED) from None
    if not hmac.compare_digest(expected, _tag(body, secret)):
        raise InvalidMarker("marker was not issued by this server: " + _PASS_BACK)
    try:
        data = json.loads(_b64decode(body))
        version, after, marker_scope = data["v"], data["after"], data["scope"]
    except (ValueError, TypeError, KeyError):
        raise InvalidMarker(_MALFORMED) from None
    if version != _VERSION or not isinstance(after, str):
        raise InvalidMarker(
            "marker is from an incompatible server version: restart the listing without a marker"
        )
    if marker_scope != scope:
        raise InvalidMarker("marker belongs to another listing: restart the listing without a marker")
    return after


def format_last_modified(moment: datetime) -> str:
    """`2016-01-06T00:52:34.000Z`: UTC, milliseconds, literal Z, as the Python client's strptime needs.

    A naive datetime is taken to be UTC already (what SQLite gives back).
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def _tag(body: str, secret: bytes) -> bytes:
    if not secret:
        raise ValueError("the marker secret must not be empty")
    mac = hmac.new(secret, b"modelport-listing-marker:" + body.encode("ascii"), hashlib.sha256)
    return mac.digest()[:_TAG_BYTES]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError(str(error)) from None
