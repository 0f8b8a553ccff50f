"""Find and follow the server's build of one exact commit.

Both loops poll with growing delays (Algorithmia's action re-requested the build list with no sleep at all)
and give up after a deadline with a message saying what was waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from modelport.ci.errors import BuildFailed, DeployError
from modelport.ci.progress import Progress
from modelport.cli.http import Api, ApiError

Build = dict[str, Any]


def delays(first: float = 0.1, factor: float = 1.5, cap: float = 2.0) -> Iterator[float]:
    """Seconds to sleep between polls: quick at first (a build usually appears at once), then capped."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, cap)


def builds_path(owner: str, algo: str) -> str:
    return f"/v1/algorithms/{owner}/{algo}/builds"


def recent_builds(api: Api, owner: str, algo: str, limit: int = 20) -> list[Build]:
    """The newest builds, newest first."""
    page = api.json("GET", builds_path(owner, algo), params={"limit": limit})
    return list(page.get("results") or [])


def find_build(api: Api, owner: str, algo: str, sha: str, *, ignore: set[str], timeout: float = 120.0,
               progress: Progress | None = None, sleep: Callable[[float], None] = time.sleep) -> Build:
    """The newest build of commit ``sha`` whose id is not in ``ignore`` (the builds that existed before the push)."""
    deadline = time.monotonic() + timeout
    for delay in delays():
        for build in recent_builds(api, owner, algo):
            if build.get("commit_sha") == sha and build.get("build_id") not in ignore:
                return build
        if time.monotonic() + delay > deadline:
            raise DeployError(f"no build of commit {sha} appeared within {timeout:g}s of the push",
                              hint="the server builds every push to master; check its log")
        if progress:
            progress.status(f"waiting for the build of {sha[:12]} to start…")
        sleep(delay)
    raise AssertionError("unreachable")


def wait_for_build(api: Api, owner: str, algo: str, build: Build, *, timeout: float = 1800.0,
                   progress: Progress | None = None, sleep: Callable[[float], None] = time.sleep) -> Build:
    """Poll until the build is no longer ``in-progress``; raise ``BuildFailed`` (with its log) unless it succeeded."""
    build_id = build["build_id"]
    start = time.monotonic()
    for delay in delays(first=0.2, cap=3.0):
        if build.get("status") != "in-progress":
            break
        elapsed = time.monotonic() - start
        if elapsed + delay > timeout:
            raise DeployError(f"build {build_id} still running after {timeout:g}s; gave up waiting",
                              hint="raise --build-timeout, or follow it with `modelport builds logs`")
        if progress:
            progress.status(f"building {build_id[:12]} ({build.get('commit_sha', '')[:12]})… {elapsed:.0f}s")
        sleep(delay)
        build = api.json("GET", f"{builds_path(owner, algo)}/{build_id}")
    if build.get("status") != "succeeded":
        raise BuildFailed(f"build {build_id} of commit {build.get('commit_sha', '')[:12]} {build.get('status')}",
                          log=build_log(api, owner, algo, build_id),
                          hint="fix the build (see its log above), commit and push again")
    return build


def build_log(api: Api, owner: str, algo: str, build_id: str) -> str:
    try:
        return str(api.json("GET", f"{builds_path(owner, algo)}/{build_id}/logs").get("logs") or "")
    except ApiError as exc:
        return f"(build log not available: {exc.message})"
