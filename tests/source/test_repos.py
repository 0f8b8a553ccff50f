from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitserver import AUTHOR, Git, GitServer

from modelport.source.repos import (
    GitError,
    Identity,
    InvalidNameError,
    RepoError,
    RepoExistsError,
    RepoNotFoundError,
    RepoStore,
)
from modelport.source.template import template_files


@pytest.fixture
def store(tmp_path: Path) -> RepoStore:
    return RepoStore(tmp_path / "repos")


def test_create_makes_bare_repo_with_one_commit_on_master(store: RepoStore, git: Git) -> None:
    sha = store.create("alice", "hello", template_files("alice", "hello"), AUTHOR, "Initial commit")
    path = store.path("alice", "hello")
    assert path == store.root / "alice" / "hello.git"
    assert store.exists("alice", "hello")
    assert store.default_branch("alice", "hello") == "master"
    assert store.head("alice", "hello") == store.head("alice", "hello", "master") == sha
    assert store.head("alice", "hello", "main") is None
    log = git.out("--git-dir", str(path), "log", "--format=%an <%ae>|%s", "master")
    assert log == "Test Author <author@example.com>|Initial commit"
    files = git.out("--git-dir", str(path), "ls-tree", "-r", "--name-only", "master").splitlines()
    assert files == [
        "TEST_CASES.json",
        "algorithmia.conf",
        "requirements.txt",
        "src/__init__.py",
        "src/hello.py",
        "src/hello_test.py",
    ]
    assert git.out("--git-dir", str(path), "config", "transfer.hideRefs") == "refs/builds"
    assert not list(store.root.glob("alice/.*"))  # no temporary directory left behind


def test_create_refuses_existing_and_invalid_names(store: RepoStore) -> None:
    store.create("alice", "hello", {"a.txt": "a"}, AUTHOR)
    with pytest.raises(RepoExistsError):
        store.create("alice", "hello", {"a.txt": "a"}, AUTHOR)
    for owner, algo in [
        ("..", "x"),
        ("alice", "../x"),
        ("alice", "x/y"),
        (".hidden", "x"),
        ("alice", "x.git"),
    ]:
        with pytest.raises(InvalidNameError):
            store.create(owner, algo, {"a.txt": "a"}, AUTHOR)
        assert not store.exists(owner, algo)
    for bad_path in ["../evil", "/abs", "a/../b", ".git/config", "a\nb"]:
        with pytest.raises(InvalidNameError):
            store.create("alice", "other", {bad_path: "x"}, AUTHOR)
    assert not store.exists("alice", "other")
    with pytest.raises(InvalidNameError, match="invalid author"):
        store.create("alice", "other", {"a": "a"}, Identity("Eve <eve@x>", "e@x"))


def test_resolve_keep_ref_and_checkout(store: RepoStore, tmp_path: Path) -> None:
    files = {"src/a.py": "A = 1\n", "data/blob.bin": bytes(range(256))}
    sha = store.create("alice", "algo", files, AUTHOR)
    assert store.resolve("alice", "algo", sha) == sha
    assert store.resolve("alice", "algo", sha[:10]) == sha
    assert store.resolve("alice", "algo", "master") == sha
    assert store.resolve("alice", "algo", "0" * 40) is None
    assert store.resolve("alice", "algo", "--all") is None
    assert store.resolve("alice", "algo", "nope") is None

    store.keep_ref("alice", "algo", sha, "2b9f6c1e-1111-4a4a-8c8c-0123456789ab")
    assert store.build_refs("alice", "algo") == {"2b9f6c1e-1111-4a4a-8c8c-0123456789ab": sha}
    with pytest.raises(RepoError):
        store.keep_ref("alice", "algo", "f" * 40, "b2")
    with pytest.raises(InvalidNameError):
        store.keep_ref("alice", "algo", sha, "../x")
    store.drop_ref("alice", "algo", "2b9f6c1e-1111-4a4a-8c8c-0123456789ab")
    assert store.build_refs("alice", "algo") == {}

    dest = tmp_path / "out"
    store.checkout("alice", "algo", sha, dest)
    assert (dest / "src" / "a.py").read_text() == "A = 1\n"
    assert (dest / "data" / "blob.bin").read_bytes() == bytes(range(256))
    assert sorted(p.name for p in dest.iterdir()) == ["data", "src"]  # no .git, no index
    with pytest.raises(RepoError, match="not empty"):
        store.checkout("alice", "algo", sha, dest)
    with pytest.raises(RepoError, match="no commit"):
        store.checkout("alice", "algo", "e" * 40, tmp_path / "out2")


def test_delete(store: RepoStore) -> None:
    store.create("alice", "gone", {"a": "a"}, AUTHOR)
    assert store.delete("alice", "gone") is True
    assert not store.exists("alice", "gone")
    assert store.delete("alice", "gone") is False
    with pytest.raises(RepoNotFoundError):
        store.head("alice", "gone")
    assert not list((store.root / ".tmp").iterdir())


def test_git_runs_without_server_environment(store: RepoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # A global config that would change behaviour, and a secret in the server's environment.
    home = store.root.parent / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = trunk\n[core]\n\thooksPath = /nonexistent\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MODELPORT_SECRET", "s3cret")
    store.create("alice", "env", {"a": "a"}, AUTHOR)
    assert store.default_branch("alice", "env") == "master"


def _push_template(server: GitServer, owner: str, algo: str) -> str:
    return server.repos.create(owner, algo, template_files(owner, algo), AUTHOR)


def test_fetch_external_with_token(git_server: GitServer, store: RepoStore, git: Git, tmp_path: Path) -> None:
    upstream = _push_template(git_server, "alice", "upstream")
    git_server.callbacks.keys["tok-123"] = "alice"
    url = f"{git_server.base}/git/alice/upstream.git"

    sha = store.fetch_external("carol", "mirror", url, "tok-123", "master")
    assert sha == upstream
    assert store.head("carol", "mirror", "master") == upstream
    assert store.default_branch("carol", "mirror") == "master"

    # A new commit upstream, fetched by sha.
    work = tmp_path / "work"
    git.run("clone", "-q", git_server.url("alice", "upstream", "alice", "alice-pw"), str(work))
    (work / "new.txt").write_text("new")
    git.run("add", "new.txt", cwd=work)
    git.run("commit", "-q", "-m", "new", cwd=work)
    git.run("push", "-q", "origin", "master", cwd=work)
    new = git.out("rev-parse", "HEAD", cwd=work)
    assert store.fetch_external("carol", "mirror", url, "tok-123", new) == new
    dest = tmp_path / "checkout"
    store.checkout("carol", "mirror", new, dest)
    assert (dest / "new.txt").read_text() == "new"
    assert json.loads((dest / "algorithmia.conf").read_text())["algoname"] == "upstream"


def test_fetch_external_failures_hide_the_token(git_server: GitServer, store: RepoStore) -> None:
    _push_template(git_server, "alice", "upstream")
    url = f"{git_server.base}/git/alice/upstream.git"
    with pytest.raises(GitError) as e:
        store.fetch_external("carol", "mirror", url, "wrong-token", "master")
    assert "Authentication failed" in str(e.value)
    assert "wrong-token" not in str(e.value)
    with pytest.raises(InvalidNameError):
        store.fetch_external("carol", "mirror", "ext::sh -c touch% /tmp/pwned", None, "master")
    with pytest.raises(InvalidNameError):
        store.fetch_external("carol", "mirror", f"{url.replace('http://', 'http://u:p@')}", None, "master")
    with pytest.raises(InvalidNameError):
        store.fetch_external("carol", "mirror", url, "x", "../../etc")
