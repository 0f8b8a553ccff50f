"""External repositories (reference 3.2): the provider's push webhook and the connection status."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelport.algorithms.service import require_manager
from modelport.api.requests import authenticate, read_body
from modelport.auth.errors import NotFound


async def _names(request: Request) -> tuple[str, str]:
    params = request.path_params
    if "algoname" in params:
        return params["username"], params["algoname"]
    algorithms = request.app.state.platform.algorithms
    names = await run_in_threadpool(algorithms.names_for_id, str(params["algorithm_id"]))
    if names is None:
        raise NotFound(f"No such algorithm with id {params['algorithm_id']}", code=1009)
    return names


async def webhook(request: Request) -> Response:
    """
    summary: Push webhook of GitHub or GitLab; authenticated by its signature, not by an API key
    description: >
      GitHub - X-GitHub-Event and X-Hub-Signature-256 (HMAC-SHA256 of the body with the webhook
      secret). GitLab - X-Gitlab-Event and X-Gitlab-Token (the secret). A push to master or main
      fetches that commit from the external repository and starts its build before answering.
    responses:
      204: {description: a build of the pushed commit was started}
      202: {description: "{reason} - ignored (ping, another branch or event, a branch deletion)"}
      400: {description: unparsable payload or not a GitHub/GitLab delivery}
      401: {description: missing or wrong signature; nothing was changed}
      404: {description: no such algorithm backed by an external repository}
      502: {description: the commit could not be fetched from the external repository}
    """
    p = request.app.state.platform
    owner, name = await _names(request)
    body = await read_body(request, p.settings.max_body_bytes)
    outcome = await run_in_threadpool(p.scm.handle_webhook, owner, name, request.headers, body)
    if outcome.build_id is not None:
        return Response(status_code=204)
    return JSONResponse({"reason": outcome.reason}, status_code=202)


async def status(request: Request) -> Response:
    """
    summary: Connection to the external repository, webhook URL and secret (owner only)
    responses:
      200: {description: "{scm_connection_status, repository_webhook_secret, repository_webhook_url}"}
    """
    principal = await authenticate(request)
    p = request.app.state.platform
    owner, name = await _names(request)
    require_manager(principal, owner)
    await run_in_threadpool(p.algorithms.get, principal, owner, name)
    return JSONResponse(await run_in_threadpool(p.scm.status, owner, name))


def routes() -> list[Route]:
    u = "/v1/algorithms/{username}/{algoname}/scm"
    i = "/v1/algorithms/{algorithm_id}/scm"
    return [
        Route(u + "/webhook", webhook, methods=["POST"]),
        Route(u + "/status", status, methods=["GET"]),
        Route(i + "/webhook", webhook, methods=["POST"]),
        Route(i + "/status", status, methods=["GET"]),
    ]
