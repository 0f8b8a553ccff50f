"""Users and API keys: ``/v1/users`` (administrators) and ``/v1/users/{username}/keys``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelport.api import shapes
from modelport.api.requests import authenticate, json_body
from modelport.auth.errors import Forbidden, InvalidRequest
from modelport.auth.keys import STANDARD, Principal, normalise_permissions


def _not_from_algorithm(principal: Principal) -> None:
    """Keys handed to running algorithms act for a caller; they must never manage that caller's account."""
    if principal.acting_algorithm is not None:
        raise Forbidden("keys given to running algorithms cannot manage users or keys")


def _require_admin(principal: Principal) -> None:
    _not_from_algorithm(principal)
    if not principal.can_administer:
        raise Forbidden("only an administrator's key with user administration rights may do this")


def _require_self_or_admin(principal: Principal, username: str) -> None:
    _not_from_algorithm(principal)
    if principal.username != username and not principal.can_administer:
        raise Forbidden(f"Caller is not authorized to manage the keys of {username}")


async def create_user(request: Request) -> Response:
    """
    summary: Create a user (administrators only)
    responses:
      201: {description: the user}
    """
    principal = await authenticate(request)
    _require_admin(principal)
    body = await json_body(request, allow_empty=False)
    for field in ("email", "password"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise InvalidRequest(f'"{field}" must be a string')
    if not isinstance(body.get("is_admin", False), bool):
        raise InvalidRequest('"is_admin" must be true or false')
    auth = request.app.state.platform.auth
    user = await run_in_threadpool(lambda: auth.create_user(body.get("username"), email=body.get("email"),
                                                            password=body.get("password"),
                                                            is_admin=body.get("is_admin", False)))
    return JSONResponse(shapes.user_object(user), status_code=201)


async def get_user(request: Request) -> Response:
    """
    summary: Get a user (the user itself or an administrator)
    responses:
      200: {description: the user}
    """
    principal = await authenticate(request)
    username = request.path_params["username"]
    _require_self_or_admin(principal, username)
    user = await run_in_threadpool(request.app.state.platform.auth.get_user, username)
    return JSONResponse(shapes.user_object(user))


async def list_keys(request: Request) -> Response:
    """
    summary: List a user's API keys (masked; the full key is shown only at creation)
    responses:
      200: {description: "{results: [ApiKey]}"}
    """
    principal = await authenticate(request)
    username = request.path_params["username"]
    _require_self_or_admin(principal, username)
    keys = await run_in_threadpool(request.app.state.platform.auth.list_keys, username)
    return JSONResponse({"marker": None, "next_link": None, "results": keys})


def _not_stronger(requested: dict, holder: Principal) -> None:  # type: ignore[type-arg]
    """A user's own key can mint keys for that user, but none stronger than itself."""
    for name, value in requested.items():
        if name in ("algo_acl", "referer_host"):
            continue
        if value is True and not holder.permissions.get(name):
            raise Forbidden(f"this key lacks {name}, so it cannot create a key that has it")
    if requested.get("allow_algo") and "algo://*" not in (holder.permissions.get("algo_acl") or []):
        if set(requested.get("algo_acl") or []) - set(holder.permissions.get("algo_acl") or []):
            raise Forbidden("the new key's algo_acl must be within this key's algo_acl")


async def create_key(request: Request) -> Response:
    """
    summary: Create an API key; the response holds the key itself, shown this once only
    responses:
      201: {description: ApiKey with api_key}
    """
    principal = await authenticate(request)
    username = request.path_params["username"]
    _require_self_or_admin(principal, username)
    body = await json_body(request)
    key_type = body.get("key_type", STANDARD)
    if key_type in ("AlgorithmKey", "ManagementKey"):
        key_type = STANDARD
    elif key_type == "PlatformAdminKey":
        key_type = "admin"
    try:
        perms = normalise_permissions(body.get("permissions"))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if not principal.can_administer:
        if principal.key_type != STANDARD:
            raise Forbidden("this key cannot create keys")
        if key_type != STANDARD:
            raise Forbidden("only a key with user administration rights can create admin keys")
        _not_stronger(perms, principal)
    auth = request.app.state.platform.auth
    created = await run_in_threadpool(lambda: auth.create_key(username, label=body.get("key_label", "api-key"),
                                                              key_type=key_type, permissions=perms))
    return JSONResponse(created.record, status_code=201)


async def revoke_key(request: Request) -> Response:
    """
    summary: Revoke a key; it stops working at once
    responses:
      204: {description: revoked}
    """
    principal = await authenticate(request)
    username = request.path_params["username"]
    _require_self_or_admin(principal, username)
    key_id = request.path_params["key_id"]
    await run_in_threadpool(request.app.state.platform.auth.revoke_key, username, key_id)
    return Response(status_code=204)


async def whoami(request: Request) -> Response:
    """
    summary: "modelport extension: who the presented key belongs to and what it may do"
    responses:
      200: {description: "{username, is_admin, key_type, permissions}"}
    """
    principal = await authenticate(request)
    return JSONResponse({"username": principal.username, "is_admin": principal.is_admin,
                         "key_type": principal.key_type, "permissions": principal.permissions})


def routes() -> list[Route]:
    return [
        Route("/v1/whoami", whoami, methods=["GET"]),
        Route("/v1/users", create_user, methods=["POST"]),
        Route("/v1/users/{username}", get_user, methods=["GET"]),
        Route("/v1/users/{username}/keys", list_keys, methods=["GET"]),
        Route("/v1/users/{username}/keys", create_key, methods=["POST"]),
        Route("/v1/users/{username}/keys/{key_id:int}", revoke_key, methods=["DELETE"]),
    ]
