"""Algorithms backed by an external repository: webhooks, compile, status (reference 3.2, 6.1).

A second git smart-HTTP server in this process stands in for GitHub and GitLab: it serves
``alice``'s repositories and accepts TOKEN as a read token. The modelport server is the real one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from modelport.source.githttp import GitHttpApp
from modelport.source.repos import RepoStore
from modelport.source.template import template_files
from tests.source.gitserver import Callbacks, serve_asgi
from tests.support import Server, wait_until

TOKEN = "ghp_" + secrets.token_urlsafe(24)
ZERO = "0" * 40


@dataclass
class Upstream:
    """The stand-in for GitHub: repositories of alice, readable with TOKEN, pushable with her password."""

    base: str
    repos: RepoStore
    callbacks: Callbacks
    work: Path
    env: dict[str, str]

    def url(self, name: str) -> str:
        return f"{self.base}/git/alice/{name}.git"

    def alice_url(self, name: str) -> str:
        """The URL with alice's password, for pushing."""
        return self.url(name).replace("http://", "http://alice:alice-pw@")

    def git(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    def create(self, name: str, branch: str = "master") -> str:
        """A repository holding the Python template (algoname ``hello``) on ``branch``; its sha."""
        self.git("init", "--quiet", "--bare", "--template=", f"--initial-branch={branch}",
                 str(self.repos.path("alice", name)))
        checkout = self.work / name
        self.git("init", "--quiet", f"--initial-branch={branch}", str(checkout))
        for path, text in template_files("alice", "hello").items():
            (checkout / path).parent.mkdir(parents=True, exist_ok=True)
            (checkout / path).write_text(text)
        return self._commit_and_push(checkout, branch, "template")

    def commit(self, name: str, branch: str, greeting: str) -> str:
        """Commit an apply that answers ``<greeting> <input>`` on ``branch`` and push it; its sha."""
        checkout = self.work / name
        (checkout / "src" / "hello.py").write_text(f"def apply(input):\n    return '{greeting} ' + input\n")
        return self._commit_and_push(checkout, branch, greeting)

    def _commit_and_push(self, checkout: Path, branch: str, message: str) -> str:
        self.git("add", "-A", cwd=checkout)
        self.git("commit", "--quiet", "-m", message, cwd=checkout)
        self.git("push", "--quiet", self.alice_url(checkout.name), f"HEAD:refs/heads/{branch}", cwd=checkout)
        return self.git("rev-parse", "HEAD", cwd=checkout)

    def has_commit(self, mirror: Path, sha: str) -> bool:
        return subprocess.run(["git", f"--git-dir={mirror}", "cat-file", "-e", f"{sha}^{{commit}}"],
                              env=self.env, capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    root = tmp_path_factory.mktemp("upstream")
    repos = RepoStore(root / "repos")
    callbacks = Callbacks(keys={TOKEN: "alice"})
    base, uv_server, thread = serve_asgi(GitHttpApp(repos, authenticate=callbacks.authenticate,
                                                    authorize=callbacks.authorize, on_push=callbacks.on_push))
    (root / "home").mkdir()
    (root / "work").mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(root / "home"), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_AUTHOR_NAME": "Alice",
           "GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_COMMITTER_NAME": "Alice",
           "GIT_COMMITTER_EMAIL": "alice@example.com"}
    yield Upstream(base, repos, callbacks, root / "work", env)
    uv_server.should_exit = True
    thread.join(10)


def create_external(c: httpx.Client, owner: str, name: str, url: str, **source: object) -> httpx.Response:
    body = {"name": name, "source": {"repository_https_url": url, **source}}
    return c.post(f"/v1/algorithms/{owner}", json=body)


def external(c: httpx.Client, name: str, url: str, token: str | None = TOKEN) -> None:
    """Create admin/<name> backed by ``url``, read with ``token``."""
    r = create_external(c, "admin", name, url, **({"repository_token": token} if token else {}))
    assert r.status_code == 201, r.text


def webhook_secret(c: httpx.Client, owner: str, name: str) -> str:
    r = c.get(f"/v1/algorithms/{owner}/{name}/scm/status")
    assert r.status_code == 200, r.text
    return r.json()["repository_webhook_secret"]


def github_push(ref: str, after: str, **extra: object) -> bytes:
    return json.dumps({"ref": ref, "before": ZERO, "after": after, "created": True, "deleted": False,
                       "repository": {"full_name": "alice/x"}, **extra}).encode()


def github_headers(body: bytes, secret: str, event: str = "push") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": f"sha256={digest}",
            "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/test"}


