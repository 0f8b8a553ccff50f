"""Pushing a CI checkout: detached, shallow, over unrelated history; the key never lands on disk or in output.

The remote here is a local bare repository (git's file transport); pushes over HTTP with the key are covered
end to end in tests/e2e/test_ci_deploy.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from modelport.ci import gitremote
from modelport.ci.errors import ConfigError, DeployError

ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev",
       "GIT_COMMITTER_EMAIL": "dev@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
KEY = "simSECRETkey+/=0123456789abcdef"


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          env={**os.environ, **ENV}, check=True)
    return proc.stdout.strip()


def make_repo(path: Path, commits: int = 2, prefix: str = "commit") -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for n in range(commits):
        (path / "file.txt").write_text(f"{prefix} {n}\n")
        git(path, "add", ".")
        git(path, "commit", "-q", "-m", f"{prefix} {n}")
    return path


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(path)], check=True)
    # an unrelated "template" commit, as a new algorithm's repository has
    template = make_repo(tmp_path / "template", commits=1, prefix="template")
    git(template, "push", "-q", str(path), "HEAD:refs/heads/master")
    return path


def remote(bare: Path) -> gitremote.Remote:
    return gitremote.Remote(str(bare), "alice", KEY)


def test_head_commit_of_a_checkout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert gitremote.head_commit(repo) == git(repo, "rev-parse", "HEAD")


def test_head_commit_explains_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a git checkout"):
        gitremote.head_commit(tmp_path)
    (tmp_path / "empty").mkdir()
    git(tmp_path / "empty", "init", "-q")
    with pytest.raises(ConfigError, match="has no commit yet"):
        gitremote.head_commit(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no such directory"):
        gitremote.head_commit(tmp_path / "missing")


def test_force_pushes_a_detached_head_over_unrelated_history(tmp_path: Path, bare: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD~1")
    git(repo, "checkout", "-q", "--detach", first)
    result = gitremote.push(repo, remote(bare), first)
    assert result == gitremote.PushResult(first, up_to_date=False)
    assert git(bare, "rev-parse", "refs/heads/master") == first
    # the same commit again: the server sees nothing new
    assert gitremote.push(repo, remote(bare), first).up_to_date


def test_shallow_checkout_is_deepened_from_its_origin(tmp_path: Path, bare: Path) -> None:
    source = make_repo(tmp_path / "source", commits=3)
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{source}", str(shallow)], check=True)
    sha = gitremote.head_commit(shallow)
    assert gitremote.is_shallow(shallow)
    assert gitremote.push(shallow, remote(bare), sha) == gitremote.PushResult(sha, up_to_date=False)
    assert git(bare, "rev-list", "--count", sha) == "3"


def test_shallow_checkout_without_origin_pushes_a_copy_of_the_commit(tmp_path: Path, bare: Path) -> None:
    source = make_repo(tmp_path / "source", commits=3)
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{source}", str(shallow)], check=True)
    git(shallow, "remote", "remove", "origin")
    sha = gitremote.head_commit(shallow)
    result = gitremote.push(shallow, remote(bare), sha)
    assert result.rewritten and result.sha != sha
    pushed = git(bare, "rev-parse", "refs/heads/master")
    assert pushed == result.sha
    assert git(bare, "rev-parse", f"{pushed}^{{tree}}") == git(shallow, "rev-parse", "HEAD^{tree}")
    assert git(bare, "log", "-1", "--format=%an %s", pushed) == "Dev commit 2"
    assert git(bare, "rev-list", "--count", pushed) == "1"


def test_key_stays_out_of_config_and_messages(tmp_path: Path, bare: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    sha = gitremote.head_commit(repo)
    gitremote.push(repo, remote(bare), sha)
    assert KEY not in (repo / ".git" / "config").read_text()
    assert KEY not in (bare / "config").read_text()
    broken = gitremote.Remote(str(tmp_path / "nowhere" / KEY), "alice", KEY)
    with pytest.raises(DeployError) as info:
        gitremote.push(repo, broken, sha)
    assert KEY not in str(info.value) and "***" in str(info.value)


def test_clone_and_commit_all(tmp_path: Path, bare: Path) -> None:
    target = tmp_path / "clone"
    assert gitremote.clone(remote(bare), target) == "master"
    (target / "file.txt").unlink()
    (target / "model_manifest.json").write_text("{}\n")
    sha = gitremote.commit_all(target, "deploy", "bot", "bot@example.com")
    assert git(target, "show", "--name-status", "--format=%an <%ae> %s", sha).splitlines() == [
        "bot <bot@example.com> deploy", "", "D\tfile.txt", "A\tmodel_manifest.json"]
    # nothing changed: still a new commit, so the server sees a push and builds
    assert gitremote.commit_all(target, "again", "bot", "bot@example.com") != sha


def test_config_env_appends_to_the_runners_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    env = gitremote._config_env({"a.b": "1"})
    assert env == {"GIT_CONFIG_COUNT": "3", "GIT_CONFIG_KEY_2": "a.b", "GIT_CONFIG_VALUE_2": "1"}


def test_remote_url() -> None:
    assert gitremote.remote_url("http://h:1/", "u", "a") == "http://h:1/git/u/a.git"
