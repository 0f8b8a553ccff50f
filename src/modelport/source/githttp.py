"""Git smart HTTP for algorithm repositories: a plain ASGI app that runs `git http-backend` (CGI).

    /git/<owner>/<algo>.git/info/refs?service=git-upload-pack|git-receive-pack   (GET)
    /git/<owner>/<algo>.git/git-upload-pack | git-receive-pack                    (POST)

Request and response bodies are streamed through pipes with backpressure, so a large push costs
a few pipe buffers of memory, never the size of the pack. Chunked request bodies (git sends them
above `http.postBuffer`, 1 MiB) are passed on without CONTENT_LENGTH, and http-backend then reads
stdin to EOF; gzip request bodies are inflated by http-backend itself (HTTP_CONTENT_ENCODING).

Which refs a push updated comes from a post-receive hook that appends git's exact
`<old> <new> <ref>` lines to a per-request file, so `on_push` sees exactly the updates that were
applied (rejected ones excluded), even with concurrent pushes to one repository. Hooks are set with
`core.hooksPath` through the environment, so every repository gets them without per-repo files.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import parse_qs

from modelport.source._git import ZERO_SHA, git_env
from modelport.source.repos import RepoStore

logger = logging.getLogger("modelport.source.githttp")

Scope: TypeAlias = dict[str, Any]
Message: TypeAlias = dict[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

#: Pushes to these refs build (reference 3.6 says master; repositories made with `main` exist too).
BUILD_BRANCHES = ("refs/heads/master", "refs/heads/main")

_CHUNK = 64 * 1024
_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?P<algo>[A-Za-z0-9][A-Za-z0-9_-]*)(?:\.git)?"
    r"/(?P<rest>info/refs|git-upload-pack|git-receive-pack|HEAD)$"
)

_PRE_RECEIVE = """\
#!/bin/sh
# modelport: refuse to delete the default branch (clones would get no checkout).
head=$(git symbolic-ref -q HEAD)
status=0
while read -r old new ref; do
    case "$new" in
        *[!0]*) ;;
        *) if [ "$ref" = "$head" ]; then
               echo "modelport: $ref is the default branch and cannot be deleted" >&2
               status=1
           fi ;;
    esac
