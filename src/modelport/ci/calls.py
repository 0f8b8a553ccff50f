"""One attempt at calling an algorithm over HTTP, classified the way the test runner needs it.

* HTTP 200 with ``result``: ``AlgorithmResult`` (binary results decoded from base64);
* HTTP 200 with ``error``: ``AlgorithmError``, the algorithm's own answer, never retried;
* no connection, a transport timeout, HTTP 5xx or 429 ("busy"): ``TransportError``, retried by the runner;
* any other HTTP error (401, 403, 404, ...): ``PlatformError``; retrying cannot fix a wrong key or name.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import httpx

from modelport.ci.runner import AlgorithmError, AlgorithmResult, Call, CallResult, TransportError


class PlatformError(Exception):
    """The platform refused the call (bad key, unknown algorithm or version)."""


def algorithm_path(owner: str, algo: str, version: str | None = None) -> str:
    return f"/v1/algo/{owner}/{algo}" + (f"/{version}" if version else "")


def encode_input(value: Any) -> tuple[bytes, str]:
    """Body and content type as Algorithmia's clients send them (reference 2.2)."""
    if isinstance(value, str):
        return value.encode(), "text/plain"
    if isinstance(value, bytes | bytearray):
        return bytes(value), "application/octet-stream"
    return json.dumps(value).encode(), "application/json"


def http_call(client: httpx.Client, path: str) -> Call:
    """A ``Call`` for ``run_cases`` posting to ``path`` with ``client`` (which carries the address and key)."""

    def call(case_input: Any, timeout: float) -> CallResult:
        body, content_type = encode_input(case_input)
        try:
            response = client.post(
                path,
                content=body,
                headers={"Content-Type": content_type},
                params={"timeout": max(1, math.ceil(timeout))},
                # the server gives up at ``timeout``; leave it time to say so before we do
                timeout=httpx.Timeout(timeout + 5, connect=min(10.0, timeout)),
            )
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc or 'no details'}") from None
        return classify(response)

    return call


def classify(response: httpx.Response) -> CallResult:
    status = response.status_code
    if status >= 500 or status == 429:
        raise TransportError(f"HTTP {status}: {_message(response)}", retry_after=_retry_after(response))
    if status >= 400:
        raise PlatformError(f"HTTP {status}: {_message(response)}")
    try:
        body = response.json()
    except ValueError:
        raise TransportError(f"HTTP {status} with a body that is not JSON: {response.text[:200]!r}") from None
    if not isinstance(body, dict):
        raise PlatformError(f"unexpected response (not a JSON object): {response.text[:200]!r}")
    if "error" in body:
        return _algorithm_error(body["error"])
    metadata = body.get("metadata") or {}
    result = body.get("result")
    if metadata.get("content_type") == "binary" and isinstance(result, str):
        result = base64.b64decode(result)
    return AlgorithmResult(result, metadata)


def _algorithm_error(error: Any) -> AlgorithmError:
    if not isinstance(error, dict):
        return AlgorithmError(str(error))
    # stack_trace is how Algorithmia's 2.x client spells it (reference 2.4)
    trace = error.get("stacktrace") or error.get("stack_trace")
    kind = error.get("error_type") or error.get("type")
    return AlgorithmError(str(error.get("message", "")), kind, trace)


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    except (ValueError, AttributeError):
        pass
    return response.text[:200] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers.get("Retry-After", "")), 60.0)
    except ValueError:
        return None
