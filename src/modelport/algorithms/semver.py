"""Semantic versions: parsing the forms callers use and bumping on publish."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

BUMPS = {"major", "minor", "revision", "patch"}  # "patch" is an alias of "revision"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_EXACT = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PARTIAL = re.compile(r"^(\d+)(?:\.(\d+|\*))?(?:\.\*)?$")


def bump(previous: tuple[int, int, int] | None, kind: str) -> tuple[int, int, int]:
    major, minor, patch = previous or (0, 0, 0)
    if kind == "major":
        return major + 1, 0, 0
    if kind == "minor":
        return major, minor + 1, 0
    return major, minor, patch + 1


@dataclass(frozen=True)
class VersionSpec:
    """What a caller asked for in ``/v1/algo/{owner}/{algo}/{version}``."""

    kind: str  # "latest" | "latest_private" | "exact" | "partial" | "hash"
    major: int | None = None
    minor: int | None = None
    patch: int | None = None
    sha: str | None = None


@lru_cache(maxsize=4096)  # on the call path; the same few version strings come again and again
def parse_version_spec(text: str | None) -> VersionSpec | None:
    """None when the text is not a version form Algorithmia accepts."""
    if text is None or text in ("", "latest"):
        return VersionSpec("latest")
    if text == "latestPrivate":
        return VersionSpec("latest_private")
    if SHA_RE.match(text):
        return VersionSpec("hash", sha=text)
    m = _EXACT.match(text)
    if m:
        return VersionSpec("exact", int(m[1]), int(m[2]), int(m[3]))
    m = _PARTIAL.match(text)
    if m:
        minor = None if m[2] in (None, "*") else int(m[2])
        if m[2] == "*" and text.count(".") > 1:
            return None  # "1.*.*" is not a form anyone sends; refuse rather than guess
        return VersionSpec("partial", int(m[1]), minor)
    return None
