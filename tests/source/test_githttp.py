from __future__ import annotations

import gzip
import os
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from gitserver import AUTHOR, Git, GitServer

from modelport.source.githttp import ZERO_SHA, RefUpdate
from modelport.source.template import template_files


def make_repo(server: GitServer, owner: str = "alice", algo: str = "hello") -> str:
    return server.repos.create(owner, algo, template_files(owner, algo), AUTHOR)


def commit_file(git: Git, work: Path, name: str, data: bytes | str, message: str = "change") -> str:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    git.run("add", name, cwd=work)
    git.run("commit", "-q", "-m", message, cwd=work)
    return git.out("rev-parse", "HEAD", cwd=work)


def test_clone_of_new_algorithm_has_template_on_master(
    git_server: GitServer, git: Git, tmp_path: Path
) -> None:
    sha = make_repo(git_server)
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello", "alice", "alice-pw"), str(work))
    assert git.out("rev-parse", "HEAD", cwd=work) == sha
    assert git.out("rev-parse", "--abbrev-ref", "HEAD", cwd=work) == "master"
    assert (work / "src" / "hello.py").read_text() == template_files("alice", "hello")["src/hello.py"]
    assert sorted(p.name for p in work.iterdir()) == [
        ".git",
        "TEST_CASES.json",
        "algorithmia.conf",
        "requirements.txt",
        "src",
    ]


def test_push_reports_exact_updates_and_fetch_sees_them(
    git_server: GitServer, git: Git, tmp_path: Path
) -> None:
    first = make_repo(git_server)
    url = git_server.url("alice", "hello", "alice", "alice-pw")
    work, other = tmp_path / "work", tmp_path / "other"
    git.run("clone", "-q", url, str(work))
    git.run("clone", "-q", url, str(other))

    second = commit_file(git, work, "src/hello.py", "def apply(input):\n    return 1\n")
    git.run("branch", "feature", cwd=work)
    git.run("tag", "-a", "v1", "-m", "v1", cwd=work)
    tag = git.out("rev-parse", "v1", cwd=work)
    git.run("push", "-q", "origin", "master", "feature", "v1", cwd=work)

    assert git_server.callbacks.pushes == [
        (
            "alice",
            "hello",
            [
                RefUpdate("refs/heads/master", first, second),
                RefUpdate("refs/heads/feature", ZERO_SHA, second),
                RefUpdate("refs/tags/v1", ZERO_SHA, tag),
            ],
        )
    ]
    updates = git_server.callbacks.pushes[0][2]
    assert [u.is_build_branch for u in updates] == [True, False, False]
    assert updates[1].created and not updates[1].deleted

    git.run("push", "-q", "origin", "master", cwd=work)  # nothing new: no on_push call
    assert len(git_server.callbacks.pushes) == 1

    git.run("fetch", "-q", "origin", cwd=other)
    assert git.out("rev-parse", "origin/master", cwd=other) == second
    assert git_server.repos.head("alice", "hello") == second


