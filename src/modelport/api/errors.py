"""Error bodies in Algorithmia's shape: ``{"error": {"code": int, "message": str}}``."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from modelport.auth.errors import ServiceError

# Codes for plain HTTP errors raised by routing itself.
_HTTP_CODES = {401: 2002, 403: 2001, 404: 1000, 405: 2015, 413: 2015}


def error_response(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": 'Simple realm="modelport"'} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if exc.status_code != 404 else f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, 2015), message)


async def internal_error(request: Request, exc: Exception) -> Response:
    return error_response(500, 5001, "internal error; the server log has the details")
