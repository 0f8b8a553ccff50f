"""The algorithm commands of the CLI against a real server: create, clone, builds, call, publish, versions."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import Server, git, wait_until


def test_algorithm_lifecycle_from_the_cli(server: Server, unique: str, tmp_path: Path) -> None:
    name = f"admin/cli_{unique}"
    r = server.cli("algo", "create", name, "--label", "From the CLI", "--public")
    assert r.returncode == 0, r.stderr
    assert "created" in r.stdout
    r = server.cli("algo", "create", name)
    assert r.returncode == 1 and "already exists" in r.stderr

    url = server.cli("algo", "clone", name, "--print-url").stdout.strip()
    assert url.startswith("http://admin:sim") and url.endswith(f"/git/{name}.git")
    r = server.cli("algo", "clone", name, str(tmp_path / "co"))
    assert r.returncode == 0, r.stderr
    checkout = tmp_path / "co"
    source = checkout / "src" / f"cli_{unique}.py"
    source.write_text("def apply(input):\n    print('called')\n    return {'echo': input}\n")
    git(checkout, "commit", "-qam", "echo")
    git(checkout, "push", "-q", "origin", "HEAD:master")
    sha = git(checkout, "rev-parse", "HEAD").stdout.strip()

    r = server.cli("builds", "logs", name)  # waits for the newest build
    assert r.returncode == 0 and "build succeeded" in r.stdout
    listed = server.cli("builds", "list", name).stdout
    assert sha[:12] in listed and "succeeded" in listed

    r = server.cli("call", f"{name}/{sha}", "-d", '{"x": 1}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {"echo": {"x": 1}}
    r = server.cli("call", f"{name}/{sha}", "-d", "plain words", "--raw", "--stdout")
    assert json.loads(r.stdout) == {"echo": "plain words"} and "called" in r.stderr

    r = server.cli("publish", name, "--version-type", "minor", "--notes", "first release")
    assert r.returncode == 0 and "0.1.0" in r.stdout
    r = server.cli("versions", name)
    assert "0.1.0" in r.stdout and "first release" in r.stdout
    r = server.cli("call", name, "-d", "@" + str(_write(tmp_path / "in.json", '[1, 2]')), "--raw")
    assert json.loads(r.stdout) == {"echo": [1, 2]}

    source.write_text("def apply(input):\n    raise ValueError('nope')\n")
    git(checkout, "commit", "-qam", "broken")
    git(checkout, "push", "-q", "origin", "HEAD:master")
    bad = git(checkout, "rev-parse", "HEAD").stdout.strip()
    wait_until(lambda: bad[:12] in server.cli("builds", "list", name).stdout)
    server.cli("builds", "logs", name)
    r = server.cli("call", f"{name}/{bad}", "-d", '"x"')
    assert r.returncode == 1 and "nope" in r.stderr

    r = server.cli("algo", "delete", name, "--yes")
    assert r.returncode == 0
    r = server.cli("algo", "info", name)
    assert r.returncode == 1 and "No such algorithm" in r.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