done
exit $status
"""

_POST_RECEIVE = """\
#!/bin/sh
# modelport: hand the refs this push updated to the server, one "<old> <new> <ref>" per line.
if [ -n "$MODELPORT_PUSH_LOG" ]; then cat >> "$MODELPORT_PUSH_LOG"; else cat > /dev/null; fi
"""


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old: str
    new: str

    @property
    def created(self) -> bool:
        return self.old == ZERO_SHA

    @property
    def deleted(self) -> bool:
        return self.new == ZERO_SHA

    @property
    def is_build_branch(self) -> bool:
        return self.ref in BUILD_BRANCHES


class Access(Enum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"


# Callbacks may be plain functions (run in a thread: they may hash passwords or hit the database)
# or coroutine functions (awaited on the event loop).
Authenticate: TypeAlias = Callable[[str, str], Any]
"""(username, password) -> principal or None; the password may be an account password or API key."""
Authorize: TypeAlias = Callable[[Any, str, str, bool], Any]
"""(principal or None for anonymous, owner, algo, write) -> Access or bool."""
OnPush: TypeAlias = Callable[[str, str, list[RefUpdate]], Any]
"""(owner, algo, updates) after a push applied at least one update; before git sees the response end."""


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    return await result if inspect.isawaitable(result) else result


def _basic_credentials(headers: dict[bytes, bytes]) -> tuple[str, str] | None:
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


class GitHttpApp:
    """ASGI app serving `<prefix>/<owner>/<algo>.git/...` from a RepoStore.

    `prefix` is matched after the scope's root_path: mounted with Starlette's `Mount("/git", app)`,
    pass `prefix=""`. Anonymous requests are served only if `authorize(None, ...)` allows them;
    otherwise they get 401 with a Basic challenge, so git asks for credentials. With credentials:
    bad ones 401, unknown repository 404, not allowed 403.
    """

    def __init__(
        self,
        repos: RepoStore,
        *,
        authenticate: Authenticate,
        authorize: Authorize,
        on_push: OnPush | None = None,
        prefix: str = "/git",
        realm: str = "modelport",
        git: str = "git",
    ) -> None:
        self.repos = repos
        self.authenticate = authenticate
        self.authorize = authorize
        self.on_push = on_push
        self.prefix = prefix.rstrip("/")
        self.realm = realm
        exec_path = subprocess.run([git, "--exec-path"], capture_output=True, text=True, check=True).stdout
        self.backend = str(Path(exec_path.strip()) / "git-http-backend")
        self._work = repos.root / ".githttp"
        self._hooks = self._work / "hooks"
        self._install_hooks()

    def _install_hooks(self) -> None:
        self._hooks.mkdir(parents=True, exist_ok=True)
        for name, text in (("pre-receive", _PRE_RECEIVE), ("post-receive", _POST_RECEIVE)):
            path = self._hooks / name
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o755)
            os.replace(tmp, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # standalone under uvicorn: nothing to start or stop
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        match = _PATH.match(path[len(self.prefix) :]) if path.startswith(self.prefix + "/") else None
        if match is None:
            return await _respond(send, 404, b"Not found\n")
        owner, algo, rest = match["owner"], match["algo"], match["rest"]
        query = scope.get("query_string", b"").decode("latin-1")
        services = parse_qs(query).get("service", [""]) if rest == "info/refs" else [rest]
        if len(services) != 1:  # git http-backend reads the last one: never check one and serve another
            return await _respond(send, 400, b"one service parameter, please\n")
        service = services[0]
        write = service == "git-receive-pack"
        headers = dict(scope["headers"])

        credentials = _basic_credentials(headers)
        principal = None
        if credentials is not None:
            principal = await _call(self.authenticate, *credentials)
            if principal is None:
                return await self._challenge(send)
        access = Access.NOT_FOUND
        if self.repos.exists(owner, algo):
            result = await _call(self.authorize, principal, owner, algo, write)
            access = result if isinstance(result, Access) else Access.ALLOWED if result else Access.FORBIDDEN
        if access is not Access.ALLOWED:
            if principal is None:
                return await self._challenge(send)
            if access is Access.NOT_FOUND:
                return await _respond(send, 404, f"Repository {owner}/{algo} not found\n".encode())
            return await _respond(
                send, 403, f"Not allowed to {'push to' if write else 'read'} {owner}/{algo}\n".encode()
            )

        env = git_env(
            self.repos.home,
            {
                "core.hooksPath": str(self._hooks),
                # Enabled explicitly: by default http-backend only allows receive-pack with REMOTE_USER.
                "http.receivepack": "true",
                "http.uploadpack": "true",
            },
            GIT_PROJECT_ROOT=str(self.repos.root),
            GIT_HTTP_EXPORT_ALL="1",
            GATEWAY_INTERFACE="CGI/1.1",
            SERVER_PROTOCOL="HTTP/1.1",
            REQUEST_METHOD=scope["method"],
            PATH_INFO=f"/{owner}/{algo}.git/{rest}",
            QUERY_STRING=query,
            REMOTE_ADDR=(scope.get("client") or ("", 0))[0],
            CONTENT_TYPE=headers.get(b"content-type", b"").decode("latin-1"),
        )
        if credentials is not None:
            env["REMOTE_USER"] = credentials[0]
        if b"content-length" in headers:
            env["CONTENT_LENGTH"] = headers[b"content-length"].decode("latin-1")
        for header, var in (
            (b"content-encoding", "HTTP_CONTENT_ENCODING"),
            (b"git-protocol", "GIT_PROTOCOL"),
        ):
            if header in headers:
                env[var] = headers[header].decode("latin-1")

        push_log = None
        if rest == "git-receive-pack":
            fd, push_log = tempfile.mkstemp(prefix="push-", dir=self._work)
            os.close(fd)
            env["MODELPORT_PUSH_LOG"] = push_log
        try:
            await self._run_backend(env, receive, send, lambda: self._after_push(owner, algo, push_log))
        finally:
            if push_log:
                os.unlink(push_log)

    async def _challenge(self, send: Send) -> None:
        await _respond(
            send,
            401,
            b"Authentication required\n",
            [(b"www-authenticate", f'Basic realm="{self.realm}"'.encode())],
        )

    async def _after_push(self, owner: str, algo: str, push_log: str | None) -> None:
        if push_log is None or self.on_push is None:
            return
        text = await asyncio.to_thread(Path(push_log).read_text, "ascii")
        updates = [RefUpdate(ref, old, new) for old, new, ref in (line.split() for line in text.splitlines())]
        if not updates:
            return
        try:
            await _call(self.on_push, owner, algo, updates)
        except Exception:  # the push is done and cannot be undone: report, don't fail the response
            logger.exception("on_push failed for %s/%s", owner, algo)

    async def _run_backend(
        self, env: dict[str, str], receive: Receive, send: Send, after: Callable[[], Awaitable[None]]
    ) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.backend,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.repos.root,
        )
        assert proc.stdin and proc.stdout and proc.stderr
        feeder = asyncio.create_task(_feed(receive, proc.stdin))
        stderr = asyncio.create_task(_tail(proc.stderr))
        try:
            try:
                head = await proc.stdout.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                await proc.wait()
                logger.error("git http-backend sent no headers: %s", (await stderr).decode(errors="replace"))
                return await _respond(send, 500, b"git http-backend failed\n")
            status, headers = _parse_cgi_head(head)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            while chunk := await proc.stdout.read(_CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await feeder
            if await proc.wait() != 0:
                logger.warning(
                    "git http-backend exited %s: %s", proc.returncode, (await stderr).decode(errors="replace")
                )
            await after()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            feeder.cancel()
            stderr.cancel()


async def _feed(receive: Receive, stdin: asyncio.StreamWriter) -> None:
    """Copy the request body to the backend, waiting for the pipe to drain before reading more,
    so a slow backend slows the client instead of filling memory."""
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            if body := message.get("body"):
                stdin.write(body)
                await stdin.drain()
            if not message.get("more_body"):
                break
    except (BrokenPipeError, ConnectionResetError):
        pass  # the backend stopped reading; its response says why
    finally:
        stdin.close()


async def _tail(stream: asyncio.StreamReader, limit: int = 16 * 1024) -> bytes:
    data = b""
    while chunk := await stream.read(_CHUNK):
        data = (data + chunk)[-limit:]
    return data


def _parse_cgi_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    status, headers = 200, []
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if not name:
            continue
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
    return status, headers


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
