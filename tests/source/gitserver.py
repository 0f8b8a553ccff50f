"""Test helpers: a real git smart-HTTP server (GitHttpApp under uvicorn on 127.0.0.1) and a real git
client. A module of its own (not conftest) so test modules can import it unambiguously."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn

from modelport.source.githttp import RefUpdate
from modelport.source.repos import Identity, RepoStore

AUTHOR = Identity("Test Author", "author@example.com")


@dataclass
class Callbacks:
    """In-test stand-ins for the database: users, API keys, grants."""

    passwords: dict[str, str] = field(default_factory=lambda: {"alice": "alice-pw", "bob": "bob-pw"})
    keys: dict[str, str] = field(default_factory=dict)  # key -> username
    readers: set[tuple[str, str, str]] = field(default_factory=set)  # (user, owner, algo)
    public: set[tuple[str, str]] = field(default_factory=set)
    pushes: list[tuple[str, str, list[RefUpdate]]] = field(default_factory=list)

    def authenticate(self, username: str, password: str) -> str | None:
        if self.passwords.get(username) == password:
            return username
        return self.keys.get(password)

    async def authorize(self, principal: str | None, owner: str, algo: str, write: bool) -> bool:
        if principal == owner:
            return True
        if write:
            return False
        return (principal, owner, algo) in self.readers or (owner, algo) in self.public

    def on_push(self, owner: str, algo: str, updates: list[RefUpdate]) -> None:
        self.pushes.append((owner, algo, updates))


class RecordingApp:
    """Keeps the method, path and headers of every request, to check what git actually sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((scope["method"], scope["path"], headers))
        await self.app(scope, receive, send)


@dataclass
class GitServer:
    base: str
    repos: RepoStore
    callbacks: Callbacks
    app: RecordingApp

    def url(self, owner: str, algo: str, user: str | None = None, password: str | None = None) -> str:
        auth = ""
        if user is not None:
            auth = (
                quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "") + "@"
            )
        host = self.base.removeprefix("http://")
        return f"http://{auth}{host}/git/{owner}/{algo}.git"


def serve_asgi(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, thread


class Git:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def out(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(*args, cwd=cwd).stdout.strip()
