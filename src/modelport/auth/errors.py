"""Errors a caller of the services must handle. The API maps each to a status and an Algorithmia code."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: ``status`` and ``code`` follow Algorithmia's error table (reference 3.7)."""

    status = 400
    code = 2015

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class InvalidRequest(ServiceError):
    status, code = 400, 2015


class Unauthenticated(ServiceError):
    status, code = 401, 2002


class Forbidden(ServiceError):
    status, code = 403, 2001


class NotFound(ServiceError):
    status, code = 404, 1000


class Conflict(ServiceError):
    status, code = 409, 1002
