"""Algorithms run, and install their packages, under accounts of their own when the server runs as
root: their code cannot read the data dir (keys, database, hosted data, repositories) nor another
algorithm's build."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from modelport.runtime.accounts import INSTALLER_UID_OFFSET
from tests.support import Algo, Server, free_port, let_accounts_through, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="accounts of their own need a server running as root")

PROBE = """
import os


def attempt(path):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        return "read"
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"


def apply(paths):
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
            "paths": {path: attempt(path) for path in paths}}
"""


def test_algorithms_cannot_read_the_data_dir_or_each_other(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    first: Algo = new_algo("first")
    second: Algo = new_algo("second")
    # A requirement no other test has, so this algorithm's account builds the environment itself.
    first_sha = first.deploy(PROBE, requirements=f"six>=1.0.{secrets.randbelow(10**6)}\n")
    second_sha = second.deploy(PROBE)
    data = server.data_dir.resolve()
    seen_by_second = second.call([], version=second_sha).json()["result"]
    closed = [str(data / name) for name in ("secret.key", "modelport.db", "data", "repos", "logs")]
    r = first.call([*closed, seen_by_second["cwd"], str(data / "builds"), "/proc/1/environ"], version=first_sha)
    assert r.status_code == 200, r.text
    seen = r.json()["result"]
    assert seen["uid"] >= 200_000 and seen["gid"] == seen["uid"] and seen["groups"] == []
    assert seen_by_second["uid"] >= 200_000 and seen_by_second["uid"] != seen["uid"]
    for path in closed:
        assert seen["paths"][path] in ("denied", "missing"), (path, seen)
    assert seen["paths"][str(data / "secret.key")] == "denied"
    assert seen["paths"][seen_by_second["cwd"]] == "denied"  # another algorithm's checkout
    assert seen["paths"][str(data / "builds")] == "denied"  # no listing of builds
    assert seen["paths"]["/proc/1/environ"] in ("denied", "missing")
    # Its own checkout and home are its own; the environment (built under its account) is the server's.
    assert os.stat(seen["cwd"]).st_uid == seen["uid"]
    envs = [p for p in (data / "envs").iterdir() if not p.name.startswith(".")]
    assert envs and all(p.stat().st_uid == 0 and p.stat().st_mode & 0o777 == 0o755 for p in envs)
    installer = seen["uid"] + INSTALLER_UID_OFFSET  # its packages installed under an account of their own
    assert (data / "envs" / ".uv-cache" / f"uid-{installer}").stat().st_uid == installer


def test_isolation_on_refuses_to_start_when_accounts_cannot_reach_the_data_dir(tmp_path: Path) -> None:
    let_accounts_through(tmp_path / "closed")  # up to tmp_path: only "closed" keeps them out
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    env = {**os.environ, "MODELPORT_WORKER_ISOLATION": "on"}
    done = subprocess.run([sys.executable, "-m", "modelport", "server", "--port", str(free_port()),
                           "--data-dir", str(closed / "data")], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0
    assert f"{closed} does not let other accounts through" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "cannot isolate algorithms" in done.stderr


INSTALL_TIME = '''
import os, subprocess
from setuptools import setup

def attempt(path):
    try:
        open(path, "rb").read(1)
        return "read"
    except PermissionError:
        return "denied"

with open(os.path.join(REPORT, "report"), "w") as report:
    report.write(f"{os.getuid()} {attempt(SECRET)}")
# Left running after the install (its output elsewhere, or uv would wait for it).
subprocess.Popen(["sleep", "600"], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
setup(name="installtime", version="0.1", py_modules=[])
'''


def test_package_builds_run_under_their_own_account_and_are_stopped(server: Server, new_algo,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    """A requirement built from source runs its setup.py at install time: under the installer account,
    closed out of the data dir, and nothing it starts outlives the install."""
    report = Path(tempfile.mkdtemp(prefix="modelport-install-"))
    report.chmod(0o777)
    package = report / "installtime-0.1"
    package.mkdir()
    (package / "setup.py").write_text(
        f"REPORT = {str(report)!r}\nSECRET = {str(server.data_dir.resolve() / 'secret.key')!r}\n" + INSTALL_TIME)
    sdist = report / "installtime-0.1.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(package, arcname="installtime-0.1")
    sdist.chmod(0o644)
    try:
        algo: Algo = new_algo("installs")
        sha = algo.deploy(PROBE, requirements=f"installtime @ file://{sdist}\n")
        uid = algo.call([], version=sha).json()["result"]["uid"]
        installer, secret = (report / "report").read_text().split()
        assert int(installer) == uid + INSTALLER_UID_OFFSET and secret == "denied"
        leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _uid_of(p) == int(installer)]
        assert leftovers == []
    finally:
        shutil.rmtree(report, ignore_errors=True)


def _uid_of(process: Path) -> int | None:
    """The uid of a live process (None for one that is gone, or dead and not yet reaped)."""
    try:
        fields = dict(line.split(":", 1) for line in (process / "status").read_text().splitlines() if ":" in line)
    except OSError:
        return None
    return None if fields["State"].split()[0] in ("Z", "X") else int(fields["Uid"].split()[0])


LINGERER = """
import os, subprocess


def apply(input):
    child = subprocess.Popen(["sleep", "600"], start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return child.pid
"""


def test_deleting_an_algorithm_stops_what_it_left_running(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo("lingers")
    sha = algo.deploy(LINGERER)
    pid = algo.call(None, version=sha).json()["result"]
    process = Path(f"/proc/{pid}")
    assert _uid_of(process) is not None and _uid_of(process) >= 200_000  # it outlives the call
    with server.client() as c:
        assert c.delete(f"/v1/algorithms/admin/{algo.name}").status_code == 204
    wait_until(lambda: _uid_of(process) is None, timeout=10)
