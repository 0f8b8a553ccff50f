"""Upload a model file to a hosted data collection (reference 4.2), creating the collection when needed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx

from modelport.ci.errors import ConfigError, DeployError
from modelport.cli.http import Api, ApiError, error_message

_ATTEMPTS = 4


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def split_data_uri(uri: str) -> list[str]:
    """``data://owner/collection[/folder…]`` → its parts; ``ConfigError`` unless there are at least two."""
    parts = [p for p in uri.removeprefix("data://").strip("/").split("/") if p]
    if len(parts) < 2 or any(p in (".", "..") for p in parts) or parts[0] == ".my":
        raise ConfigError(f"upload path {uri!r}: expected data://OWNER/COLLECTION",
                          hint="for example data://$ALGORITHMIA_USERNAME/$ALGORITHMIA_ALGONAME")
    return parts


def ensure_folder(api: Api, parts: list[str]) -> None:
    """Create every missing level below the owner (Algorithmia's client created the collection the same way)."""
    for depth in range(2, len(parts) + 1):
        path = "/v1/data/" + "/".join(parts[:depth])
        response = api.request("GET", path)
        if response.status_code == 200:
            continue
        if response.status_code != 404:
            raise ApiError(response.status_code, f"{path}: {error_message(response)}")
        parent = "/v1/data/" + "/".join(parts[: depth - 1])
        api.json("POST", parent, json={"name": parts[depth - 1]})


def upload_file(api: Api, source: Path, parts: list[str], name: str) -> str:
    """PUT ``source`` as ``name`` in the folder ``parts``; returns its path without ``data://``.

    Streams the file; connection failures and 5xx are retried with backoff, reopening the file each time.
    """
    path = "/".join([*parts, name])
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with source.open("rb") as f:
                response = api.client.put(f"/v1/data/{path}", content=f,
                                          headers={"Content-Type": "application/octet-stream"},
                                          timeout=httpx.Timeout(600.0, connect=10.0))
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 300:
                return path
            problem = f"HTTP {response.status_code}: {error_message(response)}"
            if response.status_code < 500:
                break
        if attempt < _ATTEMPTS:
            time.sleep(min(2.0**attempt, 20.0))
    raise DeployError(f"could not upload {source} to data://{path}: {problem}",
                      hint="the key needs write access to data (allow_data_write)")
