"""Operating-system accounts of their own for algorithms, when the server can give them (it runs as root).

Each algorithm gets a uid, with a gid of the same number, above MODELPORT_WORKER_UID_BASE, kept in
the database and never reused (AlgorithmService.worker_uid). Its workers and its package installs run
under it. The data dir is closed to these accounts: algorithm code, and the packages it installs,
cannot read the keys, the database, other users' data and code, or touch another algorithm's
processes. What an account may read: its own builds, the shared environments (read-only), the runner.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("modelport.accounts")

# Installer accounts (installer_account) sit this far above the worker accounts.
INSTALLER_UID_OFFSET = 1_000_000

# Where the data dir lets an algorithm account in, and how far.
_CLOSED = ("data", "repos", "logs", "secret.key")
_PASSABLE = ("builds", "envs", "envs/.tmp", "envs/.uv-cache", "envs/.home")


class IsolationUnavailable(RuntimeError):
    """Isolation was asked for (MODELPORT_WORKER_ISOLATION=on) and cannot be given; the message says why."""


def isolation_mode(value: str) -> str:
    """MODELPORT_WORKER_ISOLATION, checked: "auto", "on" or "off"."""
    mode = value.strip().lower()
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"MODELPORT_WORKER_ISOLATION must be auto, on or off, not {value!r}")
    return mode


def isolation_wanted(mode: str) -> bool:
    """Whether to isolate algorithms in `mode` (from isolation_mode) as this process runs."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if mode == "on" and not root:
        raise IsolationUnavailable("MODELPORT_WORKER_ISOLATION=on needs the server to run as root, to switch "
                                   "algorithm processes to accounts of their own")
    return mode != "off" and root


def require_reachable(folder: Path) -> None:
    """Raise IsolationUnavailable unless every folder above `folder` lets other accounts through (the
    server sets `folder`'s own mode itself)."""
    for path in reversed(folder.resolve().parents):
        if not os.stat(path).st_mode & 0o001:
            raise IsolationUnavailable(f"{path} does not let other accounts through to the data dir "
                                       f"(chmod o+x {path})")


def can_run(python: str, uid: int) -> bool:
    """Whether `uid` can start `python` (every folder on its path must let it through)."""
    try:
        done = subprocess.run([python, "-I", "-c", "pass"], user=uid, group=uid, extra_groups=[], check=False,
                              start_new_session=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                              cwd="/")
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def interpreter_for_accounts(configured: str, probe_uid: int) -> str:
    """The interpreter environments are made from, one that algorithm accounts can run.

    An explicit MODELPORT_PYTHON must be runnable; by default the server's own, or else the system's
    Python of the same version (a server installed under /root, as pyenv does, is out of their reach).
    """
    if configured:
        python = shutil.which(configured) or configured
        if not can_run(python, probe_uid):
            raise IsolationUnavailable(
                f"algorithm accounts cannot run MODELPORT_PYTHON={configured}: give it a Python every account "
                "can reach (not under /root), or set MODELPORT_WORKER_ISOLATION=off")
        return python
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, f"/usr/local/bin/{version}", f"/usr/bin/{version}", "/usr/bin/python3"]
    for python in candidates:
        if os.path.exists(python) and can_run(python, probe_uid):
            if python != sys.executable:
                log.info("algorithm environments use %s: algorithm accounts cannot run %s", python,
                         sys.executable)
            return python
    raise IsolationUnavailable(
        f"algorithm accounts can run none of {', '.join(candidates)}: set MODELPORT_PYTHON to a Python every "
        "account can reach, or MODELPORT_WORKER_ISOLATION=off")


