"""`modelport data ls|cp|cat|mkdir|rm` against a real server."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from tests.support import Server


def test_data_commands_round_trip(server: Server, user: tuple[str, str], tmp_path: Path) -> None:
    name, key = user

    def mp(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return server.cli("data", *args, key=key, input=input)

    r = mp("mkdir", "data://.my/cli")
    assert r.returncode == 0, r.stderr
    r = mp("mkdir", "data://.my/cli")
    assert r.returncode == 1 and "already exists" in r.stderr
    assert mp("mkdir", "-p", "data://.my/cli").returncode == 0
    assert mp("mkdir", "--acl", "public", f"data://{name}/open").returncode == 0

    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(3 << 20))
    r = mp("cp", str(model), "data://.my/cli/")
    assert r.returncode == 0 and f"data://{name}/cli/model.bin" in r.stderr
    assert mp("cp", "-", "data://.my/cli/notes.txt", input="hello from stdin").returncode == 0

    assert mp("ls").stdout.split() == ["cli/", "open/"]
    assert mp("ls", "data://.my/cli").stdout.split() == ["model.bin", "notes.txt"]
    long = mp("ls", "-l", "data://.my/cli").stdout.splitlines()
    assert long[0].split()[0] == str(3 << 20) and long[0].split()[2] == "model.bin"
    listing = json.loads(mp("ls", "--json", "data://.my/cli").stdout)
    assert [f["filename"] for f in listing["files"]] == ["model.bin", "notes.txt"]
    assert mp("ls", "-l", "data://.my/cli/notes.txt").stdout.split()[0] == "16"
    acl = server.client(key).get(f"/v1/data/{name}/open", params={"acl": "true"}).json()["acl"]
    assert acl == {"read": ["user://*"]}

    assert mp("cat", "data://.my/cli/notes.txt").stdout == "hello from stdin"
    out = tmp_path / "downloads"
    out.mkdir()
    r = mp("cp", "data://.my/cli/model.bin", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "model.bin").read_bytes() == model.read_bytes()
    umask = os.umask(0o022)
    os.umask(umask)
    assert (out / "model.bin").stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file, not 0600
    r = mp("cp", "data://.my/cli/model.bin", str(out / "renamed.bin"))
    assert (out / "renamed.bin").read_bytes() == model.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["model.bin", "renamed.bin"]  # no temp files left

    r = mp("rm", "data://.my/cli")
    assert r.returncode == 1 and "is not empty" in r.stderr and "modelport data rm --force" in r.stderr
    assert mp("rm", "data://.my/cli/notes.txt").returncode == 0
    r = mp("cat", "data://.my/cli/notes.txt")
    assert r.returncode == 1 and "does not exist (HTTP 404)" in r.stderr
    r = mp("rm", "--force", "data://.my/cli")
    assert r.returncode == 0 and "(1 file)" in r.stderr
    assert mp("ls").stdout.split() == ["open/"]


def test_data_command_errors(server: Server, user: tuple[str, str], tmp_path: Path) -> None:
    _, key = user
    r = server.cli("data", "cp", "a", "b", key=key)
    assert r.returncode == 2 and "must be a data:// path" in r.stderr
    r = server.cli("data", "cp", str(tmp_path / "missing"), "data://.my/x/f", key=key)
    assert r.returncode == 1 and "no such file" in r.stderr
    r = server.cli("data", "mkdir", "data://.my/a/b", key=key)
    assert r.returncode == 2 and "not a collection path" in r.stderr
    r = server.cli("data", "ls", "data://.my/a/b/c/d", key=key)
    assert r.returncode == 1 and "is too deep" in r.stderr
    r = server.cli("data", "cp", "data://.my/nothing/here", str(tmp_path), key=key)
    assert r.returncode == 1 and "does not exist" in r.stderr
    assert list(tmp_path.iterdir()) == []
    server.client(key).post("/v1/data/.my", json={"name": "there"}).raise_for_status()
    assert server.cli("data", "cp", "-", "data://.my/there/f", input="x", key=key).returncode == 0
    r = server.cli("data", "cp", "data://.my/there/f", str(tmp_path / "no" / "such" / "f"), key=key)
    assert r.returncode == 1 and f"folder {tmp_path / 'no' / 'such'} does not exist" in r.stderr
    assert "Traceback" not in r.stderr
    r = server.cli("data", "cp", "data://.my/there/f", str(tmp_path / "nofolder") + "/", key=key)
    assert r.returncode == 1 and "no such folder" in r.stderr and not (tmp_path / "nofolder").exists()
    private = tmp_path / "private"
    private.write_bytes(b"old")
    private.chmod(0o600)
    assert server.cli("data", "cp", "data://.my/there/f", str(private), key=key).returncode == 0
    assert private.read_bytes() == b"x" and private.stat().st_mode & 0o777 == 0o600  # its mode is kept


def test_large_copies_show_progress_on_a_terminal(server: Server, user: tuple[str, str], tmp_path: Path) -> None:
    _, key = user
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(24 << 20))
    assert server.cli("data", "mkdir", "data://.my/progress", key=key).returncode == 0
    env = {**os.environ, "MODELPORT_API": server.url, "MODELPORT_API_KEY": key}
    for args in (["cp", str(big), "data://.my/progress/"], ["cp", "data://.my/progress/big.bin", str(tmp_path / "b")]):
        controller, terminal = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "modelport", "data", *args], stdout=subprocess.PIPE,
                                   stderr=terminal, env=env)
        os.close(terminal)
        seen = bytearray()
        reader = threading.Thread(target=_drain, args=(controller, seen))
        reader.start()
        stdout, _ = process.communicate(timeout=120)
        reader.join()
        os.close(controller)
        assert process.returncode == 0, seen.decode(errors="replace")
        assert stdout == b""  # progress goes to stderr only
        assert b"100%" in seen and (b"uploading" in seen or b"downloading" in seen)
    assert (tmp_path / "b").read_bytes() == big.read_bytes()


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        into += chunk