def hook(server: Server, owner: str, name: str, body: bytes,
         headers: Mapping[str, str | bytes]) -> httpx.Response:
    """A delivery as GitHub/GitLab sends it: no API key."""
    return httpx.post(f"{server.url}/v1/algorithms/{owner}/{name}/scm/webhook", content=body, headers=headers,
                      timeout=60)


def builds(c: httpx.Client, owner: str, name: str) -> list[dict[str, object]]:
    r = c.get(f"/v1/algorithms/{owner}/{name}/builds")
    assert r.status_code == 200, r.text
    return r.json()["results"]


def wait_finished(c: httpx.Client, owner: str, name: str, build_id: str) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        build = c.get(f"/v1/algorithms/{owner}/{name}/builds/{build_id}").json()
        return build if build["status"] != "in-progress" else None
    return wait_until(done, timeout=120)


def mirror(server: Server, owner: str, name: str) -> Path:
    return server.data_dir / "repos" / owner / f"{name}.git"


def test_github_push_builds_exactly_the_pushed_commit(server: Server, upstream: Upstream,
                                                      user: tuple[str, str], unique: str) -> None:
    owner, key = user
    name = f"gh_{unique}"
    upstream.create(name)
    with server.client(key) as c:
        r = create_external(c, owner, name, upstream.url(name), repository_token=TOKEN, provider="github")
        assert r.status_code == 201, r.text
        source = r.json()["source"]
        assert source["repository_https_url"] == upstream.url(name)
        assert source["scm"]["provider"] == "github"
        assert builds(c, owner, name) == []  # no template, nothing built
        assert mirror(server, owner, name).is_dir()

        pushed = upstream.commit(name, "master", "hi")
        later = upstream.commit(name, "master", "hey")  # the branch moves on before the delivery arrives
        body = github_push("refs/heads/master", pushed)
        r = hook(server, owner, name, body, github_headers(body, webhook_secret(c, owner, name)))
        assert r.status_code == 204, r.text

        # The build exists when the answer arrives, for that exact commit, not the branch tip.
        newest = builds(c, owner, name)[0]
        assert newest["commit_sha"] == pushed != later
        build = wait_finished(c, owner, name, str(newest["build_id"]))
        assert build["status"] == "succeeded"
        r = c.post(f"/v1/algo/{owner}/{name}/{pushed}", json="Jane")
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "hi Jane"

        # GitHub's other content type: form-encoded payload=<json>, signed over the raw body.
        form = urlencode({"payload": github_push("refs/heads/main", later).decode()}).encode()
        headers = github_headers(form, webhook_secret(c, owner, name)) | {
            "Content-Type": "application/x-www-form-urlencoded"}
        r = hook(server, owner, name, form, headers)
        assert r.status_code == 204, r.text
        assert builds(c, owner, name)[0]["commit_sha"] == later


def test_gitlab_token_variant_and_by_id(server: Server, upstream: Upstream, unique: str) -> None:
    name = f"gl_{unique}"
    upstream.create(name, branch="main")
    with server.client() as c:
        r = c.post("/v1/algorithms/admin", json={
            "name": name,
            "source": {"repository_https_url": upstream.url(name), "scm": {"provider": "gitlab"}},
            "scmsCredentials": {"access_token": TOKEN}})  # Algorithmia's field for the token
        assert r.status_code == 201, r.text
        assert r.json()["source"]["scm"]["provider"] == "gitlab"
        algo_id = r.json()["id"]
        secret = webhook_secret(c, "admin", name)
        sha = upstream.commit(name, "main", "gitlab")
        body = json.dumps({"object_kind": "push", "event_name": "push", "ref": "refs/heads/main",
                           "before": ZERO, "after": sha, "checkout_sha": sha}).encode()
        headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret,
                   "Content-Type": "application/json"}
        r = httpx.post(f"{server.url}/v1/algorithms/{algo_id}/scm/webhook", content=body, headers=headers)
        assert r.status_code == 204, r.text
        newest = builds(c, "admin", name)[0]
        assert newest["commit_sha"] == sha
        assert wait_finished(c, "admin", name, str(newest["build_id"]))["status"] == "succeeded"

        # A GitLab delivery with the wrong token, and a tag push with the right one.
        wrong = headers | {"X-Gitlab-Token": secret[:-1] + "x"}
        assert hook(server, "admin", name, body, wrong).status_code == 401
        r = hook(server, "admin", name, body, headers | {"X-Gitlab-Event": "Tag Push Hook"})
        assert r.status_code == 202 and "ignored" in r.json()["reason"]
        assert len(builds(c, "admin", name)) == 1