def test_main_branch_is_accepted_and_reported(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello", "alice", "alice-pw"), str(work))
    sha = commit_file(git, work, "README.md", "hi")
    git.run("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
    (update,) = git_server.callbacks.pushes[0][2]
    assert update == RefUpdate("refs/heads/main", ZERO_SHA, sha) and update.is_build_branch


def test_wrong_or_missing_credentials_fail_authentication(
    git_server: GitServer, git: Git, tmp_path: Path
) -> None:
    make_repo(git_server)
    wrong = git.run(
        "clone", "-q", git_server.url("alice", "hello", "alice", "nope"), str(tmp_path / "a"), check=False
    )
    assert wrong.returncode == 128
    assert "Authentication failed" in wrong.stderr
    unknown_user = git.run(
        "clone", "-q", git_server.url("alice", "hello", "mallory", "x"), str(tmp_path / "b"), check=False
    )
    assert "Authentication failed" in unknown_user.stderr
    anonymous = git.run("clone", "-q", git_server.url("alice", "hello"), str(tmp_path / "c"), check=False)
    assert anonymous.returncode == 128
    assert "terminal prompts disabled" in anonymous.stderr  # git got a 401 challenge and wanted to ask

    r = httpx.get(f"{git_server.base}/git/alice/hello.git/info/refs?service=git-upload-pack")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="modelport"'
    r = httpx.get(
        f"{git_server.base}/git/alice/hello.git/info/refs?service=git-upload-pack", auth=("alice", "no")
    )
    assert r.status_code == 401


def test_forbidden_and_unknown_repositories(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)
    forbidden = git.run(
        "clone", "-q", git_server.url("alice", "hello", "bob", "bob-pw"), str(tmp_path / "a"), check=False
    )
    assert forbidden.returncode == 128
    assert "403" in forbidden.stderr
    missing = git.run(
        "clone", "-q", git_server.url("alice", "nope", "alice", "alice-pw"), str(tmp_path / "b"), check=False
    )
    assert "not found" in missing.stderr
    refs = "/info/refs?service=git-upload-pack"
    assert (
        httpx.get(f"{git_server.base}/git/alice/nope.git{refs}", auth=("alice", "alice-pw")).status_code
        == 404
    )
    assert (
        httpx.get(f"{git_server.base}/git/alice/hello.git{refs}", auth=("bob", "bob-pw")).status_code == 403
    )
    assert (
        httpx.get(f"{git_server.base}/git/alice/hello.git/config", auth=("alice", "alice-pw")).status_code
        == 404
    )
    assert httpx.get(f"{git_server.base}/elsewhere", auth=("alice", "alice-pw")).status_code == 404


def test_reader_can_clone_but_not_push(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)
    git_server.callbacks.readers.add(("bob", "alice", "hello"))
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello", "bob", "bob-pw"), str(work))
    commit_file(git, work, "x.txt", "x")
    push = git.run("push", "-q", "origin", "master", cwd=work, check=False)
    assert push.returncode != 0 and "403" in push.stderr
    assert git_server.callbacks.pushes == []


def test_public_repository_clones_anonymously_but_push_asks_for_credentials(
    git_server: GitServer, git: Git, tmp_path: Path
) -> None:
    make_repo(git_server)
    git_server.callbacks.public.add(("alice", "hello"))
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello"), str(work))
    commit_file(git, work, "x.txt", "x")
    push = git.run("push", "-q", "origin", "master", cwd=work, check=False)
    assert push.returncode != 0 and "terminal prompts disabled" in push.stderr


def test_api_key_as_password_in_remote_url(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)
    key = "simA/b+c=d@e:f%g h"  # characters that must be URL-encoded in a remote URL
    git_server.callbacks.keys[key] = "alice"
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello", "alice", key), str(work))
    sha = commit_file(git, work, "x.txt", "x")
    git.run("push", "-q", "origin", "master", cwd=work)
    assert git_server.repos.head("alice", "hello") == sha
    # Any user name goes with a key, as with Algorithmia.
    git.run("ls-remote", git_server.url("alice", "hello", "whoever", key))


def test_push_over_one_mib_is_chunked_and_arrives_intact(
    git_server: GitServer, git: Git, tmp_path: Path
) -> None:
    make_repo(git_server)
    url = git_server.url("alice", "hello", "alice", "alice-pw")
    work = tmp_path / "work"
    git.run("clone", "-q", url, str(work))
    data = os.urandom(3 * 1024 * 1024)
    sha = commit_file(git, work, "model.bin", data)
    git.run("push", "-q", "origin", "master", cwd=work)

    posts = [h for m, p, h in git_server.app.requests if m == "POST" and p.endswith("/git-receive-pack")]
    assert posts and posts[-1].get("transfer-encoding") == "chunked"
    again = tmp_path / "again"
    git.run("clone", "-q", url, str(again))
    assert git.out("rev-parse", "HEAD", cwd=again) == sha
    assert (again / "model.bin").read_bytes() == data


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_50_mib_push_is_streamed_not_buffered(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)
    url = git_server.url("alice", "hello", "alice", "alice-pw")
    work = tmp_path / "work"
    git.run("clone", "-q", url, str(work))
    with open(work / "weights.bin", "wb") as f:  # written in pieces: this process must stay small
        f.writelines(os.urandom(1024 * 1024) for _ in range(50))
    git.run("add", "weights.bin", cwd=work)
    git.run("commit", "-q", "-m", "weights", cwd=work)
    sha = git.out("rev-parse", "HEAD", cwd=work)

    # The server runs in this process (uvicorn thread); git and http-backend are child processes.
    baseline, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        started = time.monotonic()
        git.run("-c", "pack.compression=0", "push", "-q", "origin", "master", cwd=work)
        elapsed = time.monotonic() - started
    finally:
        done.set()
        sampler.join()
    growth = peak[0] - baseline
    assert growth < 10 * 1024 * 1024, f"server grew by {growth / 2**20:.1f} MiB during a 50 MiB push"
    assert git_server.repos.head("alice", "hello") == sha
    print(f"50 MiB push: {elapsed:.2f}s, server RSS growth {growth / 2**20:.1f} MiB")


def test_force_push_keeps_build_refs(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)
    repos = git_server.repos
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello", "alice", "alice-pw"), str(work))
    built = commit_file(git, work, "a.txt", "built")
    git.run("push", "-q", "origin", "master", "master:feature", cwd=work)
    repos.keep_ref("alice", "hello", built, "build-1")

    git.run("reset", "-q", "--hard", "HEAD~1", cwd=work)
    rewritten = commit_file(git, work, "b.txt", "rewritten")
    git.run("push", "-q", "--force", "origin", "master", cwd=work)
    assert git_server.callbacks.pushes[-1][2] == [RefUpdate("refs/heads/master", built, rewritten)]

    git.run("--git-dir", str(repos.path("alice", "hello")), "reflog", "expire", "--expire=now", "--all")
    git.run("push", "-q", "origin", "--delete", "feature", cwd=work)
    assert git_server.callbacks.pushes[-1][2] == [RefUpdate("refs/heads/feature", built, ZERO_SHA)]
    git.run("--git-dir", str(repos.path("alice", "hello")), "gc", "-q", "--prune=now")
    assert repos.resolve("alice", "hello", built) == built
    assert repos.build_refs("alice", "hello") == {"build-1": built}
    dest = tmp_path / "checkout"
    repos.checkout("alice", "hello", built, dest)
    assert (dest / "a.txt").read_text() == "built"

    # Build refs are neither advertised nor pushable, and the default branch cannot be deleted.
    assert "refs/builds" not in git.out("ls-remote", "origin", cwd=work)
    overwrite = git.run("push", "origin", "--force", "master:refs/builds/build-1", cwd=work, check=False)
    assert overwrite.returncode != 0
    delete_build = git.run("push", "origin", "--delete", "refs/builds/build-1", cwd=work, check=False)
    assert delete_build.returncode != 0
    delete_master = git.run("push", "origin", "--delete", "master", cwd=work, check=False)
    assert delete_master.returncode != 0
    assert "default branch and cannot be deleted" in delete_master.stderr
    assert repos.build_refs("alice", "hello") == {"build-1": built}
    assert repos.head("alice", "hello") == rewritten
    assert len(git_server.callbacks.pushes) == 3  # the rejected pushes reported nothing


def _pkt(line: str) -> bytes:
    return b"%04x%s" % (len(line) + 4, line.encode())


def test_gzip_request_body_is_inflated_by_http_backend(git_server: GitServer) -> None:
    sha = make_repo(git_server)
    body = gzip.compress(_pkt(f"want {sha}\n") + b"0000" + _pkt("done\n"))
    r = httpx.post(
        f"{git_server.base}/git/alice/hello.git/git-upload-pack",
        content=body,
        headers={"content-type": "application/x-git-upload-pack-request", "content-encoding": "gzip"},
        auth=("alice", "alice-pw"),
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-git-upload-pack-result"
    assert r.content.startswith(b"0008NAK\n") and b"PACK" in r.content


def test_on_push_failure_does_not_fail_the_push(git_server: GitServer, git: Git, tmp_path: Path) -> None:
    make_repo(git_server)

    def broken(owner: str, algo: str, updates: list[RefUpdate]) -> None:
        raise RuntimeError("database down")

    git_server.app.app.on_push = broken
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "hello", "alice", "alice-pw"), str(work))
    sha = commit_file(git, work, "x.txt", "x")
    git.run("push", "-q", "origin", "master", cwd=work)
    assert git_server.repos.head("alice", "hello") == sha


@pytest.mark.parametrize("path", ["/git/alice/hello.git/info/refs", "/git/alice/hello/info/refs"])
def test_dot_git_suffix_is_optional(git_server: GitServer, path: str) -> None:
    make_repo(git_server)
    r = httpx.get(f"{git_server.base}{path}?service=git-upload-pack", auth=("alice", "alice-pw"))
    assert r.status_code == 200
    assert re.match(rb"^001e# service=git-upload-pack\n0000", r.content)


def test_mounted_in_starlette(tmp_path: Path, git: Git) -> None:
    from gitserver import Callbacks, serve_asgi
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from modelport.source.githttp import GitHttpApp
    from modelport.source.repos import RepoStore

    repos = RepoStore(tmp_path / "repos")
    sha = repos.create("alice", "hello", template_files("alice", "hello"), AUTHOR)
    callbacks = Callbacks()
    git_app = GitHttpApp(repos, authenticate=callbacks.authenticate, authorize=callbacks.authorize, prefix="")
    base, server, thread = serve_asgi(Starlette(routes=[Mount("/git", app=git_app)]))
    try:
        url = base.replace("http://", "http://alice:alice-pw@") + "/git/alice/hello.git"
        git.run("clone", "-q", url, str(tmp_path / "work"))
        assert git.out("rev-parse", "HEAD", cwd=tmp_path / "work") == sha
    finally:
        server.should_exit = True
        thread.join(10)
