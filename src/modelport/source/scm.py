"""Algorithms backed by an external git repository (Algorithmia's "backed by GitHub").

The external repository (GitHub, GitLab, any git smart-HTTP server) is the source of truth. The
algorithm's own bare repository is only the build mirror: commits are fetched into it, and pushes
to it are refused. A push reaches modelport through the provider's webhook, authenticated by a
secret generated for each algorithm, and builds exactly the pushed commit.

What ``Algorithm.source`` holds for such an algorithm:

    repository_https_url   where to fetch from: http(s), no credentials in it
    provider               "github" or "gitlab": the token's user name and the set-up hints
    token                  the read token (optional), Fernet-encrypted
    webhook_secret         random, Fernet-encrypted; shown to the owner by ``scm/status``

The encryption key is derived from the platform secret (``secret.key`` in the data dir). Plain
tokens exist only in memory, in ``ExternalRepo`` (kept out of its repr), and in git's environment
(RepoStore.fetch_external); they are never logged or returned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from modelport.auth.errors import InvalidRequest, NotFound, ServiceError
from modelport.db import Database
from modelport.db.models import Algorithm, User
from modelport.source._git import ZERO_SHA, git_env
from modelport.source.githttp import BUILD_BRANCHES
from modelport.source.repos import GitError, RepoError, RepoStore

if TYPE_CHECKING:  # source must not depend on builds at import time (builds imports source)
    from modelport.builds.service import BuildService

log = logging.getLogger("modelport.scm")

PROVIDERS = ("github", "gitlab")
# User name sent with the token: GitHub ignores it for tokens; GitLab wants "oauth2" for OAuth
# tokens and accepts any name with personal, project and group access tokens.
_TOKEN_USER = {"github": "x-access-token", "gitlab": "oauth2"}
_TOKEN = re.compile(r"^[\x21-\x7e]{1,1024}$")  # printable ASCII: it ends up in an HTTP header
_SHA = re.compile(r"^[0-9a-f]{40}$")
STATUS_TIMEOUT = 5.0


class ScmError(ServiceError):
    """The external repository could not be reached or refused us (its message, token removed)."""

    status, code = 502, 5001


class BadSignature(ServiceError):
    status, code = 401, 2002


@dataclass(frozen=True)
class ExternalRepo:
    owner: str
    name: str
    url: str
    provider: str
    token: str | None = field(repr=False)
    webhook_secret: str = field(repr=False)

    @property
    def token_user(self) -> str:
        return _TOKEN_USER.get(self.provider, "x-access-token")


@dataclass(frozen=True)
class WebhookOutcome:
    """A started build (``build_id``), or why the delivery was ignored (``reason``)."""

    build_id: str | None = None
    commit_sha: str | None = None
    reason: str | None = None


class SecretBox:
    """Encrypts short secrets for the database with a key derived from the platform secret."""

    def __init__(self, platform_secret: bytes) -> None:
        # A key of its own (HKDF), so the platform secret's other uses (signed markers) never share one.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"modelport: external repository secrets v1").derive(platform_secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ScmError("a stored repository secret cannot be decrypted: the platform secret "
                           "(secret.key in the data dir) changed since the algorithm was created; "
                           "delete and re-create the algorithm", status=500) from None


def _check_url(url: object, has_token: bool) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest('"source.repository_https_url" must be a non-empty string')
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidRequest("source.repository_https_url must look like https://host/owner/repo.git: "
                             f"{url!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("source.repository_https_url must not contain credentials; send the token as "
                             '"source.repository_token" (it is stored encrypted)')
    if parts.query or parts.fragment or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidRequest(f"source.repository_https_url must be a plain repository URL: {url!r}")
    if parts.scheme == "http" and has_token and not _is_loopback(parts.hostname):
        raise InvalidRequest("refusing to send a repository token over plain http to "
                             f"{parts.hostname}: use an https:// URL")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pick_provider(source: Mapping[str, Any], scm: Mapping[str, Any], url: str) -> str:
    given = source.get("provider") or scm.get("provider")
    if given is None:
        return "gitlab" if "gitlab" in (urlsplit(url).hostname or "") else "github"
    if given not in PROVIDERS:
        raise InvalidRequest(f'"source.provider" must be one of {", ".join(PROVIDERS)} (got {given!r})')
    return str(given)


def webhook_url(base_url: str, owner: str, name: str) -> str:
    return f"{base_url}/v1/algorithms/{owner}/{name}/scm/webhook"


class ScmService:
    """External repositories: the create-time settings, webhooks, fetch-then-build, connection status."""

    def __init__(self, db: Database, repos: RepoStore, builds: BuildService, platform_secret: bytes,
                 base_url: str) -> None:
        self.db = db
        self.repos = repos
        self.builds = builds
        self.box = SecretBox(platform_secret)
        self.base_url = base_url

    # --- creation ----------------------------------------------------------------------------

    def source_for_create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ``Algorithm.source`` value for a create request: {} for the internal repository.

        Accepts ``source.repository_https_url``, ``source.repository_token`` (or Algorithmia's
        ``scmsCredentials.access_token``) and ``source.provider`` (or ``source.scm.provider``).
        """
        source = body.get("source")
        creds = body.get("scmsCredentials")
        if source is None:
            source = {}
        if not isinstance(source, dict):
            raise InvalidRequest('"source" must be an object')
        if creds is not None and not isinstance(creds, dict):
            raise InvalidRequest('"scmsCredentials" must be an object')
        scm = source.get("scm") if isinstance(source.get("scm"), dict) else {}
        token = source.get("repository_token")
        if token is None and creds:
            token = creds.get("access_token")
        url = source.get("repository_https_url")
        # A copy of an internal algorithm's object names modelport's own git URL: stay internal.
        if url is None or "internal" in (scm.get("id"), scm.get("provider"), source.get("provider")):
            if token is not None:
                raise InvalidRequest("a repository token was given without source.repository_https_url")
            if source.get("provider") in PROVIDERS or scm.get("provider") in PROVIDERS:
                raise InvalidRequest("an algorithm backed by GitHub or GitLab needs "
                                     '"source.repository_https_url" (modelport connects to an existing '
                                     "repository; it does not create one)")
            return {}
        if token is not None and (not isinstance(token, str) or not _TOKEN.match(token)):
            raise InvalidRequest("the repository token must be a string of printable characters without "
                                 "spaces, at most 1024 long")
        url = _check_url(url, token is not None)
        stored = {
            "repository_https_url": url,
            "provider": _pick_provider(source, scm, url),
            "webhook_secret": self.box.seal(secrets.token_hex(32)),
        }
        if token is not None:
            stored["token"] = self.box.seal(token)
        return stored

    @staticmethod
    def is_external_source(source: Mapping[str, Any] | None) -> bool:
        return bool(source and source.get("repository_https_url"))

    def create_mirror(self, owner: str, name: str) -> None:
        """An empty bare repository for the fetched commits (no template: the code lives elsewhere)."""
        self.repos.create_empty(owner, name)

    # --- lookups -----------------------------------------------------------------------------

    def _source(self, owner: str, name: str) -> dict[str, Any] | None:
        """The algorithm's source column, or None when there is no such algorithm."""
        with self.db.session() as s:
            row = s.execute(select(Algorithm.source).join(User, Algorithm.owner_id == User.id)
                            .where(User.username == owner, Algorithm.name == name)).first()
            return None if row is None else (row[0] or {})

    def _open(self, owner: str, name: str, source: Mapping[str, Any]) -> ExternalRepo:
        sealed = source.get("token")
        token = self.box.open(sealed) if sealed else None
        return ExternalRepo(owner, name, source["repository_https_url"], source.get("provider", "github"),
                            token, self.box.open(source["webhook_secret"]))

    def external(self, owner: str, name: str) -> ExternalRepo | None:
        source = self._source(owner, name)
        return self._open(owner, name, source) if self.is_external_source(source) else None

    def is_external(self, owner: str, name: str) -> bool:
        return self.is_external_source(self._source(owner, name))

    # --- fetching ----------------------------------------------------------------------------

    def _fetch(self, repo: ExternalRepo, what: str) -> str:
        try:
            return self.repos.fetch_external(repo.owner, repo.name, repo.url, repo.token, what,
                                             username=repo.token_user)
        except GitError as e:
            raise ScmError(f"could not fetch {what} from {repo.url}: {e.stderr.strip()}") from None
        except RepoError as e:
            raise ScmError(f"could not fetch {what} from {repo.url}: {e}") from None

    def fetch_default_branch(self, owner: str, name: str) -> str | None:
        """For compile: fetch master (else main) of the external repository and return its head.

        None when the algorithm uses modelport's own repository.
        """
        repo = self.external(owner, name)
        if repo is None:
            return None
        for branch in ("master", "main"):
            try:
                sha = self._fetch(repo, branch)
            except ScmError as e:
                if "couldn't find remote ref" in e.message:
                    continue
                raise
            log.info("fetched %s of %s/%s from %s: %s", branch, owner, name, repo.url, sha)
            return sha
        raise InvalidRequest(f"{repo.url} has no master or main branch to build; push one first")

    # --- webhooks ----------------------------------------------------------------------------

    def handle_webhook(self, owner: str, name: str, headers: Mapping[str, str],
                       body: bytes) -> WebhookOutcome:
        """Verify a GitHub or GitLab delivery; for a push to master or main, fetch that commit and
        start its build (the build row exists when this returns). Raises NotFound, InvalidRequest,
        BadSignature or ScmError; nothing changes unless the signature is right."""
        source = self._source(owner, name)
        if not self.is_external_source(source):
            # One answer for "no such algorithm" and "not external": callers are not authenticated yet.
            raise NotFound(f"No such algorithm backed by an external repository: {owner}/{name}", code=1000)
        assert source is not None
        repo = self._open(owner, name, source)
        h = {k.lower(): v for k, v in headers.items()}
        if "x-github-event" in h:
            _verify_github(h.get("x-hub-signature-256"), body, repo.webhook_secret)
            event, provider = h["x-github-event"].strip(), "github"
            if event == "ping":
                return WebhookOutcome(reason="ping received: the webhook works; "
                                             "pushes to master or main build")
            if event != "push":
                return WebhookOutcome(reason=f"GitHub event {event!r} ignored: only push events build")
        elif "x-gitlab-event" in h:
            _verify_gitlab(h.get("x-gitlab-token"), repo.webhook_secret)
            event, provider = h["x-gitlab-event"].strip(), "gitlab"
            if event not in ("Push Hook", "System Hook"):
                return WebhookOutcome(reason=f"GitLab event {event!r} ignored: only push events build")
        elif "x-event-key" in h:
            raise InvalidRequest("Bitbucket webhooks are not supported; use GitHub or GitLab")
        else:
            raise InvalidRequest("not a GitHub or GitLab webhook: expected an X-GitHub-Event or "
                                 "X-Gitlab-Event header")

        payload = _parse_payload(body, h.get("content-type", ""))
        if provider == "gitlab" and payload.get("event_name", "push") != "push":
            return WebhookOutcome(reason=f"GitLab event {payload.get('event_name')!r} ignored: "
                                         "only pushes build")
        ref, after = payload.get("ref"), payload.get("after")
        if not isinstance(ref, str) or not isinstance(after, str):
            raise InvalidRequest('push payload must have string fields "ref" and "after"')
        if ref not in BUILD_BRANCHES:
            return WebhookOutcome(reason=f"push to {ref} ignored: only master and main build")
        if after == ZERO_SHA or payload.get("deleted") is True:
            return WebhookOutcome(reason=f"deletion of {ref} ignored")
        if not _SHA.match(after):
            raise InvalidRequest(f'"after" must be a 40-character commit sha, got {after[:80]!r}')

        sha = self._fetch(repo, after)
        build, _ = self.builds.start(owner, name, sha, "webhook")
        log.info("%s webhook: push of %s to %s of %s/%s: build %s", provider, sha, ref, owner, name, build.id)
        return WebhookOutcome(build_id=build.id, commit_sha=sha)

    # --- status ------------------------------------------------------------------------------

    def status(self, owner: str, name: str) -> dict[str, Any]:
        """Reference 3.2's ``scm/status`` object, for the owner: connection checked live (ls-remote)."""
        source = self._source(owner, name)
        if source is None:
            raise NotFound(f"No such algorithm: {owner}/{name}", code=1000)
        if not self.is_external_source(source):
            return {"scm_connection_status": "active"}
        repo = self._open(owner, name, source)
        result: dict[str, Any] = {
            "scm_connection_status": "active",
            "repository_webhook_secret": repo.webhook_secret,
            "repository_webhook_url": webhook_url(self.base_url, owner, name),
        }
        problem = self.check_connection(repo)
        if problem is not None:
            # The wire value must be one of Algorithmia's three; the reason is a modelport extension.
            result["scm_connection_status"] = "provider_internal_error"
            result["scm_connection_error"] = problem
        return result

    def check_connection(self, repo: ExternalRepo) -> str | None:
        """Ask the external server for its branches (``git ls-remote``); None if that works, else why."""
        parts = urlsplit(repo.url)
        # As RepoStore.fetch_external: http(s) only, the token in a header scoped to the host.
        config = {"protocol.allow": "never", "protocol.http.allow": "always",
                  "protocol.https.allow": "always"}
        if repo.token is not None:
            basic = base64.b64encode(f"{repo.token_user}:{repo.token}".encode()).decode()
            config[f"http.{parts.scheme}://{parts.netloc}/.extraHeader"] = f"Authorization: Basic {basic}"
        try:
            proc = subprocess.run([self.repos.git, "ls-remote", "--heads", "--", repo.url],
                                  capture_output=True, env=git_env(self.repos.home, config),
                                  cwd=self.repos.home, timeout=STATUS_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return f"{repo.url} did not answer within {STATUS_TIMEOUT:.0f} s"
        if proc.returncode == 0:
            return None
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        if repo.token:
            stderr = stderr.replace(repo.token, "***")
        if "could not read Username" in stderr or "Authentication failed" in stderr:
            return (f"{repo.url} refused the credentials: check that the repository token is valid "
                    "and can read the repository" if repo.token else
                    f"{repo.url} needs a token: re-create the algorithm with a repository token")
        return stderr.splitlines()[-1] if stderr else f"git ls-remote failed (exit code {proc.returncode})"


def _verify_github(header: str | None, body: bytes, secret: str) -> None:
    if not header:
        raise BadSignature("missing X-Hub-Signature-256: set the webhook's secret to the one "
                           "`modelport algo scm OWNER/ALGO` shows")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise BadSignature("X-Hub-Signature-256 does not match the body: check the webhook's secret")


def _verify_gitlab(header: str | None, secret: str) -> None:
    if not header:
        raise BadSignature("missing X-Gitlab-Token: set the webhook's secret token to the one "
                           "`modelport algo scm OWNER/ALGO` shows")
    if not hmac.compare_digest(secret.encode(), header.strip().encode("utf-8", "replace")):
        raise BadSignature("X-Gitlab-Token does not match: check the webhook's secret token")


def _parse_payload(body: bytes, content_type: str) -> dict[str, Any]:
    """A push payload, as JSON or (GitHub's other content type) form-encoded ``payload=<json>``."""
    ctype = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if ctype == "application/x-www-form-urlencoded":
            fields = parse_qs(text, strict_parsing=False)
            if "payload" not in fields:
                raise InvalidRequest('form-encoded webhook body has no "payload" field')
            text = fields["payload"][0]
        payload = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"webhook payload is not valid JSON: {exc}", code=2013) from None
    if not isinstance(payload, dict):
        raise InvalidRequest("webhook payload must be a JSON object", code=2013)
    return payload
