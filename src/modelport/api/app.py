"""The ASGI application: every route family, error handlers, and the platform's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from modelport.api import errors
from modelport.api.routes import algorithms, calls, data, meta, scm, users
from modelport.auth.errors import ServiceError
from modelport.data import DataError
from modelport.platform import Platform


class ModelportApp(Starlette):
    """Starlette, with the call API answered before the middleware stack and router (the hot path)."""

    call_endpoint: calls.CallEndpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(calls.PREFIX):
            await self.call_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(platform: Platform) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    call_endpoint = calls.CallEndpoint(platform)
    app = ModelportApp(
        routes=[*meta.routes(), *calls.routes(call_endpoint), *users.routes(), *algorithms.routes(), *data.routes(),
                *scm.routes(), Mount("/git", app=platform.git_app())],
        exception_handlers={
            ServiceError: errors.service_error,
            DataError: data.data_error,
            HTTPException: errors.http_error,
            Exception: errors.internal_error,
        },
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.call_endpoint = call_endpoint
    return app
