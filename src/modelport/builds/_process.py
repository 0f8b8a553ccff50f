"""One place that runs build subprocesses and streams their output."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Log = Callable[[str], None]

# Variables a build tool may legitimately need from the server's environment (proxies, CA
# certificates, locale). Everything else, secrets included, stays out.
_PASSTHROUGH = (
    "PATH",
    "LANG",
    "TMPDIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def base_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["HOME"] = str(home)
    env.update(extra)
    return env


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    tail: list[str]
    timed_out: bool

    @property
    def output(self) -> str:
        return "\n".join(self.tail)


def run_command(
    args: Sequence[str],
    *,
    log: Log,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float | None = None,
    tail: int = 40,
    uid: int | None = None,
) -> CommandResult:
    """Run `args` with stdout and stderr merged, sending each line to `log` as it comes; keep
    the last `tail` lines for the error message. Killed after `timeout` seconds. With `uid`, it runs
    under that account."""
    lines: deque[str] = deque(maxlen=tail)
    timed_out = threading.Event()
    with subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,  # no controlling terminal to type into
        # An algorithm's own account (runtime/accounts.py), gid alike; None: the server's.
        user=uid,
        group=uid,
        extra_groups=None if uid is None else [],
    ) as proc:

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
                lines.append(line)
                log(line)
            returncode = proc.wait()
        finally:
            if timer:
                timer.cancel()
            if proc.poll() is None:  # log() raised: don't leave the child running
                proc.kill()
    return CommandResult(returncode, list(lines), timed_out.is_set())
