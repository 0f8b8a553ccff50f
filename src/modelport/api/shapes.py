"""JSON shapes of Algorithmia's objects (reference 3.1), complete enough for api-client 1.1.0's strict models.

Sub-objects are either complete or absent: the generated client raises on a ``build`` without
``status``, a ``compilation`` without ``successful`` and the like.
"""

from __future__ import annotations

from typing import Any

from modelport.algorithms.service import AlgorithmView
from modelport.db.models import Build, User, Version, iso

INTERNAL_SCM = {"id": "internal", "provider": "internal", "default": True, "enabled": True}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def build_object(build: Build, version: Version | None = None) -> dict[str, Any]:
    obj = {
        "build_id": build.id,
        "status": build.status,
        "commit_sha": build.commit_sha,
        "started_at": iso(build.started_at),
        "finished_at": iso(build.finished_at),
        "resource_type": "algorithm_build",
    }
    if version is not None:
        obj["version_info"] = {"semantic_version": version.semantic_version}
    return _drop_none(obj)


def source_object(view: AlgorithmView, base_url: str) -> dict[str, Any]:
    external = view.algorithm.source or {}
    if external.get("repository_https_url"):
        return _drop_none({
            "scm": {"id": "external", "provider": external.get("provider", "github"), "default": False,
                    "enabled": True},
            "repository_https_url": external["repository_https_url"],
            "repository_name": view.algorithm.name,
            "repository_owner": view.owner,
        })
    return {
        "scm": INTERNAL_SCM,
        "repository_name": view.algorithm.name,
        "repository_owner": view.owner,
        "repository_https_url": f"{base_url}/git/{view.owner}/{view.algorithm.name}.git",
    }


def algorithm_object(view: AlgorithmView, base_url: str, *, compilation_log: str | None = None) -> dict[str, Any]:
    algo = view.algorithm
    version_info = _drop_none({
        "semantic_version": view.latest_version.semantic_version if view.latest_version else None,
        "git_hash": view.latest_build.commit_sha if view.latest_build else None,
        "sample_input": algo.version_info.get("sample_input"),
        "sample_output": algo.version_info.get("sample_output"),
        "release_notes": view.latest_version.release_notes if view.latest_version else None,
    })
    obj: dict[str, Any] = {
        "id": algo.id,
        "name": algo.name,
        "details": algo.details,
        "settings": algo.settings,
        "source": source_object(view, base_url),
        "version_info": version_info,
        "self_link": f"{base_url}/v1/algorithms/{view.owner}/{algo.name}",
        "resource_type": "algorithm",
    }
    build = view.latest_build
    if build is not None:
        published = view.latest_version if view.latest_version and view.latest_version.build_id == build.id else None
        obj["build"] = build_object(build, published)
        if build.status != "in-progress":
            obj["compilation"] = {"successful": build.status == "succeeded", "output": compilation_log or ""}
    return obj


def version_object(view: AlgorithmView, version: Version | None, build: Build, base_url: str,
                   *, compilation_log: str | None = None) -> dict[str, Any]:
    """One entry of ``/versions``: a published version, or (version None) an unpublished successful build."""
    algo = view.algorithm
    settings = dict(algo.settings)
    version_info: dict[str, Any] = {"git_hash": build.commit_sha}
    if version is not None:
        settings["algorithm_callability"] = version.callability
        version_info |= _drop_none({
            "semantic_version": version.semantic_version,
            "version_uuid": version.id,
            "release_notes": version.release_notes,
            "sample_input": version.sample_input,
            "sample_output": version.sample_output,
        })
    obj: dict[str, Any] = {
        "id": algo.id,
        "name": algo.name,
        "details": algo.details,
        "settings": settings,
        "source": source_object(view, base_url),
        "version_info": version_info,
        "build": build_object(build, version),
        "self_link": f"{base_url}/v1/algorithms/{view.owner}/{algo.name}/versions/{build.commit_sha}",
        "resource_type": "algorithm",
    }
    if build.status != "in-progress":
        obj["compilation"] = {"successful": build.status == "succeeded", "output": compilation_log or ""}
    if version is not None and version.release:
        obj["release"] = version.release | {"published_at": iso(version.published_at)}
    return obj


def user_object(user: User) -> dict[str, Any]:
    return _drop_none({
        "username": user.username,
        "email": user.email,
        "is_admin": user.is_admin,
        "created_at": iso(user.created_at),
        "resource_type": "user",
    })
