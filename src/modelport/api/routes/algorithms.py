"""Algorithm management routes (reference section 3): create, read, update, delete, builds, versions."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelport.algorithms.service import require_manager
from modelport.api import shapes
from modelport.api.paging import page_params, paged
from modelport.api.requests import authenticate, json_body, query_bool
from modelport.auth.errors import InvalidRequest, NotFound


def _platform(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.platform


async def create_algorithm(request: Request) -> Response:
    """
    summary: Create an algorithm (its git repository starts from the Python template)
    responses:
      201: {description: the algorithm object}
      400: {description: invalid name or settings}
      409: {description: "code 1002: name already exists"}
    """
    principal = await authenticate(request)
    body = await json_body(request, allow_empty=False)
    p = _platform(request)
    view = await run_in_threadpool(p.algorithms.create, principal, request.path_params["username"], body)
    return JSONResponse(shapes.algorithm_object(view, p.settings.base_url), status_code=201)


async def get_algorithm(request: Request) -> Response:
    """
    summary: Get an algorithm; version_info.git_hash is the latest build, semantic_version the latest release
    responses:
      200: {description: the algorithm object}
      404: {description: No such algorithm}
    """
    principal = await authenticate(request)
    p = _platform(request)
    params = request.path_params
    if "algoname" in params:
        view = await run_in_threadpool(p.algorithms.get, principal, params["username"], params["algoname"])
    else:
        view = await run_in_threadpool(p.algorithms.get_by_id, principal, str(params["algorithm_id"]))
    log = p.build_log(view.latest_build.id) if view.latest_build else None
    return JSONResponse(shapes.algorithm_object(view, p.settings.base_url, compilation_log=log))


async def update_algorithm(request: Request) -> Response:
    """
    summary: Update details, settings and version_info (fields left out keep their values)
    responses:
      200: {description: the algorithm object}
      415: {description: body is not JSON}
    """
    principal = await authenticate(request)
    body = await json_body(request)
    p = _platform(request)
    owner, name = await _names(request)
    view = await run_in_threadpool(p.algorithms.update, principal, owner, name, body)
    return JSONResponse(shapes.algorithm_object(view, p.settings.base_url))


async def delete_algorithm(request: Request) -> Response:
    """
    summary: Delete an algorithm with its repository, builds, versions and environments it alone used
    responses:
      204: {description: deleted}
    """
    principal = await authenticate(request)
    p = _platform(request)
    await run_in_threadpool(p.algorithms.delete, principal, request.path_params["username"],
                            request.path_params["algoname"])
    return Response(status_code=204)


async def _names(request: Request) -> tuple[str, str]:
    params = request.path_params
    if "algoname" in params:
        return params["username"], params["algoname"]
    names = await run_in_threadpool(_platform(request).algorithms.names_for_id, str(params["algorithm_id"]))
    if names is None:
        raise NotFound(f"No such algorithm with id {params['algorithm_id']}", code=1009)
    return names


async def list_builds(request: Request) -> Response:
    """
    summary: List builds, newest first (paged with limit and marker)
    responses:
      200: {description: "{marker, next_link, results: [Build]}"}
    """
    principal = await authenticate(request)
    offset, limit = page_params(request)
    owner, name = await _names(request)
    rows, more = await run_in_threadpool(_platform(request).algorithms.list_builds, principal, owner, name,
                                         offset=offset, limit=limit)
    return JSONResponse(paged(request, [shapes.build_object(b, v) for b, v in rows], offset, limit, more))


async def get_build(request: Request) -> Response:
    """
    summary: Get one build
    responses:
      200: {description: Build}
      404: {description: "code 1010: no such build"}
    """
    principal = await authenticate(request)
    owner, name = await _names(request)
    build, version = await run_in_threadpool(_platform(request).algorithms.get_build, principal, owner, name,
                                             request.path_params["build_id"])
    return JSONResponse(shapes.build_object(build, version))


async def get_build_logs(request: Request) -> Response:
    """
    summary: The full log of a finished build (404 while it is in progress)
    responses:
      200: {description: "{logs: text}"}
      404: {description: "code 1011: build not finished or has no log"}
    """
    principal = await authenticate(request)
    p = _platform(request)
    owner, name = await _names(request)
    build, _ = await run_in_threadpool(p.algorithms.get_build, principal, owner, name,
                                       request.path_params["build_id"])
    log = p.build_log(build.id) if build.status != "in-progress" else None
    if log is None:
        raise NotFound(f"logs of build {build.id} are not available until it has finished", code=1011)
    return JSONResponse({"logs": log})


async def list_versions(request: Request) -> Response:
    """
    summary: List versions newest first; published=false lists successful builds not yet published
    parameters:
      - {name: published, in: query, schema: {type: boolean}}
      - {name: callable, in: query, schema: {type: boolean}}
    responses:
      200: {description: "{marker, next_link, results: [version object]}"}
    """
    principal = await authenticate(request)
    offset, limit = page_params(request)
    p = _platform(request)
    owner, name = await _names(request)
    view, rows, more = await run_in_threadpool(
        lambda: p.algorithms.list_versions(principal, owner, name, offset=offset, limit=limit,
                                           published=query_bool(request, "published"),
                                           callable_only=query_bool(request, "callable")))
    results = [shapes.version_object(view, v, b, p.settings.base_url) for v, b in rows]
    return JSONResponse(paged(request, results, offset, limit, more))


async def get_version(request: Request) -> Response:
    """
    summary: One version (or unpublished build, for its owner) by git hash, with its build log
    responses:
      200: {description: version object}
    """
    principal = await authenticate(request)
    p = _platform(request)
    owner, name = await _names(request)
    view, version, build = await run_in_threadpool(p.algorithms.get_version_by_hash, principal, owner, name,
                                                   request.path_params["algohash"])
    return JSONResponse(shapes.version_object(view, version, build, p.settings.base_url,
                                              compilation_log=p.build_log(build.id)))


async def publish(request: Request) -> Response:
    """
    summary: Publish the most recent successful build as a new semantic version
    description: >
      version_info.version_type is major, minor (default) or revision ("patch" is accepted too).
      settings.algorithm_callability is kept from the previous version when left out. modelport
      extension - "release" (an object) is stored in the version's release record, e.g. the CI run URL.
    responses:
      200: {description: the version object with version_info.semantic_version}
      400: {description: "code 1007: that build is already published"}
    """
    principal = await authenticate(request)
    body = await json_body(request)
    p = _platform(request)
    owner, name = await _names(request)
    release = body.get("release") if isinstance(body.get("release"), dict) else None
    view, version, build = await run_in_threadpool(p.publisher.publish, principal, owner, name, body, release)
    return JSONResponse(shapes.version_object(view, version, build, p.settings.base_url,
                                              compilation_log=p.build_log(build.id)))


async def compile_algorithm(request: Request) -> Response:
    """
    summary: Build the head of master now and answer when the build has finished
    responses:
      200: {description: "the algorithm object with the new version_info.git_hash and compilation"}
    """
    principal = await authenticate(request)
    p = _platform(request)
    owner, name = await _names(request)
    require_manager(principal, owner)
    await run_in_threadpool(p.algorithms.get, principal, owner, name)
    # Backed by an external repository (source/scm.py): fetch its master (else main) and build that.
    sha = await run_in_threadpool(p.scm.fetch_default_branch, owner, name)
    if sha is None:
        sha = await run_in_threadpool(p.repos.head, owner, name, None)
    if sha is None:
        raise InvalidRequest(f"{owner}/{name} has no commits on its default branch to build")
    _, future = await run_in_threadpool(p.builds.start, owner, name, sha, "compile")
    await asyncio.wrap_future(future)
    view = await run_in_threadpool(p.algorithms.get, principal, owner, name)
    log = p.build_log(view.latest_build.id) if view.latest_build else None
    return JSONResponse(shapes.algorithm_object(view, p.settings.base_url, compilation_log=log))


def routes() -> list[Route]:
    by_name = "/v1/algorithms/{username}/{algoname}"
    # By id first, and only for UUIDs: otherwise GET /v1/algorithms/<id>/builds would match by_name.
    by_id = "/v1/algorithms/{algorithm_id:uuid}"
    both = [
        ("", get_algorithm, "GET"),
        ("", update_algorithm, "PUT"),
        ("/compile", compile_algorithm, "POST"),
        ("/builds", list_builds, "GET"),
        ("/builds/{build_id}", get_build, "GET"),
        ("/builds/{build_id}/logs", get_build_logs, "GET"),
        ("/versions", list_versions, "GET"),
        ("/versions", publish, "POST"),
        ("/version", publish, "POST"),  # Java's client publishes here
    ]
    return [
        *(Route(by_id + suffix, handler, methods=[method]) for suffix, handler, method in both),
        Route("/v1/algorithms/{username}", create_algorithm, methods=["POST"]),
        *(Route(by_name + suffix, handler, methods=[method]) for suffix, handler, method in both),
        Route(by_name, delete_algorithm, methods=["DELETE"]),
        Route(by_name + "/versions/{algohash}", get_version, methods=["GET"]),
    ]
