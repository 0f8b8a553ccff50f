"""Publishing builds as semantic versions, and resolving the version a call asks for.

Resolution is on the hot call path, so results are cached in memory and the whole cache is dropped
whenever something that could change an answer happens (publish, build finished, delete).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from modelport.algorithms import rules
from modelport.algorithms.semver import BUMPS, VersionSpec, bump
from modelport.algorithms.service import AlgorithmService, AlgorithmView, no_such_algorithm, require_manager
from modelport.auth.errors import InvalidRequest, NotFound, ServiceError
from modelport.auth.keys import Principal
from modelport.db.models import Algorithm, Build, User, Version


class AlreadyPublished(ServiceError):
    status, code = 400, 1007


@dataclass(frozen=True)
class Target:
    """What a call runs: one successful build of one algorithm."""

    algorithm_id: str
    owner: str
    name: str
    build_id: str
    commit_sha: str
    entry: str
    env_key: str | None
    version: str | None  # semantic version, None for a hash call of an unpublished build
    public: bool
    open_source: bool  # callers other than the owner see stack traces only of open-source algorithms


class Publisher:
    def __init__(self, algorithms: AlgorithmService) -> None:
        self.algorithms = algorithms
        self.db = algorithms.db
        self.on_published: list[Callable[[str], None]] = []
        self._cache: dict[tuple[str, str, VersionSpec], Target | None] = {}
        self._lock = threading.Lock()

    def invalidate(self, *_: object) -> None:
        with self._lock:
            self._cache.clear()

    # --- publish -----------------------------------------------------------------------------

    def publish(self, principal: Principal, owner: str, name: str, body: dict[str, Any],
                release: dict[str, Any] | None = None) -> tuple[AlgorithmView, Version, Build]:
        require_manager(principal, owner)
        info = body.get("version_info") or {}
        if not isinstance(info, dict):
            raise InvalidRequest('"version_info" must be an object')
        kind = info.get("version_type") or info.get("type") or "minor"
        if kind == "default":
            kind = "minor"
        if kind not in BUMPS:
            raise InvalidRequest(f'"version_info.version_type" must be major, minor or revision (got {kind!r})')
        for field in ("settings", "details", "release"):
            if body.get(field) is not None and not isinstance(body[field], dict):
                raise InvalidRequest(f'"{field}" must be an object')
        callability = (body.get("settings") or {}).get("algorithm_callability")
        if callability not in (None, "public", "private"):
            raise InvalidRequest('"settings.algorithm_callability" must be public or private')
        notes = rules.clean_version_info(info)
        for attempt in range(5):
            try:
                return self._publish_once(principal, owner, name, body, kind, callability, notes, release or {})
            except IntegrityError as exc:
                # Another publish won the race: a duplicate build means "already published"; a
                # duplicate number means try the next one.
                if "build_id" in str(exc.orig) or attempt == 4:
                    raise AlreadyPublished("Version already published. Please compile your algorithm.") from None
        raise AssertionError("unreachable")

    def _publish_once(self, principal: Principal, owner: str, name: str, body: dict[str, Any], kind: str,
                      callability: str | None, notes: dict[str, Any],
                      release: dict[str, Any]) -> tuple[AlgorithmView, Version, Build]:
        with self.db.session() as s:
            algo = s.scalar(select(Algorithm).join(User, Algorithm.owner_id == User.id)
                            .where(User.username == owner, Algorithm.name == name))
            if algo is None:
                raise no_such_algorithm(owner, name)
            wanted = body.get("build_id")
            if wanted is not None:  # modelport extension: publish exactly the build a CI gate tested
                build = s.get(Build, wanted) if isinstance(wanted, str) else None
                if build is None or build.algorithm_id != algo.id:
                    raise NotFound(f"{owner}/{name} has no build {wanted!r}", code=1010)
                if build.status != "succeeded":
                    raise InvalidRequest(f"build {wanted} is {build.status}; only a successful build can be "
                                         "published", code=1010)
            else:
                build = s.scalar(select(Build).where(Build.algorithm_id == algo.id, Build.status == "succeeded")
                                 .order_by(Build.seq.desc()).limit(1))
            if build is None:
                raise InvalidRequest(f"{owner}/{name} has no successful build to publish: push code to its "
                                     "repository (or call compile) first", code=1010)
            if s.scalar(select(Version.id).where(Version.build_id == build.id)) is not None:
                raise AlreadyPublished("Version already published. Please compile your algorithm.")
            previous = s.scalar(select(Version).where(Version.algorithm_id == algo.id)
                                .order_by(Version.major.desc(), Version.minor.desc(), Version.patch.desc()).limit(1))
            major, minor, patch = bump((previous.major, previous.minor, previous.patch) if previous else None, kind)
            if body.get("details"):
                algo.details = rules.clean_details(body["details"], algo.details)
            if body.get("settings"):
                settings = {k: v for k, v in body["settings"].items() if k != "algorithm_callability"}
                algo.settings = rules.clean_settings(settings, algo.settings)
            callability = callability or (previous.callability if previous else None) or algo.settings.get(
                "algorithm_callability", "private")
            algo.settings = {**algo.settings, "algorithm_callability": callability}
            version = Version(algorithm_id=algo.id, build_id=build.id, major=major, minor=minor, patch=patch,
                              git_hash=build.commit_sha, callability=callability,
                              release_notes=notes.get("release_notes"), sample_input=notes.get("sample_input"),
                              sample_output=notes.get("sample_output"), published_by_id=principal.user_id,
                              release={**release, "commit": build.commit_sha, "build_id": build.id,
                                       "published_by": principal.username})
            s.add(version)
            s.flush()
            view = AlgorithmView(algo, owner, build, version)
        self.invalidate()
        for hook in self.on_published:
            hook(algo.id)
        return view, version, build

    # --- resolve -----------------------------------------------------------------------------

    def peek(self, owner: str, name: str, spec: VersionSpec) -> Target | None | bool:
        """The cached resolution, or False when there is none yet (no database access)."""
        return self._cache.get((owner, name, spec), False)

    def resolve(self, owner: str, name: str, spec: VersionSpec) -> Target | None:
        """The build a call for ``spec`` runs, ignoring who calls (see ``allowed``); cached."""
        key = (owner, name, spec)
        try:
            return self._cache[key]
        except KeyError:
            pass
        target = self._resolve_uncached(owner, name, spec)
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: callers can ask for any number of hashes
                self._cache.clear()
            self._cache[key] = target
        return target

    def _resolve_uncached(self, owner: str, name: str, spec: VersionSpec) -> Target | None:
        with self.db.session() as s:
            algo = s.scalar(select(Algorithm).join(User, Algorithm.owner_id == User.id)
                            .where(User.username == owner, Algorithm.name == name))
            if algo is None:
                raise no_such_algorithm(owner, name)
            if spec.kind == "hash":
                build = s.scalar(select(Build).where(Build.algorithm_id == algo.id, Build.commit_sha == spec.sha,
                                                     Build.status == "succeeded").order_by(Build.seq.desc()).limit(1))
                if build is None:
                    return None
                version = s.scalar(select(Version).where(Version.build_id == build.id))
                return _target(algo, owner, build, version, hash_call=True)
            query = select(Version).where(Version.algorithm_id == algo.id)
            if spec.kind == "latest":
                query = query.where(Version.callability == "public")
            elif spec.kind == "latest_private":
                query = query.where(Version.callability == "private")
            elif spec.kind == "exact":
                query = query.where(Version.major == spec.major, Version.minor == spec.minor,
                                    Version.patch == spec.patch)
            else:  # partial: public only (reference 2.1)
                query = query.where(Version.callability == "public", Version.major == spec.major)
                if spec.minor is not None:
                    query = query.where(Version.minor == spec.minor)
            version = s.scalar(query.order_by(Version.major.desc(), Version.minor.desc(), Version.patch.desc())
                               .limit(1))
            if version is None:
                return None
            return _target(algo, owner, version.build, version)


def _target(algo: Algorithm, owner: str, build: Build, version: Version | None, hash_call: bool = False) -> Target:
    return Target(algorithm_id=algo.id, owner=owner, name=algo.name, build_id=build.id,
                  commit_sha=build.commit_sha, entry=build.entry or algo.name, env_key=build.env_key,
                  version=version.semantic_version if version else None,
                  public=bool(version and version.callability == "public" and not hash_call),
                  open_source=algo.settings.get("source_visibility") == "open")


def allowed(principal: Principal, target: Target) -> bool:
    """May ``principal`` call ``target``? Private versions and hash calls are for the owner (or admins)."""
    if not principal.can_call(target.owner, target.name):
        return False
    return target.public or principal.username == target.owner or principal.is_admin


def not_found_message(owner: str, name: str, spec_text: str | None) -> NotFound:
    if spec_text:
        return NotFound(f"algorithm algo://{owner}/{name}/{spec_text} not found: no such version "
                        "(versions given as X.Y, X.Y.* or X.* match public versions only)", code=1000)
    return NotFound(f"algorithm algo://{owner}/{name} has no published public version; call an exact version "
                    "(X.Y.Z) or latestPrivate as its owner, or publish one", code=1000)
