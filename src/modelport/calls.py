"""Running a call: resolve the version, check who may call it, hand the input to the build's workers.

The warm path touches no database: keys and version resolution come from in-memory caches, and the
worker pool for a build stays up between calls. Each call gets a short-lived key, scoped to the
caller, so ``Algorithmia.client()`` inside the algorithm acts for whoever called (``.my`` = caller).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from modelport.algorithms.publishing import Publisher, Target, allowed, not_found_message
from modelport.algorithms.semver import VersionSpec
from modelport.auth.errors import Forbidden, NotFound, ServiceError
from modelport.auth.keys import STANDARD, Principal, hash_key
from modelport.auth.service import AuthService
from modelport.config import Settings
from modelport.runtime import CallOutcome, PoolBusy, PoolClosed, Supervisor, WorkerSpec
from modelport.runtime.worker import RUNNER_PATH

MAX_TIMEOUT = 3000.0
DEFAULT_TIMEOUT = 300.0
LOAD_KEY_SECONDS = 7 * 24 * 3600.0
CALL_KEY_SECONDS = 900.0


class Busy(ServiceError):
    status, code = 503, 5001


@dataclass(frozen=True)
class BuildLocation:
    """Where a finished build lives on disk (its checkout and its environment's interpreter), and
    what its workers run as: the algorithm's own account, if it has one, and the runner it can read."""

    workdir: Path
    python: Path
    uid: int | None = None
    runner: Path = RUNNER_PATH


class CallService:
    def __init__(self, settings: Settings, auth: AuthService, publisher: Publisher,
                 locate: Callable[[Target], BuildLocation]) -> None:
        self.settings = settings
        self.auth = auth
        self.publisher = publisher
        self.locate = locate
        self.supervisor = Supervisor(max_workers=settings.worker_max, max_queue=settings.worker_queue,
                                     idle_timeout=settings.worker_idle_seconds,
                                     pipeline_depth=settings.worker_pipeline)
        self._pool_keys: dict[str, set[str]] = {}  # algorithm id -> build ids with pools
        self._call_keys: dict[tuple[int, int | None, str], tuple[str, float]] = {}

    async def target(self, principal: Principal, owner: str, name: str, spec: VersionSpec,
                     spec_text: str | None) -> Target:
        if principal.key_type != STANDARD:
            raise Forbidden("admin keys may only use administrative endpoints; call algorithms with a standard key")
        target = self.publisher.peek(owner, name, spec)
        if target is False:
            target = await run_in_threadpool(self.publisher.resolve, owner, name, spec)
        if target is None:
            if spec.kind == "hash":
                raise NotFound(f"no successful build of commit {spec.sha} for algo://{owner}/{name}: it was "
                               "never pushed, is still building, or failed (see its build log)", code=1010)
            raise not_found_message(owner, name, spec_text)
        if not allowed(principal, target):
            if not principal.can_call(owner, name):
                raise Forbidden(f"this API key may not call algo://{owner}/{name} (allow_algo / algo_acl)")
            raise Forbidden(f"algo://{owner}/{name}/{spec_text or ''} is private: only its owner may call it"
                            .replace("/ is", " is"))
        return target

    def _spec(self, target: Target) -> WorkerSpec:
        location = self.locate(target)
        owner_principal = self.auth.principal_for_algorithm(target.owner, f"{target.owner}/{target.name}")
        load_key, _ = self.auth.issue_ephemeral(owner_principal, LOAD_KEY_SECONDS)
        return WorkerSpec(python=location.python, workdir=location.workdir, entry=target.entry,
                          env={"ALGORITHMIA_API": self.settings.base_url, "ALGORITHMIA_API_KEY": load_key,
                               "MODELPORT_ALGORITHM": f"{target.owner}/{target.name}"},
                          memory_limit_mb=self.settings.worker_memory_mb or None, uid=location.uid,
                          runner=location.runner)

    async def call(self, principal: Principal, target: Target, content_type: str, data: Any, *,
                   timeout: float, want_stdout: bool) -> CallOutcome:
        pool = self.supervisor.get(target.build_id)
        if pool is None:
            pool = self.supervisor.get_or_create(target.build_id, lambda: self._spec(target))
            self._pool_keys.setdefault(target.algorithm_id, set()).add(target.build_id)
        try:
            return await pool.call(content_type, data, timeout=timeout, want_stdout=want_stdout,
                                   env={"ALGORITHMIA_API_KEY": self._call_key(principal, target, timeout)})
        except PoolBusy:
            raise Busy(f"algo://{target.owner}/{target.name} is busy: all its workers are in use and "
                       f"{self.settings.worker_queue} calls are waiting; retry shortly") from None
        except PoolClosed:
            raise Busy("the algorithm's workers were stopped (a new build or shutdown); retry") from None

    def _call_key(self, principal: Principal, target: Target, timeout: float) -> str:
        """A short-lived key acting for the caller inside this algorithm, reused across the caller's calls
        while it has at least ``timeout`` + a minute left (issuing one per call costs the hot path)."""
        slot = (principal.user_id, principal.key_id, target.algorithm_id)
        now = time.monotonic()
        cached = self._call_keys.get(slot)
        if cached is not None and cached[1] > now + timeout + 60:
            return cached[0]
        acting = replace(principal, is_admin=False, acting_algorithm=f"{target.owner}/{target.name}",
                         permissions={**principal.permissions, "allow_algo_management": False,
                                      "administer_users": False})
        ttl = max(CALL_KEY_SECONDS, timeout + 120)
        key, _ = self.auth.issue_ephemeral(acting, ttl)
        if cached is not None:
            self.auth.drop_ephemeral(hash_key(cached[0]))
        if len(self._call_keys) > 10_000:
            self._call_keys.clear()
        self._call_keys[slot] = (key, now + ttl)
        return key

    async def drop_algorithm(self, algorithm_id: str) -> None:
        for build_id in self._pool_keys.pop(algorithm_id, set()):
            await self.supervisor.drop(build_id)

    async def close(self) -> None:
        await self.supervisor.close_all()
