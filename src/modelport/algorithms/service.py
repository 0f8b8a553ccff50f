"""The algorithm registry: create, read, update, delete, and list builds and versions.

No I/O beyond the database. Other parts (git repositories, builds, workers) subscribe to
``on_created`` / ``on_deleted`` so this module never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelport.algorithms import rules
from modelport.auth.errors import Conflict, Forbidden, InvalidRequest, NotFound
from modelport.auth.keys import STANDARD, Principal
from modelport.db import Database
from modelport.db.models import Algorithm, Build, User, Version, WorkerAccount


@dataclass
class AlgorithmView:
    """An algorithm with what its API object shows: owner, latest build, latest published version."""

    algorithm: Algorithm
    owner: str
    latest_build: Build | None
    latest_version: Version | None


def no_such_algorithm(owner: str, name: str) -> NotFound:
    return NotFound(f"No such algorithm: {owner}/{name}", code=1000)


def require_manager(principal: Principal, owner: str) -> None:
    """Changing an algorithm needs a management-capable key of its owner (or of an administrator)."""
    if not principal.can("allow_algo_management"):
        raise Forbidden("this API key may not manage algorithms (it lacks allow_algo_management)")
    if principal.username != owner and not principal.is_admin:
        raise Forbidden(f"Caller is not authorized to manage algorithms of {owner}")


class AlgorithmService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_created: list[Callable[[Algorithm, str], None]] = []
        self.on_deleted: list[Callable[[Algorithm, str], None]] = []
        # Turns a create body into the ``source`` column ({} = modelport's own repository); the
        # platform sets it to ScmService.source_for_create. on_created hooks see the result.
        self.source_for_create: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: {}

    def existing_worker_uid(self, algorithm_id: str, base: int) -> int | None:
        """The algorithm's account if it was given one (worker_uid), else None; gives none."""
        with self.db.session() as s:
            number = s.scalar(select(WorkerAccount.id).where(WorkerAccount.algorithm_id == algorithm_id))
        return None if number is None else base + number

    def worker_uid(self, algorithm_id: str, base: int) -> int:
        """The account (uid = gid = `base` + its number) the algorithm's workers and installs run under,
        given on first need and kept (runtime/accounts.py)."""
        for _ in range(3):
            uid = self.existing_worker_uid(algorithm_id, base)
            if uid is not None:
                return uid
            with self.db.session() as s:
                if s.get(Algorithm, algorithm_id) is None:
                    raise NotFound(f"no algorithm with id {algorithm_id}")
                account = WorkerAccount(algorithm_id=algorithm_id)
                s.add(account)
                try:
                    s.commit()
                except IntegrityError:  # another thread gave it one first: read that
                    s.rollback()
                    continue
                return base + account.id
        raise RuntimeError(f"could not give algorithm {algorithm_id} an account")

    # --- lookups -----------------------------------------------------------------------------

    @staticmethod
    def _find(s: Session, owner: str, name: str) -> Algorithm | None:
        return s.scalar(select(Algorithm).join(User, Algorithm.owner_id == User.id)
                        .where(User.username == owner, Algorithm.name == name))

    def _readable(self, s: Session, principal: Principal, owner: str, name: str) -> Algorithm:
        if principal.key_type != STANDARD:
            raise Forbidden("admin keys may only use administrative endpoints")
        algo = self._find(s, owner, name)
        if algo is None:
            raise no_such_algorithm(owner, name)
        if principal.username == owner or principal.is_admin:
            return algo
        has_public = s.scalar(select(Version.id).where(Version.algorithm_id == algo.id,
                                                       Version.callability == "public").limit(1))
        if has_public is None:
            # Do not reveal that a private algorithm exists.
            raise no_such_algorithm(owner, name)
        return algo

    def _view(self, s: Session, algo: Algorithm, owner: str) -> AlgorithmView:
        build = s.scalar(select(Build).where(Build.algorithm_id == algo.id).order_by(Build.seq.desc()).limit(1))
        version = s.scalar(select(Version).where(Version.algorithm_id == algo.id)
                           .order_by(Version.published_at.desc(), Version.major.desc(), Version.minor.desc(),
                                     Version.patch.desc()).limit(1))
        return AlgorithmView(algo, owner, build, version)

    @staticmethod
    def _public_view(principal: Principal, view: AlgorithmView) -> AlgorithmView:
        """Others see an algorithm without its latest build (commit, log): those are the owner's."""
        if principal.username != view.owner and not principal.is_admin:
            view.latest_build = None
        return view

    def get(self, principal: Principal, owner: str, name: str) -> AlgorithmView:
        with self.db.session() as s:
            return self._public_view(principal, self._view(s, self._readable(s, principal, owner, name), owner))

    def get_by_id(self, principal: Principal, algorithm_id: str) -> AlgorithmView:
        with self.db.session() as s:
            row = s.execute(select(Algorithm, User.username).join(User, Algorithm.owner_id == User.id)
                            .where(Algorithm.id == algorithm_id)).first()
            if row is None:
                raise NotFound(f"No such algorithm with id {algorithm_id}", code=1009)
            view = self._view(s, self._readable(s, principal, row[1], row[0].name), row[1])
            return self._public_view(principal, view)

    def names_for_id(self, algorithm_id: str) -> tuple[str, str] | None:
        with self.db.session() as s:
            row = s.execute(select(User.username, Algorithm.name).join(User, Algorithm.owner_id == User.id)
                            .where(Algorithm.id == algorithm_id)).first()
            return None if row is None else (row[0], row[1])

    # --- changes -----------------------------------------------------------------------------

    def create(self, principal: Principal, owner: str, body: dict[str, Any]) -> AlgorithmView:
        require_manager(principal, owner)
        name = rules.check_name(body.get("name"))
        details = rules.clean_details(body.get("details"))
        details.setdefault("label", name)
        settings = rules.new_settings(body.get("settings"))
        version_info = rules.clean_version_info(body.get("version_info"))
        source = self.source_for_create(body)  # external repository, validated before anything is written
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == owner))
            if user is None:
                raise NotFound(f"No such user: {owner}", code=2015)
            if self._find(s, owner, name) is not None:
                raise Conflict(f"Algorithm name already exists: {owner}/{name}", code=1002)
            algo = Algorithm(owner_id=user.id, name=name, details=details, settings=settings,
                             version_info=version_info, source=source)
            s.add(algo)
            s.flush()
            for hook in self.on_created:
                hook(algo, owner)  # inside the transaction: a failing repo creation undoes the row
            return AlgorithmView(algo, owner, None, None)

    def update(self, principal: Principal, owner: str, name: str, body: dict[str, Any]) -> AlgorithmView:
        require_manager(principal, owner)
        with self.db.session() as s:
            algo = self._find(s, owner, name)
            if algo is None:
                raise no_such_algorithm(owner, name)
            settings = rules.clean_settings(body.get("settings"), algo.settings)
            if settings.get("source_visibility") == "closed" and settings.get("license", "apl") != "apl":
                raise InvalidRequest('closed source algorithms must use the "apl" license')
            algo.details = rules.clean_details(body.get("details"), algo.details)
            algo.settings = settings
            algo.version_info = rules.clean_version_info(body.get("version_info"), algo.version_info)
            s.flush()
            return self._view(s, algo, owner)

    def delete(self, principal: Principal, owner: str, name: str) -> None:
        require_manager(principal, owner)
        with self.db.session() as s:
            algo = self._find(s, owner, name)
            if algo is None:
                raise no_such_algorithm(owner, name)
            s.execute(Version.__table__.delete().where(Version.algorithm_id == algo.id))
            s.execute(Build.__table__.delete().where(Build.algorithm_id == algo.id))
            s.delete(algo)
            s.flush()
            for hook in self.on_deleted:
                hook(algo, owner)

    # --- builds and versions -----------------------------------------------------------------

    def _owned(self, s: Session, principal: Principal, owner: str, name: str) -> Algorithm:
        """Builds, their logs and unpublished commits are for the owner (and administrators) only."""
        algo = self._readable(s, principal, owner, name)
        if principal.username != owner and not principal.is_admin:
            raise Forbidden(f"only the owner of {owner}/{name} can see its builds")
        return algo

    def list_builds(self, principal: Principal, owner: str, name: str, *, offset: int,
                    limit: int) -> tuple[list[tuple[Build, Version | None]], bool]:
        """Builds newest first with the version each was published as; True when more follow."""
        with self.db.session() as s:
            algo = self._owned(s, principal, owner, name)
            rows = s.scalars(select(Build).where(Build.algorithm_id == algo.id).order_by(Build.seq.desc())
                             .offset(offset).limit(limit + 1)).all()
            published = self._versions_by_build(s, [b.id for b in rows[:limit]])
            return [(b, published.get(b.id)) for b in rows[:limit]], len(rows) > limit

    def get_build(self, principal: Principal, owner: str, name: str,
                  build_id: str) -> tuple[Build, Version | None]:
        with self.db.session() as s:
            algo = self._owned(s, principal, owner, name)
            build = s.get(Build, build_id)
            if build is None or build.algorithm_id != algo.id:
                raise NotFound(f"No such build: {build_id}", code=1010)
            return build, self._versions_by_build(s, [build.id]).get(build.id)

    @staticmethod
    def _versions_by_build(s: Session, build_ids: list[str]) -> dict[str, Version]:
        if not build_ids:
            return {}
        return {v.build_id: v for v in s.scalars(select(Version).where(Version.build_id.in_(build_ids)))}

    def list_versions(self, principal: Principal, owner: str, name: str, *, offset: int, limit: int,
                      published: bool | None = None,
                      callable_only: bool | None = None) -> tuple[AlgorithmView, list[tuple[Version | None, Build]], bool]:
        """Versions newest first. ``published=False`` lists successful builds not (yet) published."""
        with self.db.session() as s:
            algo = self._readable(s, principal, owner, name)
            view = self._view(s, algo, owner)
            is_owner = principal.username == owner or principal.is_admin
            if published is False:
                if not is_owner:
                    return view, [], False
                done = select(Version.build_id).where(Version.algorithm_id == algo.id)
                builds = s.scalars(select(Build).where(Build.algorithm_id == algo.id, Build.status == "succeeded",
                                                       Build.id.not_in(done)).order_by(Build.seq.desc())
                                   .offset(offset).limit(limit + 1)).all()
                return view, [(None, b) for b in builds[:limit]], len(builds) > limit
            query = select(Version).where(Version.algorithm_id == algo.id)
            if callable_only is True or not is_owner:
                query = query.where(Version.callability == "public")
            elif callable_only is False:
                query = query.where(Version.callability == "private")
            rows = s.scalars(query.order_by(Version.major.desc(), Version.minor.desc(), Version.patch.desc())
                             .offset(offset).limit(limit + 1)).all()
            return view, [(v, v.build) for v in rows[:limit]], len(rows) > limit

    def get_version_by_hash(self, principal: Principal, owner: str, name: str,
                            git_hash: str) -> tuple[AlgorithmView, Version | None, Build]:
        with self.db.session() as s:
            algo = self._readable(s, principal, owner, name)
            query = select(Version).where(Version.algorithm_id == algo.id, Version.git_hash == git_hash)
            if principal.username != owner and not principal.is_admin:
                query = query.where(Version.callability == "public")
            version = s.scalar(query.order_by(Version.published_at.desc()).limit(1))
            if version is not None:
                return self._view(s, algo, owner), version, version.build
            if principal.username != owner and not principal.is_admin:
                raise NotFound(f"No such version: {git_hash}", code=1010)
            build = s.scalar(select(Build).where(Build.algorithm_id == algo.id, Build.commit_sha == git_hash)
                             .order_by(Build.seq.desc()).limit(1))
            if build is None:
                raise NotFound(f"No build of commit {git_hash} for {owner}/{name}", code=1010)
            return self._view(s, algo, owner), None, build

    def count_builds(self, algorithm_id: str) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count(Build.id)).where(Build.algorithm_id == algorithm_id)) or 0
