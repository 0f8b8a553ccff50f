"""Shared by the benchmarks: start a real modelport server and deploy an algorithm to it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import Server, free_port, start_server


def start(env: dict[str, str] | None = None) -> tuple[Server, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    return start_server(tmp / "data", env={"MODELPORT_LOG_LEVEL": "warning", **(env or {})}), tmp


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def create_and_clone(server: Server, tmp: Path, name: str) -> Path:
    with server.client() as c:
        c.post("/v1/algorithms/admin", json={"name": name}).raise_for_status()
    url = server.url.replace("http://", f"http://admin:{quote(server.admin_key, safe='')}@") + f"/git/admin/{name}.git"
    git(tmp, "clone", "-q", url, name)
    return tmp / name


def push(checkout: Path, name: str, code: str, requirements: str = "") -> str:
    (checkout / "src" / f"{name}.py").write_text(textwrap.dedent(code))
    (checkout / "requirements.txt").write_text(requirements)
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "--allow-empty", "-m", "bench")
    git(checkout, "push", "-q", "origin", "HEAD:master")
    return git(checkout, "rev-parse", "HEAD").strip()


def wait_build(server: Server, name: str, sha: str, timeout: float = 600) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    with server.client() as c:
        while time.monotonic() < deadline:
            for b in c.get(f"/v1/algorithms/admin/{name}/builds", params={"limit": 5}).json()["results"]:
                if b["commit_sha"] == sha and b["status"] != "in-progress":
                    return b
            time.sleep(0.01)
    raise TimeoutError(f"build of {sha} did not finish")


__all__ = ["create_and_clone", "free_port", "httpx", "push", "start", "wait_build"]
