"""Push → build over real git and real uv environments (issue 3)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.support import Algo, Server, git, remote, start_server, wait_until

HELLO = """
def apply(input):
    return "hi " + str(input)
"""


def test_template_clone_push_build_and_logs(server: Server, new_algo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    files = sorted(p.relative_to(algo.dir).as_posix() for p in algo.dir.rglob("*") if ".git" not in p.parts)
    assert {"algorithmia.conf", "requirements.txt", "src/__init__.py", f"src/{algo.name}.py",
            f"src/{algo.name}_test.py"} <= set(files)
    assert git(algo.dir, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "master"

    sha = algo.source(HELLO)
    builds = algo.builds()  # the build is there as soon as the push returns
    assert builds[0]["commit_sha"] == sha
    assert builds[0]["status"] in ("in-progress", "succeeded")
    build = algo.wait_build(sha)
    assert build["status"] == "succeeded" and build["finished_at"].endswith("Z")
    log = algo.log(build["build_id"])
    assert "compiling src/" in log and "build succeeded" in log

    sha2 = algo.source(HELLO + "\n# second\n")
    algo.wait_build(sha2)
    assert [b["commit_sha"] for b in algo.builds()[:2]] == [sha2, sha]  # newest first

    # A fresh clone (fetch) sees the pushed commit.
    again = tmp_path / "again"
    git(tmp_path, "clone", "-q", remote(server, "admin", algo.name, "admin", server.admin_key), str(again))
    assert git(again, "rev-parse", "HEAD").stdout.strip() == sha2


def test_compile_returns_finished_build(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    with server.client() as c:
        r = c.post(f"/v1/algorithms/admin/{algo.name}/compile", json={})
        assert r.status_code == 200, r.text
        body = r.json()
        head = git(algo.dir, "rev-parse", "HEAD").stdout.strip()
        assert body["version_info"]["git_hash"] == head
        assert body["compilation"]["successful"] is True
        assert body["build"]["status"] == "succeeded"
        r = c.post(f"/v1/algo/admin/{algo.name}/{head}", content=b"you", headers={"content-type": "text/plain"})
        assert r.json()["result"] == "hello you"


def test_git_auth(server: Server, new_algo, user: tuple[str, str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    bad = git(tmp_path, "clone", "-q", remote(server, "admin", algo.name, "admin", "wrong-password"),
              str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr
    username, key = user
    # Another user's algorithm: authenticated, but not theirs.
    other = git(tmp_path, "clone", "-q", remote(server, "admin", algo.name, username, key), str(tmp_path / "y"),
                check=False)
    assert other.returncode != 0 and "403" in other.stderr
    missing = git(tmp_path, "clone", "-q", remote(server, "admin", "does_not_exist", "admin", server.admin_key),
                  str(tmp_path / "z"), check=False)
    assert missing.returncode != 0 and ("not found" in missing.stderr or "404" in missing.stderr)
    # The user's account password works as well as a key.
    with server.client(key) as c:
        assert c.post(f"/v1/algorithms/{username}", json={"name": "pw_algo"}).status_code == 201
    ok = git(tmp_path, "clone", "-q", remote(server, username, "pw_algo", username, "correct horse battery"),
             str(tmp_path / "pw"), check=False)
    assert ok.returncode == 0, ok.stderr
    # A key without management permission may not push.
    with server.client() as c:
        call_only = c.post("/v1/users/admin/keys", json={"permissions": {"allow_algo": True}}).json()["api_key"]
    git(algo.dir, "remote", "set-url", "origin", remote(server, "admin", algo.name, "admin", call_only))
    (algo.dir / "x.txt").write_text("x")
    git(algo.dir, "add", "-A")
    git(algo.dir, "commit", "-qm", "x")
    push = git(algo.dir, "push", "origin", "HEAD:master", check=False)
    assert push.returncode != 0 and "403" in push.stderr


def test_failed_builds_say_why(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    sha = algo.source("def apply(input):\n    return (\n")
    build = algo.wait_build(sha)
    assert build["status"] == "failed"
    log = algo.log(build["build_id"])
    assert f"src/{algo.name}.py" in log and "line 2" in log and "SyntaxError" in log

    sha = algo.source("def run(input):\n    return input\n")
    build = algo.wait_build(sha)
    assert build["status"] == "failed" and "no apply(input)" in algo.log(build["build_id"])

    sha = algo.source(HELLO, requirements="modelport-no-such-package-xyz==1.0\n")
    first = algo.builds()[0]
    if first["status"] == "in-progress":  # logs are 404 until a build has finished
        with server.client() as c:
            r = c.get(f"/v1/algorithms/admin/{algo.name}/builds/{first['build_id']}/logs")
            assert r.status_code == 404 and r.json()["error"]["code"] == 1011
    build = algo.wait_build(sha)
    assert build["status"] == "failed"
    assert "modelport-no-such-package-xyz" in algo.log(build["build_id"])

    # A commit with no files at all: the entry module is missing.
    git(algo.dir, "rm", "-rq", ".")
    git(algo.dir, "commit", "-qm", "empty")
    git(algo.dir, "push", "-q", "origin", "HEAD:master")
    sha = git(algo.dir, "rev-parse", "HEAD").stdout.strip()
    build = algo.wait_build(sha)
    assert build["status"] == "failed" and "not found" in algo.log(build["build_id"])

    # A failed build's hash cannot be called.
    r = algo.call("x", version=sha)
    assert r.status_code == 404 and "failed" in r.json()["error"]["message"]


def test_other_branches_are_stored_not_built(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    before = len(algo.builds())
    sha = algo.push({"notes.txt": "wip"}, branch="feature")
    time.sleep(0.3)
    assert len(algo.builds()) == before
    assert git(algo.dir, "ls-remote", "origin", "refs/heads/feature").stdout.startswith(sha)
    main_sha = algo.push({"notes.txt": "main"}, branch="main")  # main builds too
    assert algo.wait_build(main_sha)["status"] == "succeeded"


def test_force_push_keeps_built_commits(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    old = algo.deploy(HELLO)
    git(algo.dir, "reset", "-q", "--hard", "HEAD~1")
    new = algo.push({f"src/{algo.name}.py": "def apply(input):\n    return 'rewritten'\n"}, force=True)
    algo.wait_build(new)
    assert algo.call("x", version=old).json()["result"] == "hi x"
    assert algo.call("x", version=new).json()["result"] == "rewritten"
    repo = server.data_dir / "repos" / "admin" / f"{algo.name}.git"
    refs = git(repo, "for-each-ref", "refs/builds").stdout
    assert old in refs


def test_same_requirements_reuse_environment(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    first: Algo = new_algo("_one")
    first.deploy(HELLO, requirements="six==1.16.0\n")
    started = time.monotonic()
    sha = first.deploy(HELLO + "\n# a change\n", requirements="# same set, other spelling\nSix == 1.16.0\n")
    assert time.monotonic() - started < 5
    logs = [first.log(b["build_id"]) for b in first.builds() if b["commit_sha"] == sha]
    assert "using cached environment" in logs[0]
    # Another algorithm shares it only when algorithms run as the server's user: an environment built
    # under an algorithm's own account may hold what its installs ran (docs/server.md).
    second: Algo = new_algo("_two")
    sha = second.deploy(HELLO, requirements="six==1.16.0\n")
    logs = [second.log(b["build_id"]) for b in second.builds() if b["commit_sha"] == sha]
    assert ("using cached environment" in logs[0]) is (os.geteuid() != 0)


def test_delete_removes_repo_builds_and_unshared_envs(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    algo.deploy(HELLO, requirements="six==1.16.0\nmodelport-marker-for-delete-test==0.0.0 ; python_version < '3'\n")
    build = algo.builds()[0]
    envs_before = {p.name for p in (server.data_dir / "envs").iterdir() if not p.name.startswith(".")}
    with server.client() as c:
        assert c.delete(f"/v1/algorithms/admin/{algo.name}").status_code == 204
    assert not (server.data_dir / "repos" / "admin" / f"{algo.name}.git").exists()
    assert not (server.data_dir / "builds" / build["build_id"]).exists()
    envs_after = {p.name for p in (server.data_dir / "envs").iterdir() if not p.name.startswith(".")}
    assert len(envs_after) == len(envs_before) - 1


def test_restart_during_build_marks_it_failed(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    algo = Algo(srv, "admin", "slow", srv.admin_key, tmp_path)
    sha = algo.source(HELLO, requirements="six==1.15.0\n")  # a cold install: still running when we kill
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait()
    again = start_server(tmp_path / "data", port=int(srv.url.rsplit(":", 1)[1]), expect_key=False)
    try:
        again.admin_key = srv.admin_key
        build = [b for b in algo.builds() if b["commit_sha"] == sha][0]
        if build["status"] == "failed":
            assert "server stopped while this build was running" in algo.log(build["build_id"])
        else:  # the build finished before the kill; nothing to recover, but never stuck
            assert build["status"] == "succeeded"
        assert all(b["status"] != "in-progress" for b in algo.builds())
    finally:
        again.stop()


def test_push_is_streamed(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    import os

    algo: Algo = new_algo()
    (algo.dir / "data.bin").write_bytes(os.urandom(12 * 1024 * 1024))  # > 1 MiB: git sends it chunked
    sha = algo.push({})
    assert algo.wait_build(sha)["status"] == "succeeded"
    r = httpx.get(server.url + "/healthz")
    assert r.status_code == 200
    wait_until(lambda: True)


def test_committed_symlinks_lead_nowhere_outside_the_checkout(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    """A symlink to the data dir's secret.key, committed as requirements.txt or as a source file, must
    not put the key in the build log (the owner reads it) nor in reach of the algorithm."""
    algo: Algo = new_algo("links")
    algo.push({f"src/{algo.name}.py": "def apply(input):\n    return open('src/stolen.py').read()\n"})
    secret = (server.data_dir / "secret.key").read_text().strip()
    # builds/<id>/src/requirements.txt -> ../../../secret.key, src/stolen.py -> ../../../../secret.key
    (algo.dir / "requirements.txt").unlink(missing_ok=True)
    os.symlink("../../../secret.key", algo.dir / "requirements.txt")
    os.symlink("../../../../secret.key", algo.dir / "src" / "stolen.py")
    sha = algo.push({})
    build = algo.wait_build(sha)
    log = algo.log(build["build_id"])
    assert secret not in log
    if build["status"] == "succeeded":
        r = algo.call(None, version=sha)
        assert secret not in r.text and r.json()["result"] == "../../../../secret.key"  # the link's text
