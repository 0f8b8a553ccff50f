"""Bare git repositories, one per algorithm, at `<root>/<owner>/<algo>.git`.

Every repository is configured the same way (see `_REPO_CONFIG`):

- `transfer.hideRefs = refs/builds`: build refs (`refs/builds/<build_id>`, made by `keep_ref`) keep
  built commits reachable after a force push; hidden refs are neither advertised nor updatable by a
  push, so a user cannot move or delete them.
- Force pushes are allowed (`receive.denyNonFastForwards = false`): Algorithmia users rely on them.
- Branch deletion is allowed (`receive.denyDeletes` stays false), except the default branch: the
  pre-receive hook installed by `githttp` refuses to delete the branch HEAD points to, which would
  leave every future clone without a checkout.
- `core.logAllRefUpdates = true`: bare repositories keep no reflog by default; with one, a commit
  lost to a mistaken force push can still be recovered for 90 days.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from modelport.source._git import git_env

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_FILE_PATH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_. /-]*$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

_REPO_CONFIG = {
    "transfer.hideRefs": "refs/builds",
    "receive.denyNonFastForwards": "false",
    "core.logAllRefUpdates": "true",
    # CI checkouts are shallow (GitHub's default depth is 1): accept them as they are, keeping the sha.
    "receive.shallowUpdate": "true",
}


class RepoError(Exception):
    """Base class for repository errors."""


class InvalidNameError(RepoError, ValueError):
    """An owner, algorithm, build id, path or revision that cannot be used safely."""


class RepoExistsError(RepoError):
    pass


class RepoNotFoundError(RepoError):
    pass


class GitError(RepoError):
    """A git command failed; `stderr` is git's message, with any token removed."""

    def __init__(self, command: str, returncode: int, stderr: str) -> None:
        super().__init__(f"git {command} failed (exit code {returncode}): {stderr.strip()}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Identity:
    """Author and committer of commits modelport makes itself."""

    name: str
    email: str


def _check(kind: str, value: str) -> str:
    if not _NAME.match(value) or ".." in value or value.endswith((".git", ".lock")):
        raise InvalidNameError(f"invalid {kind}: {value!r}")
    return value


class RepoStore:
    """Creates, inspects and deletes the algorithms' bare repositories. Methods are blocking."""

    def __init__(self, root: Path, git: str = "git", timeout: float = 600.0) -> None:
        self.root = Path(root).resolve()
        self.git = git
        self.timeout = timeout
        # Names of owners never start with ".", so these cannot clash with a repository.
        self.home = self.root / ".home"
        self._tmp = self.root / ".tmp"
        for d in (self.root, self.home, self._tmp):
            d.mkdir(parents=True, exist_ok=True)

    # -- paths -------------------------------------------------------------------------------

    def path(self, owner: str, algo: str) -> Path:
        return self.root / _check("owner", owner) / f"{_check('algorithm name', algo)}.git"

    def exists(self, owner: str, algo: str) -> bool:
        try:
            return (self.path(owner, algo) / "HEAD").is_file()
        except InvalidNameError:
            return False

    def _existing(self, owner: str, algo: str) -> Path:
        path = self.path(owner, algo)
        if not (path / "HEAD").is_file():
            raise RepoNotFoundError(f"no repository for {owner}/{algo}")
        return path

    # -- git -----------------------------------------------------------------------------------

    def _git(
        self,
        git_dir: Path,
        *args: str,
        input: bytes | None = None,
        config: Mapping[str, str] | None = None,
        secret: str | None = None,
        ok: Sequence[int] = (0,),
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [self.git, f"--git-dir={git_dir}", *args],
            input=input,
            capture_output=True,
            env=git_env(self.home, config, **(env or {})),
            timeout=self.timeout,
            check=False,
        )
        if proc.returncode not in ok:
            stderr = proc.stderr.decode("utf-8", "replace")
            if secret:
                stderr = stderr.replace(secret, "***")
            raise GitError(args[0], proc.returncode, stderr)
        return proc

    def _init_bare(self, path: Path, branch: str = "master") -> None:
        # --template= skips the sample hooks and description file of the system template.
        self._git(path, "init", "--quiet", "--bare", "--template=", f"--initial-branch={branch}")
        for key, value in _REPO_CONFIG.items():
            self._git(path, "config", key, value)

    # -- lifecycle -----------------------------------------------------------------------------

    @contextmanager
    def _staged(self, owner: str, algo: str) -> Iterator[Path]:
        """A new bare repository built beside its final place and renamed in when the block succeeds,
        so a failure (or a concurrent create) leaves nothing half-made under the name."""
        final = self.path(owner, algo)
        if final.exists():
            raise RepoExistsError(f"repository {owner}/{algo} already exists")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{algo}.{secrets.token_hex(4)}.tmp"
        try:
            self._init_bare(tmp)
            yield tmp
            try:
                os.rename(tmp, final)
            except OSError as e:  # created concurrently: rename onto a non-empty directory fails
                raise RepoExistsError(f"repository {owner}/{algo} already exists") from e
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def create_empty(self, owner: str, algo: str) -> None:
        """An empty repository, for algorithms whose code is fetched from elsewhere. Raises RepoExistsError."""
        with self._staged(owner, algo):
            pass

    def create(
        self,
        owner: str,
        algo: str,
        files: Mapping[str, str | bytes],
        author: Identity,
        message: str = "Initial commit",
    ) -> str:
        """Create the repository with one commit holding `files` on `master` (HEAD -> master).

        Returns the commit sha. Raises RepoExistsError, or InvalidNameError for a bad name or path.
        """
        with self._staged(owner, algo) as tmp:
            self._git(tmp, "fast-import", "--quiet", "--done", input=self._fast_import(files, author, message))
            return self._git(tmp, "rev-parse", "refs/heads/master").stdout.decode().strip()

    @staticmethod
    def _fast_import(files: Mapping[str, str | bytes], author: Identity, message: str) -> bytes:
        if any(c in author.name + author.email for c in "<>\n\0"):
            raise InvalidNameError(f"invalid author: {author!r}")
        ident = f"{author.name} <{author.email}> {int(time.time())} +0000".encode()
        msg = message.encode()
        out = [b"commit refs/heads/master\n", b"author " + ident + b"\n", b"committer " + ident + b"\n"]
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        for path, content in sorted(files.items()):
            if not _FILE_PATH.match(path) or any(p in ("", ".", "..", ".git") for p in path.split("/")):
                raise InvalidNameError(f"invalid file path: {path!r}")
            data = content.encode() if isinstance(content, str) else content
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        out.append(b"done\n")
        return b"".join(out)

    def delete(self, owner: str, algo: str) -> bool:
        """Delete the repository; returns False if there was none. Renamed away first, so a
        half-deleted repository is never visible under its name."""
        path = self.path(owner, algo)
        if not path.exists():
            return False
        trash = self._tmp / f"deleted-{secrets.token_hex(8)}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    # -- refs ----------------------------------------------------------------------------------

    def default_branch(self, owner: str, algo: str) -> str:
        """The branch HEAD points to, e.g. "master"."""
        out = self._git(self._existing(owner, algo), "symbolic-ref", "--short", "HEAD").stdout
        return out.decode().strip()

    def head(self, owner: str, algo: str, branch: str | None = None) -> str | None:
        """Commit sha at the tip of `branch` (default: HEAD's branch), or None if it has no commit."""
        ref = "HEAD" if branch is None else f"refs/heads/{branch}"
        return self._rev_parse(self._existing(owner, algo), ref)

    def resolve(self, owner: str, algo: str, rev: str) -> str | None:
        """Full sha of the commit `rev` names (sha, abbreviated sha, branch, tag, ref), or None."""
        if not rev or rev.startswith("-") or any(c in rev for c in "\0\n "):
            return None
        return self._rev_parse(self._existing(owner, algo), rev)

    def _rev_parse(self, git_dir: Path, rev: str) -> str | None:
        proc = self._git(git_dir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok=(0, 1, 128))
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def keep_ref(self, owner: str, algo: str, sha: str, build_id: str) -> None:
        """Point `refs/builds/<build_id>` at `sha`, so the commit survives force pushes and gc."""
        git_dir = self._existing(owner, algo)
        ref = f"refs/builds/{_check('build id', build_id)}"
        full = self._rev_parse(git_dir, sha) if _SHA.match(sha) else None
        if full is None:
            raise RepoError(f"{owner}/{algo} has no commit {sha!r}")
        self._git(git_dir, "update-ref", ref, full)

    def drop_ref(self, owner: str, algo: str, build_id: str) -> None:
        """Remove `refs/builds/<build_id>` (no error if absent)."""
        self._git(
            self._existing(owner, algo), "update-ref", "-d", f"refs/builds/{_check('build id', build_id)}"
        )

    def build_refs(self, owner: str, algo: str) -> dict[str, str]:
        """{build_id: sha} of every build ref."""
        out = self._git(
            self._existing(owner, algo), "for-each-ref", "--format=%(refname) %(objectname)", "refs/builds/"
        ).stdout.decode()
        return {
            ref.removeprefix("refs/builds/"): sha for ref, sha in (line.split() for line in out.splitlines())
        }

    # -- content -------------------------------------------------------------------------------

    def checkout(self, owner: str, algo: str, sha: str, dest: Path) -> None:
        """Write the tree of commit `sha` into `dest`, which must not exist or be empty.

        Uses a throwaway index, so the bare repository is never touched. Files come out exactly as
        committed (executable bits and symlinks included; submodules are left out).
        """
        git_dir = self._existing(owner, algo)
        full = self._rev_parse(git_dir, sha) if _SHA.match(sha) else None
        if full is None:
            raise RepoError(f"{owner}/{algo} has no commit {sha!r}")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise RepoError(f"checkout destination is not empty: {dest}")
        with tempfile.TemporaryDirectory(dir=self._tmp) as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._git(git_dir, f"--work-tree={dest}", "read-tree", full, env=index)
            # Committed symlinks become plain files holding the link text: nothing in a checkout may
            # lead the server (or a build) to files outside it, such as the data dir's secret.key.
            self._git(git_dir, f"--work-tree={dest}", "checkout-index", "--all", env=index,
                      config={"core.symlinks": "false"})

    def fetch_external(
        self,
        owner: str,
        algo: str,
        url: str,
        token: str | None,
        sha_or_branch: str,
        *,
        username: str = "x-access-token",
    ) -> str:
        """Fetch a commit or branch from another git server over HTTP(S) into this algorithm's
        repository (created empty if missing) and return the commit sha.

        The token goes in an `Authorization: Basic` header (username "x-access-token" suits GitHub;
        GitLab wants "oauth2" for OAuth tokens) passed through the environment, scoped to the URL's
        host, never in argv or the URL. A branch lands at `refs/heads/<branch>` (force-updated); a
        bare sha stays unreferenced until `keep_ref`. Raises GitError (token redacted).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidNameError(f"external repository URL must be http(s)://host/...: {url!r}")
        if parts.username or parts.password:
            raise InvalidNameError("put the token in `token`, not in the URL")
        path = self.path(owner, algo)
        created = False
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._init_bare(path)
            created = True
        # Only http(s) transports: a URL such as ext::cmd would otherwise run a command.
        config = {
            "protocol.allow": "never",
            "protocol.http.allow": "always",
            "protocol.https.allow": "always",
        }
        if token is not None:
            basic = base64.b64encode(f"{username}:{token}".encode()).decode()
            config[f"http.{parts.scheme}://{parts.netloc}/.extraHeader"] = f"Authorization: Basic {basic}"
        is_sha = bool(_SHA.match(sha_or_branch))
        if is_sha:
            refspec = sha_or_branch
        else:
            branch = sha_or_branch.removeprefix("refs/heads/")
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$", branch) or ".." in branch:
                raise InvalidNameError(f"invalid branch name: {sha_or_branch!r}")
            refspec = f"+refs/heads/{branch}:refs/heads/{branch}"
        try:
            self._git(path, "fetch", "--quiet", "--no-tags", "--", url, refspec, config=config, secret=token)
        except GitError as e:
            # With the token in a header, a refused token shows up as git wanting to prompt.
            if "could not read Username" in e.stderr or "Authentication failed" in e.stderr:
                raise GitError(
                    "fetch", e.returncode, f"Authentication failed for {url}: the server refused the token"
                ) from None
            raise
        sha = self._rev_parse(path, sha_or_branch if is_sha else f"refs/heads/{branch}")
        if sha is None:
            raise RepoError(f"fetched {sha_or_branch!r} from {url} but it is not a commit")
        if created and not is_sha:
            self._git(path, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
        return sha