def test_bad_signature_is_401_and_changes_nothing(server: Server, upstream: Upstream, unique: str) -> None:
    name = f"sig_{unique}"
    upstream.create(name)
    with server.client() as c:
        external(c, name, upstream.url(name))
        secret = webhook_secret(c, "admin", name)
        sha = upstream.commit(name, "master", "unsigned")
        body = github_push("refs/heads/master", sha)
        good = github_headers(body, secret)
        attempts = [
            {k: v for k, v in good.items() if k != "X-Hub-Signature-256"},  # missing
            github_headers(body, "not the secret"),  # another secret
            good | {"X-Hub-Signature-256": good["X-Hub-Signature-256"].replace("sha256=", "sha1=")},
            good | {"X-Hub-Signature-256": ("sha256=" + "é" * 64).encode()},  # not ASCII
        ]
        for headers in attempts:
            r = hook(server, "admin", name, body, headers)
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == 2002
        # The right signature over another body (a replayed header) fails too.
        other = github_push("refs/heads/master", sha, extra="tampered")
        assert hook(server, "admin", name, other, good).status_code == 401
        # A ping is verified as well.
        assert hook(server, "admin", name, b"{}", github_headers(b"{}", "wrong", "ping")).status_code == 401
        assert builds(c, "admin", name) == []
        assert not upstream.has_commit(mirror(server, "admin", name), sha)  # not even fetched


def test_ignored_deliveries_answer_202(server: Server, upstream: Upstream, unique: str) -> None:
    name = f"ign_{unique}"
    upstream.create(name)
    with server.client() as c:
        external(c, name, upstream.url(name))
        secret = webhook_secret(c, "admin", name)
        sha = upstream.commit(name, "dev", "dev")
        zen = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        cases = {
            "ping": (zen, "ping"),
            "refs/heads/dev": (github_push("refs/heads/dev", sha), "push"),
            "refs/tags/v1": (github_push("refs/tags/v1", sha), "push"),
            "deletion": (github_push("refs/heads/master", ZERO, deleted=True), "push"),
            "'issues'": (b'{"action": "opened"}', "issues"),
        }
        for fragment, (body, event) in cases.items():
            r = hook(server, "admin", name, body, github_headers(body, secret, event))
            assert r.status_code == 202, (fragment, r.text)
            assert fragment in r.json()["reason"]
        assert builds(c, "admin", name) == []


def test_bad_deliveries(server: Server, upstream: Upstream, unique: str) -> None:
    name = f"bad_{unique}"
    upstream.create(name)
    with server.client() as c:
        external(c, name, upstream.url(name))
        assert c.post("/v1/algorithms/admin", json={"name": f"internal_{unique}"}).status_code == 201
        secret = webhook_secret(c, "admin", name)
        for body in (b"{not json", b'["a list"]', b'{"ref": "refs/heads/master"}',
                     github_push("refs/heads/master", "abc123"), b"\xff\xfe"):
            r = hook(server, "admin", name, body, github_headers(body, secret))
            assert r.status_code == 400, (body, r.text)
        body = github_push("refs/heads/master", "1" * 40)
        no_event = {"X-Hub-Signature-256": github_headers(body, secret)["X-Hub-Signature-256"]}
        assert hook(server, "admin", name, body, no_event).status_code == 400
        bitbucket = {"X-Event-Key": "repo:push"}
        assert "Bitbucket" in hook(server, "admin", name, body, bitbucket).json()["error"]["message"]
        for owner, algo in (("admin", f"nope_{unique}"), ("nobody", "x"), ("admin", f"internal_{unique}")):
            r = hook(server, owner, algo, body, github_headers(body, secret))
            assert r.status_code == 404, r.text
        # A pushed sha the external repository does not have: 502, nothing built.
        r = hook(server, "admin", name, body, github_headers(body, secret))
        assert r.status_code == 502, r.text
        assert "could not fetch" in r.json()["error"]["message"]
        assert builds(c, "admin", name) == []


