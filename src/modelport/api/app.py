"""The ASGI application: every route family, error handlers, and the platform's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from modelport.api import errors
from modelport.api.routes import algorithms, calls, meta, users
from modelport.auth.errors import ServiceError
from modelport.platform import Platform


def create_app(platform: Platform) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    app = Starlette(
        routes=[*meta.routes(), *calls.routes(), *users.routes(), *algorithms.routes(),
                Mount("/git", app=platform.git_app())],
        exception_handlers={
            ServiceError: errors.service_error,
            HTTPException: errors.http_error,
            Exception: errors.internal_error,
        },
        lifespan=lifespan,
    )
    app.state.platform = platform
    return app
