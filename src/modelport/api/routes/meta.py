"""Health, version and the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from modelport import __version__

schemas = SchemaGenerator({
    "openapi": "3.0.3",
    "info": {"title": "modelport", "version": __version__,
             "description": "Algorithmia v1 compatible API. Authenticate with `Authorization: Simple <key>`, "
                            "`Bearer <key>` or the bare key."},
})

_DOCS = """<!doctype html><html><head><title>modelport API</title><meta charset="utf-8">
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div><script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
<noscript>The machine-readable description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
</body></html>"""


async def healthz(request: Request) -> Response:
    """
    summary: Liveness and readiness
    responses:
      200: {description: "{status: ok, version}"}
    """
    return JSONResponse({"status": "ok", "version": __version__})


async def openapi(request: Request) -> Response:
    return JSONResponse(schemas.get_schema(routes=request.app.routes))


async def docs(request: Request) -> Response:
    return HTMLResponse(_DOCS)


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
    ]
