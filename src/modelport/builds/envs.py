"""Content-addressed cache of algorithm environments, built with uv.

Layout under `root`:

    <key>/                 finished virtualenvs; the name is the key, the directory is complete
    .tmp/<key>.<random>/   environments being built, renamed onto <key>/ only on success
    .locks/<key>.lock      flock(2) files: one builder per key across processes
    .users/<key>/<tag>     one empty file per user (build, version) of an environment
    .uv-cache/             uv's download and wheel cache (unless another is given)

The key hashes the interpreter (implementation, full version, machine) and the normalised
requirements, so a rebuild with the same requirements reuses the environment. Environments are
made with `uv venv --relocatable`, which is what lets them be built in .tmp and renamed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from modelport.builds._process import Log, base_env, run_command
from modelport.runtime.accounts import stop_everything, take_back

_META = ".modelport-env.json"
_UV_PASSTHROUGH = (
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_FIND_LINKS",
    "UV_NATIVE_TLS",
    "UV_INSECURE_HOST",
    "UV_OFFLINE",
    "UV_HTTP_TIMEOUT",
    "UV_CONCURRENT_DOWNLOADS",
)
_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(.*)$")
_OPERATORS = re.compile(r"\s*([<>=!~,;\[\]]+)\s*")
# Lines whose meaning depends on files next to requirements.txt: the key could not cover them.
_UNSUPPORTED = re.compile(r"^(-r|-c|-e|--requirement|--constraint|--editable|\.{0,2}/|file:)")


def _ignore(line: str) -> None:
    pass


class EnvBuildError(Exception):
    """The environment could not be built; the message says why, with uv's own error."""


class EnvNotFoundError(KeyError):
    pass


@dataclass(frozen=True)
class Env:
    key: str
    path: Path
    python: Path


def normalize_requirements(text: str) -> list[str]:
    """Requirement lines without comments, blank lines or insignificant whitespace, names in
    canonical form (lower case, `-` for `_`/`.`), sorted and de-duplicated.

    Raises EnvBuildError for lines that refer to other files (`-r`, `-c`, `-e`, local paths).
    """
    lines = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()  # "#" inside a URL (#egg=) is not a comment
        if not line:
            continue
        if _UNSUPPORTED.match(line):
            raise EnvBuildError(
                f"requirements.txt line {number}: {line!r} is not supported: environments are cached by the "
                "content of requirements.txt alone, so list packages (name, version or URL) directly"
            )
        line = " ".join(line.split())
        match = _NAME.match(line)
        if match and not line.startswith("-"):
            name, rest = match.groups()
            line = re.sub(r"[-_.]+", "-", name).lower() + _OPERATORS.sub(r"\1", rest).replace(";", "; ")
        lines.add(line)
    return sorted(lines)


