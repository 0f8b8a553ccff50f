"""Builds as the platform records them: a row per build, its log file, the queue that runs it.

Every push to a build branch (or a compile) creates the row at once, ``in-progress``, so CI finds the
build by commit immediately; the queue then runs ``builder.run_build`` and records the outcome.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from modelport.builds.builder import BuildOutcome, run_build
from modelport.builds.envs import EnvCache
from modelport.builds.queue import BuildQueue
from modelport.db import Database
from modelport.db.models import Algorithm, Build, User, iso, utcnow
from modelport.runtime.accounts import hand_over, installer_account
from modelport.source.githttp import RefUpdate
from modelport.source.repos import RepoStore

log = logging.getLogger("modelport.builds")

RESTART_LINE = ("build interrupted: the server stopped while this build was running; "
                "push again or call compile to rebuild")


class BuildService:
    def __init__(self, db: Database, repos: RepoStore, envs: EnvCache, builds_root: Path, logs_root: Path,
                 concurrency: int) -> None:
        self.db = db
        self.repos = repos
        self.envs = envs
        self.builds_root = builds_root
        self.logs_root = logs_root
        logs_root.mkdir(parents=True, exist_ok=True)
        self.queue = BuildQueue(concurrency)
        self.on_finished: list[Callable[[Build], None]] = []
        # The account an algorithm's packages install under (by algorithm id), or None for the
        # server's; the platform sets it when algorithms are isolated.
        self.account_for: Callable[[str], int | None] = lambda algorithm_id: None
        self._seq_lock = threading.Lock()

    # --- paths -------------------------------------------------------------------------------

    def build_dir(self, build_id: str) -> Path:
        return self.builds_root / build_id

    def log_path(self, build_id: str) -> Path:
        return self.logs_root / f"{build_id}.log"

    # --- lifecycle ---------------------------------------------------------------------------

    def recover(self) -> int:
        """On start-up: builds left ``in-progress`` by a stopped server are failed, with a log line."""
        with self.db.session() as s:
            stale = s.scalars(select(Build).where(Build.status == "in-progress")).all()
            for build in stale:
                with open(self.log_path(build.id), "a") as f:
                    f.write(f"{iso(utcnow())} {RESTART_LINE}\n")
                build.status, build.finished_at = "failed", utcnow()
            return len(stale)

    def shutdown(self) -> None:
        self.queue.shutdown(wait=False, cancel_pending=True)

    # --- starting builds ---------------------------------------------------------------------

    def start(self, owner: str, name: str, sha: str, trigger: str) -> tuple[Build, Future[Any]]:
        """Record a build of ``sha`` (in-progress, visible at once) and queue it."""
        with self._seq_lock, self.db.session() as s:
            algo = s.scalar(select(Algorithm).join(User, Algorithm.owner_id == User.id)
                            .where(User.username == owner, Algorithm.name == name))
            if algo is None:
                raise LookupError(f"{owner}/{name} does not exist")
            seq = (s.scalar(select(func.max(Build.seq)).where(Build.algorithm_id == algo.id)) or 0) + 1
            build = Build(algorithm_id=algo.id, seq=seq, commit_sha=sha, status="in-progress", trigger=trigger)
            s.add(build)
            s.flush()
            build_id, algorithm_id = build.id, algo.id
        self.repos.keep_ref(owner, name, sha, build_id)
        future = self.queue.submit(build_id, lambda: self._run(build_id, owner, name, sha, algorithm_id))
        return build, future

    def on_push(self, owner: str, name: str, updates: list[RefUpdate]) -> None:
        """Git push hook: build the new head of each build branch (master or main)."""
        for update_ in updates:
            if update_.is_build_branch and not update_.deleted:
                self.start(owner, name, update_.new, "push")
            else:
                log.info("push to %s/%s %s stored, not built (only master and main build)", owner, name,
                         update_.ref)

    def _run(self, build_id: str, owner: str, name: str, sha: str, algorithm_id: str) -> BuildOutcome:
        uid = self.account_for(algorithm_id)
        with open(self.log_path(build_id), "a", buffering=1) as logfile:
            outcome = run_build(self.repos, self.envs, owner, name, sha, self.build_dir(build_id),
                                lambda line: logfile.write(line.rstrip("\n") + "\n"),
                                env_user=f"{owner}/{name}/{build_id}",
                                uid=None if uid is None else installer_account(uid))
        if outcome.succeeded and uid is not None:
            hand_over(self.build_dir(build_id), uid)  # the checkout is its algorithm's, closed to others
        with self.db.session() as s:
            s.execute(update(Build).where(Build.id == build_id).values(
                status="succeeded" if outcome.succeeded else "failed", finished_at=utcnow(),
                env_key=outcome.env_key, entry=outcome.algoname))
            build = s.get(Build, build_id)
        if not outcome.succeeded:
            shutil.rmtree(self.build_dir(build_id), ignore_errors=True)
        for hook in self.on_finished:
            try:
                hook(build)
            except Exception:  # a listener's failure must not turn a finished build into a crash
                log.exception("build-finished hook failed for %s", build_id)
        return outcome

    # --- deletion ----------------------------------------------------------------------------

    def forget_algorithm(self, algorithm: Algorithm, owner: str) -> None:
        """Remove the repository, build directories, logs and environments only this algorithm used."""
        with self.db.session() as s:
            ids = s.scalars(select(Build.id).where(Build.algorithm_id == algorithm.id)).all()
        for build_id in ids:
            shutil.rmtree(self.build_dir(build_id), ignore_errors=True)
            self.log_path(build_id).unlink(missing_ok=True)
        self.repos.delete(owner, algorithm.name)
        self.envs.release(f"{owner}/{algorithm.name}/", prefix=True)
        self.envs.gc()