def test_compile_fetches_master_else_main(server: Server, upstream: Upstream, unique: str) -> None:
    with server.client() as c:
        for branch in ("master", "main"):
            name = f"cmp_{branch}_{unique}"
            upstream.create(name, branch=branch)
            external(c, name, upstream.url(name))
            sha = upstream.commit(name, branch, f"compiled-{branch}")
            r = c.post(f"/v1/algorithms/admin/{name}/compile", json={})
            assert r.status_code == 200, r.text
            assert r.json()["version_info"]["git_hash"] == sha
            assert r.json()["compilation"]["successful"] is True, r.json()["compilation"]["output"]

        # An external repository with no branch at all; one that refuses the token.
        name = f"cmp_empty_{unique}"
        upstream.git("init", "--quiet", "--bare", str(upstream.repos.path("alice", name)))
        external(c, name, upstream.url(name))
        r = c.post(f"/v1/algorithms/admin/{name}/compile", json={})
        assert r.status_code == 400 and "no master or main" in r.json()["error"]["message"], r.text
        name = f"cmp_refused_{unique}"
        upstream.create(name)
        external(c, name, upstream.url(name), "wrong-token")
        r = c.post(f"/v1/algorithms/admin/{name}/compile", json={})
        assert r.status_code == 502, r.text
        assert "Authentication failed" in r.json()["error"]["message"]
        assert "wrong-token" not in r.text
        assert builds(c, "admin", name) == []


def test_status(server: Server, upstream: Upstream, user: tuple[str, str], unique: str) -> None:
    name = f"st_{unique}"
    upstream.create(name)
    with server.client() as c:
        external(c, name, upstream.url(name))
        r = c.get(f"/v1/algorithms/admin/{name}/scm/status")
        assert r.status_code == 200, r.text
        status = r.json()
        assert status["scm_connection_status"] == "active"
        assert status["repository_webhook_url"].endswith(f"/v1/algorithms/admin/{name}/scm/webhook")
        assert len(status["repository_webhook_secret"]) >= 32

        assert create_external(c, "admin", f"{name}_bad", upstream.url(name),
                               repository_token="wrong-token").status_code == 201
        status = c.get(f"/v1/algorithms/admin/{name}_bad/scm/status").json()
        assert status["scm_connection_status"] == "provider_internal_error"
        assert "refused the credentials" in status["scm_connection_error"]
        assert "wrong-token" not in json.dumps(status)
        assert create_external(c, "admin", f"{name}_gone", upstream.url("does-not-exist")).status_code == 201
        status = c.get(f"/v1/algorithms/admin/{name}_gone/scm/status").json()
        assert status["scm_connection_status"] == "provider_internal_error"
        # A public repository needs no token.
        upstream.callbacks.public.add(("alice", name))
        external(c, f"{name}_public", upstream.url(name), token=None)
        status = c.get(f"/v1/algorithms/admin/{name}_public/scm/status").json()
        assert status["scm_connection_status"] == "active", status

        assert c.post("/v1/algorithms/admin", json={"name": f"{name}_int"}).status_code == 201
        internal = c.get(f"/v1/algorithms/admin/{name}_int/scm/status").json()
        assert internal == {"scm_connection_status": "active"}
        assert c.get(f"/v1/algorithms/admin/{name}_nope/scm/status").status_code == 404
    # The secret is for the owner only.
    with server.client(user[1]) as c:
        assert c.get(f"/v1/algorithms/admin/{name}/scm/status").status_code == 403
    assert httpx.get(f"{server.url}/v1/algorithms/admin/{name}/scm/status").status_code == 401


@pytest.mark.parametrize("source,fragment", [
    ({"repository_https_url": "ftp://example.com/x.git"}, "https://host/owner/repo.git"),
    ({"repository_https_url": "ext::sh -c id"}, "https://host/owner/repo.git"),
    ({"repository_https_url": "https://user:pw@github.com/a/b.git"}, "must not contain credentials"),
    ({"repository_https_url": "http://github.com/a/b.git", "repository_token": "t"}, "plain http"),
    ({"repository_https_url": "https://github.com/a/b.git", "repository_token": 5}, "repository token"),
    ({"repository_https_url": "https://github.com/a/b.git", "repository_token": "a\r\nX-Evil: 1"},
     "repository token"),
    ({"repository_https_url": "https://github.com/a/b.git", "provider": "bitbucket"}, '"source.provider"'),
    ({"repository_https_url": ""}, "non-empty string"),
    ({"repository_token": "t"}, "without source.repository_https_url"),
    ({"scm": {"provider": "github"}, "repository_name": "b"}, "needs \"source.repository_https_url\""),
    ("https://github.com/a/b.git", '"source" must be an object'),
])
def test_create_rejects_bad_sources(server: Server, unique: str, source: object, fragment: str) -> None:
    name = f"badsrc_{unique}"
    with server.client() as c:
        r = c.post("/v1/algorithms/admin", json={"name": name, "source": source})
        assert r.status_code == 400, r.text
        assert fragment in r.json()["error"]["message"]
        assert c.get(f"/v1/algorithms/admin/{name}").status_code == 404
    assert not mirror(server, "admin", name).exists()