class EnvCache:
    """Builds and caches environments; thread-safe, and safe across processes sharing `root`."""

    def __init__(
        self,
        root: Path,
        python: str,
        *,
        uv: str | None = None,
        uv_cache: Path | None = None,
        timeout: float = 1800.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """`python` is the interpreter environments are made from (name or path). `uv_cache`
        defaults to a cache inside `root`; pass the user's cache dir to share downloads.
        `extra_env` adds variables for uv, e.g. {"UV_INDEX_URL": ...}."""
        if uv is None:
            from uv import find_uv_bin

            uv = find_uv_bin()
        self.root = Path(root).resolve()
        self.uv = uv
        self.timeout = timeout
        self.python = shutil.which(python) or python
        self._tmp, self._lockdir, self._users = self.root / ".tmp", self.root / ".locks", self.root / ".users"
        for d in (self.root, self._tmp, self._lockdir, self._users, self.root / ".home"):
            d.mkdir(parents=True, exist_ok=True)
        self.uv_cache = Path(uv_cache) if uv_cache else self.root / ".uv-cache"
        self._env = base_env(
            self.root / ".home",
            UV_CACHE_DIR=str(self.uv_cache),
            UV_PYTHON_DOWNLOADS="never",  # use the interpreter we were given, never fetch one
            UV_NO_PROGRESS="1",
            NO_COLOR="1",
        )
        self._env.update({k: os.environ[k] for k in _UV_PASSTHROUGH if k in os.environ})
        self._env.update(extra_env or {})
        self.python_tag = self._python_tag()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._account_locks: dict[int, threading.Lock] = {}

    def _python_tag(self) -> str:
        code = "import platform as p, sys; print(sys.implementation.name, p.python_version(), p.machine())"
        try:
            out = subprocess.run(
                [self.python, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60
            ).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise EnvBuildError(f"cannot run Python interpreter {self.python!r}: {e}") from e
        return "-".join(out.split())

    # -- keys and lookups ----------------------------------------------------------------------

    def key(self, requirements: str | list[str], uid: int | None = None) -> str:
        """The environment's name. An environment an account builds is that account's alone (`uid` is in
        the key): code its install ran may have changed it, so no other algorithm may use it."""
        lines = normalize_requirements(requirements) if isinstance(requirements, str) else requirements
        owner = [] if uid is None else [f"account {uid}"]
        digest = hashlib.sha256("\n".join([self.python_tag, *owner, *lines]).encode())
        return digest.hexdigest()[:32]

    def _env_for(self, key: str) -> Env:
        path = self.root / key
        return Env(key, path, path / "bin" / "python")

    def get(self, key: str) -> Env | None:
        """The cached environment for `key`, or None."""
        if not re.fullmatch(r"[0-9a-f]{32}", key):
            return None
        env = self._env_for(key)
        return env if (env.path / _META).is_file() else None

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if re.fullmatch(r"[0-9a-f]{32}", p.name))

    # -- locking -------------------------------------------------------------------------------

    @contextmanager
    def _lock(self, key: str, blocking: bool = True) -> Iterator[bool]:
        """Thread lock, then flock: flock alone would block a whole thread pool on one file."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(blocking):
            yield False
            return
        try:
            with open(self._lockdir / f"{key}.lock", "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
        finally:
            lock.release()

    # -- building ------------------------------------------------------------------------------

    def ensure(self, requirements: str, log: Log = _ignore, *, user: str | None = None,
               uid: int | None = None) -> Env:
        """Return the environment for `requirements` (text of requirements.txt), building it if
        needed; every line uv prints goes to `log`. With `user`, the environment is marked used
        by that tag in the same locked step, so a concurrent gc() cannot remove it in between.
        With `uid`, uv runs under that account (an algorithm's, runtime/accounts.py), with a cache of
        its own, and the finished environment is handed back to the server, read-only for accounts.

        Raises EnvBuildError (message includes uv's error); a failed build leaves nothing cached.
        """
        lines = normalize_requirements(requirements)
        key = self.key(lines, uid)
        with self._lock(key):
            env = self.get(key)
            if env is None:
                env = self._build(key, lines, log, uid)
            else:
                log(f"using cached environment {key}")
            if user is not None:
                self._add_user(key, user)
        return env

    def _build(self, key: str, lines: list[str], log: Log, uid: int | None = None) -> Env:
        started = time.monotonic()
        for stale in self._tmp.glob(f"{key}.*"):  # left by a killed builder; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self._tmp / f"{key}.{secrets.token_hex(4)}"
        summary = ", ".join(lines) if lines else "no requirements"
        log(f"building environment {key} ({self.python_tag}; {summary})")
        env = self._env if uid is None else self._account_env(uid)
        if uid is not None:
            tmp.mkdir()
            os.chown(tmp, uid, uid)
        with self._account_lock(uid):  # one install at a time per account: it is stopped whole after each
            return self._install(key, lines, log, uid, env, tmp, started)

    def _install(self, key: str, lines: list[str], log: Log, uid: int | None, env: Mapping[str, str],
                 tmp: Path, started: float) -> Env:
        try:
            self._uv(
                log,
                env,
                uid,
                "venv",
                "--relocatable",
                "--no-project",
                "--no-config",
                "--quiet",
                "--python",
                self.python,
                str(tmp),
            )
            if lines:
                reqs = tmp / "modelport-requirements.txt"
                reqs.write_text("\n".join(lines) + "\n")
                if uid is not None:
                    os.chown(reqs, uid, uid)  # everything in the environment is the account's until take_back
                self._uv(
                    log,
                    env,
                    uid,
                    "pip",
                    "install",
                    "--no-config",
                    "--python",
                    str(tmp / "bin" / "python"),
                    "-r",
                    str(reqs),
                )
            if uid is not None:
                stop_everything(uid, self.python)  # nothing it started may go on writing into the environment
                tmp = self._out_of_reach(tmp)
                take_back(tmp, uid)
            meta = {"key": key, "python": self.python_tag, "requirements": lines, "created_at": time.time()}
            (tmp / _META).write_text(json.dumps(meta, indent=2) + "\n")
            os.rename(tmp, self.root / key)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if tmp.parent != self._tmp:  # the staging folder of _out_of_reach
                shutil.rmtree(tmp.parent, ignore_errors=True)
        log(f"environment {key} ready in {time.monotonic() - started:.1f}s")
        return self._env_for(key)

    def _out_of_reach(self, tmp: Path) -> Path:
        """Move an environment an account built into a folder only the server can enter."""
        staging = self._tmp / f".staging-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o700)
        os.rename(tmp, staging / tmp.name)
        return staging / tmp.name

    def _account_env(self, uid: int) -> dict[str, str]:
        """uv's environment for an account: a cache and a home of its own, so one algorithm's build
        cannot plant files that another's uses."""
        own = {}
        for name in (".uv-cache", ".home"):
            folder = self.root / name / f"uid-{uid}"
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, uid, uid)
            os.chmod(folder, 0o700)
            own[name] = str(folder)
        # Copies, not hard links into the cache: the environment must hold only files of its own.
        return {**self._env, "UV_CACHE_DIR": own[".uv-cache"], "HOME": own[".home"], "UV_LINK_MODE": "copy"}

    @contextmanager
    def _account_lock(self, uid: int | None) -> Iterator[None]:
        if uid is None:
            yield
            return
        with self._guard:
            lock = self._account_locks.setdefault(uid, threading.Lock())
        with lock:
            yield

    def _uv(self, log: Log, env: Mapping[str, str], uid: int | None, *args: str) -> None:
        result = run_command([self.uv, *args], log=log, env=env, cwd=self.root, timeout=self.timeout, uid=uid)
        if result.timed_out:
            raise EnvBuildError(f"uv {args[0]} took longer than {self.timeout:.0f}s and was stopped")
        if result.returncode != 0:
            raise EnvBuildError(
                f"uv {' '.join(args[:2])} failed (exit code {result.returncode}):\n{result.output}"
            )

    # -- usage and garbage collection ----------------------------------------------------------

    def _add_user(self, key: str, tag: str) -> None:
        if not tag:
            raise ValueError("empty user tag")
        directory = self._users / key
        directory.mkdir(exist_ok=True)
        (directory / quote(tag, safe="")).touch()

    def mark_used(self, key: str, user: str) -> None:
        """Record that `user` (a tag such as "<owner>/<algo>/<build_id>") uses environment `key`."""
        with self._lock(key):
            if self.get(key) is None:
                raise EnvNotFoundError(key)
            self._add_user(key, user)

    def release(self, user: str, *, prefix: bool = False) -> None:
        """Forget `user` on every environment; with prefix=True every tag starting with `user`
        (e.g. release("alice/hello/", prefix=True) when the algorithm is deleted)."""
        for f in self._users.glob("*/*"):  # a glob, not iterdir(): gc() may remove directories meanwhile
            tag = unquote(f.name)
            if tag == user or (prefix and tag.startswith(user)):
                f.unlink(missing_ok=True)

    def users(self, key: str) -> set[str]:
        directory = self._users / key
        return {unquote(f.name) for f in directory.iterdir()} if directory.is_dir() else set()

    def gc(self) -> list[str]:
        """Remove environments no user holds, and leftovers of killed builds; returns removed
        keys. Environments being built or used by a running ensure() are skipped."""
        removed = []
        for key in self.keys():
            with self._lock(key, blocking=False) as locked:
                if locked and not self.users(key):
                    trash = self._tmp / f"{key}.gc-{secrets.token_hex(4)}"
                    os.rename(self.root / key, trash)  # out of sight first: never a half env
                    shutil.rmtree(trash, ignore_errors=True)
                    shutil.rmtree(self._users / key, ignore_errors=True)
                    removed.append(key)
        for stale in self._tmp.iterdir():
            with self._lock(stale.name.split(".")[0], blocking=False) as locked:
                if locked:
                    shutil.rmtree(stale, ignore_errors=True)
        return removed
