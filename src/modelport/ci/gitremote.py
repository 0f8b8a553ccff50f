"""Git operations of the deploy pipelines: read the checkout's commit, push it to the algorithm's repository,
clone that repository, commit into it.

The API key never appears in argv, printed output or ``.git/config``: it travels as an ``http.extraHeader``
scoped to the remote URL through git's ``GIT_CONFIG_COUNT`` environment variables, and any git message is
scrubbed of it before it is shown.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from modelport.ci.errors import ConfigError, DeployError

DEFAULT_BRANCH = "master"


@dataclass(frozen=True)
class Remote:
    """An algorithm repository on the server, and who pushes to it."""

    url: str  # no credentials in it
    user: str
    key: str

    def secrets(self) -> list[str]:
        return [self.key, quote(self.key, safe=""), _basic(self.user, self.key)]


@dataclass(frozen=True)
class PushResult:
    sha: str  # the commit now on the branch (differs from the checkout's only for a shallow fallback)
    up_to_date: bool  # the branch already pointed there: the server saw no new push
    rewritten: bool = False


def remote_url(api: str, owner: str, algo: str) -> str:
    return f"{api.rstrip('/')}/git/{owner}/{algo}.git"


def head_commit(checkout: Path) -> str:
    """The full sha of the checkout's HEAD; ``ConfigError`` if it is not a git checkout with a commit."""
    if not checkout.is_dir():
        raise ConfigError(f"{checkout}: no such directory", hint="pass the path of your algorithm's checkout")
    proc = _run(["git", "-C", str(checkout), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
    if proc.returncode != 0:
        inside = _run(["git", "-C", str(checkout), "rev-parse", "--git-dir"]).returncode == 0
        problem = "has no commit yet" if inside else "is not a git checkout"
        raise ConfigError(f"{checkout} {problem}", hint="deploy pushes a commit: run this in a git checkout "
                                                        "(in CI, check the repository out first)")
    return proc.stdout.strip()


def is_shallow(checkout: Path) -> bool:
    proc = _run(["git", "-C", str(checkout), "rev-parse", "--is-shallow-repository"])
    return proc.stdout.strip() == "true"


def is_dirty(checkout: Path) -> bool:
    proc = _run(["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"])
    return bool(proc.stdout.strip())


def push(checkout: Path, remote: Remote, sha: str, branch: str = DEFAULT_BRANCH) -> PushResult:
    """Force-push commit ``sha`` of ``checkout`` onto ``branch`` of ``remote``.

    Works from a detached HEAD (the refspec names the commit). When a server refuses the push of a shallow
    clone, the clone is deepened from its own origin if it can be; failing that, the server gets a parentless
    commit with the same tree, author and message, and the caller is told through ``PushResult.rewritten``.
    """
    try:
        return _push(checkout, remote, sha, branch)
    except DeployError as exc:
        if "shallow update not allowed" not in str(exc):
            raise
    # the CI system's own remote (e.g. GitHub with the token actions/checkout left) can complete the history
    # (git fetch exits 0 without a remote to fetch from, so check the outcome rather than the exit code)
    _run(["git", "-C", str(checkout), "fetch", "--quiet", "--unshallow"], timeout=300)
    if not is_shallow(checkout):
        return _push(checkout, remote, sha, branch)
    root = _root_commit_like(checkout, sha)
    result = _push(checkout, remote, root, branch)
    return PushResult(result.sha, result.up_to_date, rewritten=True)


def _push(checkout: Path, remote: Remote, sha: str, branch: str) -> PushResult:
    proc = _git_remote(checkout, remote, ["push", "--force", "--no-verify", "--porcelain", remote.url,
                                          f"{sha}:refs/heads/{branch}"])
    if proc.returncode != 0:
        raise DeployError(_scrub(f"git push to {remote.url} failed:\n{proc.stderr}{proc.stdout}", remote),
                          hint=_push_hint(proc.stderr))
    flags = [line.split("\t")[0] for line in proc.stdout.splitlines() if "\t" in line]
    return PushResult(sha, up_to_date=flags == ["="])


def clone(remote: Remote, target: Path) -> str:
    """Clone ``remote`` into ``target`` (which must not exist); returns the branch checked out."""
    proc = _git_remote(None, remote, ["clone", "--quiet", remote.url, str(target)])
    if proc.returncode != 0:
        raise DeployError(_scrub(f"git clone of {remote.url} failed:\n{proc.stderr}", remote),
                          hint=_push_hint(proc.stderr))
    return _run(["git", "-C", str(target), "symbolic-ref", "--short", "HEAD"]).stdout.strip() or DEFAULT_BRANCH


def commit_all(checkout: Path, message: str, name: str, email: str) -> str:
    """Stage everything (deletions included) and commit, even when nothing changed; returns the new sha."""
    ident = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
             "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    for args in (["add", "--all"], ["commit", "--quiet", "--allow-empty", "--no-verify", "-m", message]):
        proc = _run(["git", "-C", str(checkout), *args], env=ident)
        if proc.returncode != 0:
            raise DeployError(f"git {args[0]} in {checkout} failed:\n{proc.stderr.strip()}")
    return head_commit(checkout)


def _root_commit_like(checkout: Path, sha: str) -> str:
    fmt = "%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
    fields = _run(["git", "-C", str(checkout), "log", "-1", f"--format={fmt}", sha]).stdout.split("\x00", 6)
    an, ae, ad, cn, ce, cd, message = fields
    env = {"GIT_AUTHOR_NAME": an, "GIT_AUTHOR_EMAIL": ae, "GIT_AUTHOR_DATE": ad,
           "GIT_COMMITTER_NAME": cn, "GIT_COMMITTER_EMAIL": ce, "GIT_COMMITTER_DATE": cd}
    proc = _run(["git", "-C", str(checkout), "commit-tree", f"{sha}^{{tree}}"], env=env,
                input=message.rstrip("\n") + f"\n\n(shallow CI checkout of {sha})\n")
    if proc.returncode != 0:
        raise DeployError(f"could not copy commit {sha} for a shallow push:\n{proc.stderr.strip()}")
    return proc.stdout.strip()


def _git_remote(checkout: Path | None, remote: Remote, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    base = ["git"] if checkout is None else ["git", "-C", str(checkout)]
    config = {
        # an empty helper resets any configured one, so a wrong key fails instead of asking for a password
        "credential.helper": "",
        f"http.{remote.url}.extraHeader": f"Authorization: Basic {_basic(remote.user, remote.key)}",
    }
    return _run([*base, *args], env={**_config_env(config), "GIT_TERMINAL_PROMPT": "0"}, timeout=900)


def _config_env(config: Mapping[str, str]) -> dict[str, str]:
    """``git -c`` through the environment (git >= 2.31), appended to any the runner already set."""
    start = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    env = {"GIT_CONFIG_COUNT": str(start + len(config))}
    for index, (key, value) in enumerate(config.items(), start=start):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _run(args: Sequence[str], env: Mapping[str, str] | None = None, input: str | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
    try:
        return subprocess.run(list(args), capture_output=True, text=True, env=full_env, input=input,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise ConfigError("git is not installed", hint="install git (apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise DeployError(f"{' '.join(args[:3])} took longer than {timeout:g}s") from None


def _basic(user: str, key: str) -> str:
    return base64.b64encode(f"{user}:{key}".encode()).decode()


def _scrub(text: str, remote: Remote) -> str:
    for secret in remote.secrets():
        if secret:
            text = text.replace(secret, "***")
    return text.strip()


def _push_hint(stderr: str) -> str | None:
    if "Authentication failed" in stderr or " 401" in stderr or " 403" in stderr:
        return "check the API key: it must belong to the algorithm's owner and allow algorithm management"
    if "not found" in stderr or " 404" in stderr:
        return "check the algorithm name, or pass --create to create it"
    return None