def test_internal_source_objects_stay_internal(server: Server, unique: str) -> None:
    """What Algorithmia's clients send for the internal SCM (or a copied algorithm object) is not external."""
    with server.client() as c:
        for i, source in enumerate([{}, {"scm": {"id": "internal", "provider": "internal"},
                                         "repository_https_url": f"{server.url}/git/admin/x.git"}]):
            r = c.post("/v1/algorithms/admin", json={"name": f"int{i}_{unique}", "source": source,
                                                     "scmsCredentials": {}})
            assert r.status_code == 201, r.text
            assert r.json()["source"]["scm"]["provider"] == "internal"


def test_token_is_never_shown_nor_stored_in_clear(server: Server, upstream: Upstream, unique: str) -> None:
    name = f"tok_{unique}"
    upstream.create(name)
    seen: list[str] = []
    with server.client() as c:
        r = create_external(c, "admin", name, upstream.url(name), repository_token=TOKEN)
        assert r.status_code == 201
        seen.append(r.text)
        sha = upstream.commit(name, "master", "secretive")
        body = github_push("refs/heads/master", sha)
        headers = github_headers(body, webhook_secret(c, "admin", name))
        assert hook(server, "admin", name, body, headers).status_code == 204
        build_id = str(builds(c, "admin", name)[0]["build_id"])
        wait_finished(c, "admin", name, build_id)
        compiled = c.post(f"/v1/algorithms/admin/{name}/compile", json={})
        base = f"/v1/algorithms/admin/{name}"
        for response in (compiled, c.get(base), c.get(f"{base}/scm/status"), c.get(f"{base}/builds"),
                         c.get(f"{base}/versions", params={"published": "false"}),
                         c.get(f"{base}/versions/{sha}"), c.get(f"{base}/builds/{build_id}/logs"),
                         c.put(base, json={"details": {"summary": "s"}})):
            assert response.status_code == 200, response.text
            seen.append(response.text)
    for text in seen:
        assert TOKEN not in text
    assert TOKEN not in server.log()
    stored = server.stored_bytes()
    assert TOKEN.encode() not in stored
    assert b"gAAAAA" in stored  # the Fernet token of it is there
    config = (mirror(server, "admin", name) / "config").read_text()
    assert TOKEN not in config and "extraheader" not in config.lower()


def test_push_to_the_mirror_is_refused(server: Server, upstream: Upstream, unique: str,
                                       tmp_path: Path) -> None:
    name = f"mir_{unique}"
    upstream.create(name)
    with server.client() as c:
        external(c, name, upstream.url(name))
    work = tmp_path / "w"
    upstream.git("clone", "--quiet", upstream.alice_url(name), str(work))
    remote = server.url.replace("http://", f"http://admin:{server.admin_key}@") + f"/git/admin/{name}.git"
    proc = subprocess.run(["git", "push", remote, "HEAD:refs/heads/master"], cwd=work, env=upstream.env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "403" in proc.stderr
    with server.client() as c:
        assert builds(c, "admin", name) == []


def test_cli_create_and_scm(server: Server, upstream: Upstream, unique: str) -> None:
    name = f"cli_{unique}"
    upstream.create(name)
    r = server.cli("algo", "create", f"admin/{name}", "--repo-url", upstream.url(name), "--repo-token-stdin",
                   input=TOKEN + "\n")
    assert r.returncode == 0, r.stderr
    assert f"modelport algo scm admin/{name}" in r.stdout
    r = server.cli("algo", "scm", f"admin/{name}")
    assert r.returncode == 0, r.stderr
    with server.client() as c:
        status = c.get(f"/v1/algorithms/admin/{name}/scm/status").json()
    assert status["repository_webhook_url"] in r.stdout
    assert status["repository_webhook_secret"] in r.stdout
    assert "connection:      active" in r.stdout
    assert "Settings > Webhooks" in r.stdout
    assert "--public-url" in r.stderr  # the test server's address is a loopback one
    assert TOKEN not in r.stdout + r.stderr
    r = server.cli("algo", "scm", f"admin/{name}", "--json")
    assert json.loads(r.stdout) == status

    r = server.cli("algo", "create", f"admin/{name}_x", "--repo-token-stdin", input=TOKEN)
    assert r.returncode == 2 and "need --repo-url" in r.stderr