def close_data_dir(data_dir: Path) -> None:
    """Let algorithm accounts through the data dir only to their builds and the shared environments."""
    os.chmod(data_dir, 0o711)
    for name in _CLOSED:
        path = data_dir / name
        if path.exists():
            os.chmod(path, 0o600 if path.is_file() else 0o700)
    for path in data_dir.glob("modelport.db*"):
        os.chmod(path, 0o600)
    for name in _PASSABLE:
        if (data_dir / name).exists():
            os.chmod(data_dir / name, 0o711)
    for name in ("envs/.locks", "envs/.users"):
        if (data_dir / name).exists():
            os.chmod(data_dir / name, 0o700)


def publish(source: Path, folder: Path) -> Path:
    """A copy of `source` in `folder` that every account can read and run (the runner, uv): where the
    server is installed, under /root, may be out of their reach. Linked when it can be, else copied."""
    folder.mkdir(exist_ok=True)
    os.chmod(folder, 0o755)
    target = folder / source.name
    if target.exists() and _same_file(target, source):
        return target
    tmp = folder / f".{source.name}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)  # keeps the modification time _same_file compares
    os.chmod(tmp, 0o755 if os.access(source, os.X_OK) else 0o644)
    os.replace(tmp, target)
    return target


def _same_file(target: Path, source: Path) -> bool:
    """The link itself, or a copy of this version of `source` (same size and modification time)."""
    if os.path.samefile(target, source):
        return True
    a, b = target.stat(), source.stat()
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def hand_over(path: Path, uid: int) -> None:
    """Make `path` and everything under it belong to `uid` (its gid alike), unless it already does.

    `path` itself changes last, so a hand-over cut short is done again the next time."""
    if path.lstat().st_uid == uid:
        return
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
    os.chmod(path, 0o700)
    os.chown(path, uid, uid)


def installer_account(uid: int) -> int:
    """The account an algorithm's packages install under: not the one its workers run as, so that
    whatever an install leaves running can be stopped (stop_everything) without touching a worker."""
    return uid + INSTALLER_UID_OFFSET


def stop_everything(uid: int, python: str) -> None:
    """Kill every process of `uid`: kill(-1) from a process of that account (`python`, one it can run)
    reaches all of them but itself."""
    for _ in range(3):  # a process forking while the signal goes round can leave a child: again
        subprocess.run([python, "-I", "-S", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"],
                       user=uid, group=uid, extra_groups=[], check=False, stdin=subprocess.DEVNULL,
                       start_new_session=True,
                       capture_output=True, timeout=60, cwd="/")


def take_back(path: Path, uid: int) -> None:
    """Make `path` and everything under it the server's again and readable by every account: an
    environment that account `uid` built (its processes already stopped, `path` already moved where
    accounts cannot reach), about to be shared read-only.

    Everything in it must belong to `uid`: anything else got there some other way (a hard link to a
    file of the server's, say), and the environment is refused. Files are changed through descriptors
    opened without following links, so nothing swapped in meanwhile leads the change elsewhere."""
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            _own_and_open(os.path.join(folder, name), uid)
    _own_and_open(str(path), uid)


def _own_and_open(path: str, uid: int) -> None:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        _check_owner(path, st, uid)
        os.chown(path, 0, 0, follow_symlinks=False)
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise PermissionError(f"{path} in a new environment is neither a file nor a folder: the environment "
                              "is refused")
    directory = os.O_DIRECTORY if stat.S_ISDIR(st.st_mode) else 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | directory)
    try:
        st = os.fstat(fd)
        _check_owner(path, st, uid)
        os.fchown(fd, 0, 0)
        mode = st.st_mode & 0o777 & ~0o022  # no set-id bits, nothing writable but by root
        if stat.S_ISDIR(st.st_mode) or mode & 0o100:
            mode |= 0o555
        os.fchmod(fd, mode | 0o444)
    finally:
        os.close(fd)


def _check_owner(path: str, st: os.stat_result, uid: int) -> None:
    if st.st_uid != uid:
        raise PermissionError(f"{path} in a new environment belongs to uid {st.st_uid}, not to the account that "
                              f"built it ({uid}): the environment is refused")
