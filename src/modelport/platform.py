"""The composition root: builds every service from settings and wires their events together.

Both the server and the local admin commands (``modelport users``/``keys``) open a Platform on
the same data dir, so there is one place where parts are put together. Services never import each
other's consumers: they publish events (``on_created``, ``on_finished``...) that are connected here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

from modelport.algorithms.publishing import Publisher, Target
from modelport.algorithms.service import AlgorithmService
from modelport.auth.keys import STANDARD, Principal
from modelport.auth.service import AuthService, CreatedKey
from modelport.builds.envs import EnvCache
from modelport.builds.service import BuildService
from modelport.calls import BuildLocation, CallService
from modelport.config import Settings
from modelport.data.service import DataService
from modelport.data.storage import LocalStorage
from modelport.db import Database, migrate
from modelport.db.models import Algorithm
from modelport.runtime.accounts import (
    IsolationUnavailable,
    close_data_dir,
    installer_account,
    interpreter_for_accounts,
    isolation_mode,
    isolation_wanted,
    publish,
    require_reachable,
    stop_everything,
)
from modelport.runtime.worker import RUNNER_PATH
from modelport.source.githttp import Access, GitHttpApp
from modelport.source.repos import Identity, RepoStore
from modelport.source.scm import ScmService
from modelport.source.template import template_files

log = logging.getLogger("modelport")


def load_or_create_secret(path: Path) -> bytes:
    """A per-installation secret (markers, encrypted tokens), created once with mode 0600."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value.hex())
    return value


@dataclass
class FirstRun:
    username: str
    key: CreatedKey


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("repos", "builds", "envs", "data", "logs"):
            settings.path(sub).mkdir(exist_ok=True)
        migrate(settings.db_url)
        self.db = Database(settings.db_url)
        self.secret = load_or_create_secret(settings.path("secret.key"))
        self.auth = AuthService(self.db)
        self.algorithms = AlgorithmService(self.db)
        self.publisher = Publisher(self.algorithms)
        self.repos = RepoStore(settings.path("repos"))
        # Algorithms get accounts of their own when the server can switch to them (it runs as root).
        isolation = isolation_mode(settings.worker_isolation)
        self.isolated = isolation_wanted(isolation)
        python, uv = settings.python or sys.executable, None
        if self.isolated:
            try:
                require_reachable(settings.data_dir)
                python = interpreter_for_accounts(settings.python, settings.worker_uid_base - 1)
            except IsolationUnavailable as exc:
                if isolation == "on":
                    raise
                log.warning("algorithms run as the server's own account, not accounts of their own: %s", exc)
                self.isolated = False
        if self.isolated:
            uv = str(publish(Path(find_uv_bin()), settings.path("runtime")))
        self.envs = EnvCache(settings.path("envs"), python, uv=uv)
        self.builds = BuildService(self.db, self.repos, self.envs, settings.path("builds"),
                                   settings.path("logs", "builds"), settings.build_concurrency)
        self.calls = CallService(settings, self.auth, self.publisher, self.locate_build)
        self.scm = ScmService(self.db, self.repos, self.builds, self.secret, settings.base_url)
        # LocalStorage removes the temp files of uploads a previous process left unfinished.
        self.data = DataService(self.db, LocalStorage(settings.path("data")), self.secret)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.runner = RUNNER_PATH
        if self.isolated:
            close_data_dir(settings.data_dir)
            self.runner = publish(RUNNER_PATH, settings.path("runtime"))
            self.builds.account_for = self.account_for

        self.algorithms.source_for_create = self.scm.source_for_create
        self.algorithms.on_created.append(self._create_repository)
        self.algorithms.on_deleted.append(self.builds.forget_algorithm)
        self.algorithms.on_deleted.append(self.publisher.invalidate)
        self.algorithms.on_deleted.append(self._drop_pools)
        self.algorithms.on_deleted.append(self._stop_accounts)
        self.builds.on_finished.append(self.publisher.invalidate)

    # --- wiring ------------------------------------------------------------------------------

    def _create_repository(self, algorithm: Algorithm, owner: str) -> None:
        if self.scm.is_external_source(algorithm.source):  # code lives elsewhere: an empty build mirror
            self.scm.create_mirror(owner, algorithm.name)
            return
        self.repos.create(owner, algorithm.name, template_files(owner, algorithm.name),
                          Identity(owner, f"{owner}@modelport.invalid"), message="Create algorithm from template")

    def _drop_pools(self, algorithm: Algorithm, owner: str) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.calls.drop_algorithm(algorithm.id), self._loop)

    def _stop_accounts(self, algorithm: Algorithm, owner: str) -> None:
        # Runs before the delete commits, so its account is still on record (read in a session of its own).
        uid = self.algorithms.existing_worker_uid(algorithm.id, self.settings.worker_uid_base) if self.isolated else None
        if uid is not None:  # nothing the algorithm or its installs left running outlives it
            for account in (uid, installer_account(uid)):
                stop_everything(account, self.envs.python)

    def locate_build(self, target: Target) -> BuildLocation:
        if target.env_key is None:
            raise LookupError(f"build {target.build_id} has no environment")
        env = self.envs.get(target.env_key)
        if env is None:
            raise LookupError(f"the environment of build {target.build_id} is gone; compile again")
        return BuildLocation(workdir=self.builds.build_dir(target.build_id) / "src", python=env.python,
                             uid=self.account_for(target.algorithm_id), runner=self.runner)

    def account_for(self, algorithm_id: str) -> int | None:
        """The algorithm's own account (uid = gid) when algorithms are isolated, else None."""
        if not self.isolated:
            return None
        return self.algorithms.worker_uid(algorithm_id, self.settings.worker_uid_base)

    def git_app(self) -> GitHttpApp:
        return GitHttpApp(self.repos, authenticate=self.auth.authenticate_password, authorize=self._git_access,
                          on_push=self.builds.on_push, prefix="")

    def _git_access(self, principal: Principal | None, owner: str, name: str, write: bool) -> Access:
        if not self.repos.exists(owner, name):
            return Access.NOT_FOUND if principal is not None else Access.FORBIDDEN
        if principal is None or principal.key_type != STANDARD or principal.acting_algorithm is not None:
            return Access.FORBIDDEN  # admin-only keys and keys held by running algorithms have no git access
        if self.scm.is_external(owner, name) and write:
            return Access.FORBIDDEN  # pushes go to the external repository (Algorithmia's error 4011)
        manages = principal.can("allow_algo_management")
        if principal.username == owner and (manages or (not write and principal.can("allow_algo"))):
            return Access.ALLOWED
        if principal.is_admin and manages and principal.can_administer:
            return Access.ALLOWED
        return Access.FORBIDDEN

    # --- bootstrap and lifecycle -------------------------------------------------------------

    def bootstrap(self) -> FirstRun | None:
        """On the very first start: create the administrator and its full-access key."""
        if self.auth.count_users():
            return None
        name = self.settings.admin_user
        self.auth.create_user(name, is_admin=True)
        return FirstRun(name, self.auth.create_key(name, label="first admin key", full_access=True))

    def build_log_path(self, build_id: str) -> Path:
        return self.builds.log_path(build_id)

    def build_log(self, build_id: str) -> str | None:
        path = self.build_log_path(build_id)
        return path.read_text(errors="replace") if path.exists() else None

    async def start(self) -> None:
        """Start background parts once the event loop runs; fail builds a previous run left running."""
        self._loop = asyncio.get_running_loop()
        self.builds.recover()

    async def stop(self) -> None:
        await self.calls.close()
        self.builds.shutdown()
        self.db.dispose()
