"""Errors raised by the data package.

`status` and `code` have the same shape as the other services' errors (Algorithmia's error table), so
the API can map every DataError to `{"error": {"code", "message"}}` in one handler.
"""


class DataError(Exception):
    """Base of every error the data package raises on purpose."""

    status = 400
    code = 2015

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataPathError(DataError):
    """A data path from a request is malformed or names something unsupported."""


class AclError(DataError):
    """An ACL in a request body is not one of the three supported forms."""


class InvalidMarker(DataError):
    """A listing marker was not issued by this server for this listing."""

    code = 5002


class StorageError(DataError):
    """Base of blob storage errors; a bare StorageError is a misuse of a writer (a bug in the caller)."""

    status, code = 500, 5001


class BlobNotFound(StorageError):
    """No blob is stored under the key."""

    status, code = 404, 1000

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob stored under key {key!r}")
        self.key = key


class InvalidKey(StorageError):
    """A storage key is malformed or would resolve outside the storage root (a bug in the caller)."""


class InvalidRange(StorageError):
    """A byte range does not fit the blob."""

    status, code = 416, 2015
