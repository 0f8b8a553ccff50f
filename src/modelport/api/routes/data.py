"""Hosted data (reference section 4): `/v1/data/<path>` and `/v1/connector/<connector>/<path>`.

Paths arrive percent-decoded (the ASGI server decodes `%2F` before routing), so Java's
`/v1/data/.my%2Fcol%2Ffile` and Python's `/v1/data/.my/col/file` are the same request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import format_datetime
from typing import Any

import anyio
from starlette.endpoints import HTTPEndpoint
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from modelport.api.errors import error_response
from modelport.api.requests import TooLarge, authenticate, json_body, query_bool
from modelport.auth.errors import InvalidRequest, ServiceError
from modelport.auth.keys import Principal
from modelport.data import (
    DEFAULT_ACL,
    DataError,
    DataPath,
    format_last_modified,
    parse_acl,
    parse_acl_update,
    parse_connector_path,
    parse_data_path,
)
from modelport.data.forms import form_file, is_form
from modelport.data.ranges import UnsatisfiableRange, parse_range
from modelport.data.service import DataService, FileMeta, Listing
from modelport.data.storage import BlobReader
from modelport.data.streams import with_read_ahead

# How much of an unwanted body (over the limit) is read and dropped, and for how long at most, so
# that a client still sending sees the 413 instead of a reset connection.
DISCARD_BYTES = 16 << 20
DISCARD_SECONDS = 2.0


class DataEndpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        """
        summary: Download a file (Range requests supported) or list a directory (root, owner or collection)
        parameters:
          - {name: marker, in: query, schema: {type: string}, description: the previous page's marker}
          - {name: acl, in: query, schema: {type: boolean}, description: include the collection's ACL}
        responses:
          200: {description: "file bytes with X-Data-Type: file, or {folders?, files?, marker?, acl?}"}
          206: {description: the requested byte range}
          403: {description: the key lacks allow_data, or the collection's ACL does not allow the caller}
          404: {description: no such user, collection or file}
        """
        principal = await authenticate(request)
        path = _data_path(request, principal)
        service = _service(request)
        if path.kind == "file":
            return await _download(request, service, principal, path)
        listing = await service.listing(principal, path, request.query_params.get("marker"),
                                     bool(query_bool(request, "acl")))
        return JSONResponse(listing_json(listing), headers={"X-Data-Type": "directory"})

    async def head(self, request: Request) -> Response:
        """
        summary: Whether a file or directory exists (200 or 404, with X-Error-Message)
        responses:
          200: {description: "exists; X-Data-Type, and for files Content-Length and ETag (the md5)"}
          404: {description: does not exist}
        """
        try:
            principal = await authenticate(request)
            path = _data_path(request, principal)
            service = _service(request)
            if path.kind == "file":
                return Response(headers=_file_headers(await service.file_info(principal, path)))
            await service.check_directory(principal, path)
            return Response(headers={"X-Data-Type": "directory"})
        except (ServiceError, DataError) as exc:
            # A HEAD answer has no body, so the reason travels in a header.
            return Response(status_code=exc.status, headers={"X-Error-Message": _header_text(exc.message)})

    async def put(self, request: Request) -> Response:
        """
        summary: Upload a file, replacing any previous version atomically (the body is the file)
        description: A multipart/form-data body (`curl -X PUT -F 'file=@model.pkl'`) stores its one
          file part, at the file path given, or under the part's filename when the path is a collection.
        responses:
          200: {description: "{result: data://owner/collection/file}"}
          400: {description: not a file path (nor a collection path for a form), or a malformed form}
          403: {description: not the owner, or the key lacks allow_data_write}
          404: {description: the collection does not exist}
          413: {description: the body is over the upload limit}
        """
        principal = await authenticate(request)
        path = _data_path(request, principal)
        form = is_form(request.headers.get("content-type"))
        if path.kind != "file" and not (form and path.kind == "collection"):
            raise InvalidRequest(
                f"cannot upload to {path.uri}: PUT takes a file path, data://<owner>/<collection>/<file> "
                "(or a collection path with a multipart form, curl -F 'file=@name'); create collections "
                "with POST")
        limit = request.app.state.platform.settings.max_upload_bytes
        body = RequestBody(request, limit)
        if body.declared_size is not None and body.declared_size > limit:
            await body.discard()
            raise TooLarge(f"the file is {body.declared_size} bytes; the upload limit is {limit} bytes "
                           "(MODELPORT_MAX_UPLOAD_BYTES); nothing was written")
        try:
            chunks = body.chunks()
            if form:
                await _service(request).check_upload(principal, path)  # before parsing anything
                upload = await form_file(chunks, request.headers["content-type"])
                chunks = upload.chunks
                if path.kind == "collection":
                    path = DataPath(path.owner, path.collection, upload.filename)
            meta = await _service(request).upload(principal, path, chunks)
        except TooLarge:
            await body.discard()
            raise
        except ClientDisconnect:
            return Response(status_code=400)  # nobody reads this; the previous version is intact
        return JSONResponse({"result": meta.path.uri}, headers={"ETag": meta.etag})

    async def post(self, request: Request) -> Response:
        """
        summary: 'Create a collection: POST {"name", "acl"?} to data://<owner> (or data://.my)'
        responses:
          200: {description: "{result: data://owner/collection}"}
          400: {description: bad name or ACL, or not an owner path (collections hold no folders)}
          409: {description: the collection exists}
        """
        principal = await authenticate(request)
        path = _data_path(request, principal)
        if path.kind != "owner":
            raise InvalidRequest(
                f"cannot create a collection in {path.uri}: collections sit directly under "
                'their owner; POST {"name": ...} to data://<owner> or data://.my (folders inside a '
                "collection are not supported)")
        body = await json_body(request, allow_empty=False)
        acl = parse_acl(body["acl"]) if body.get("acl") is not None else DEFAULT_ACL
        created = await _service(request).create_collection(principal, path.owner, body.get("name"), acl)
        return JSONResponse({"result": created.uri})

    async def patch(self, request: Request) -> Response:
        """
        summary: 'Update a collection''s read ACL: {"acl": {"read": []}}'
        responses:
          200: {description: updated (empty body)}
          400: {description: not one of the three ACL forms}
        """
        principal = await authenticate(request)
        path = _data_path(request, principal)
        if path.kind != "collection":
            raise InvalidRequest(f"cannot set an ACL on {path.uri}: ACLs belong to collections, "
                                 "data://<owner>/<collection>")
        acl = parse_acl_update(await json_body(request, allow_empty=False))
        await _service(request).update_acl(principal, path, acl)
        return Response(status_code=200)

    async def delete(self, request: Request) -> Response:
        """
        summary: Delete a file, or a collection (refused when it holds files unless force=true)
        parameters:
          - {name: force, in: query, schema: {type: boolean}}
        responses:
          200: {description: "{result: {deleted: N}}"}
          409: {description: the collection is not empty}
        """
        principal = await authenticate(request)
        path = _data_path(request, principal)
        deleted = await _service(request).delete(principal, path, force=bool(query_bool(request, "force")))
        return JSONResponse({"result": {"deleted": deleted}})


class RequestBody:
    """An upload body as a stream of chunks, never held whole; stops once past `limit` bytes."""

    def __init__(self, request: Request, limit: int) -> None:
        self._receive = request.receive
        self._limit = limit
        self._started = False
        self._finished = False
        declared = request.headers.get("content-length", "")
        self.declared_size = int(declared) if declared.isdigit() else None
        self._expects_continue = request.headers.get("expect", "").lower() == "100-continue"

    async def chunks(self) -> AsyncIterator[bytes]:
        size = 0
        self._started = True
        while not self._finished:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            self._finished = not message.get("more_body", False)
            size += len(chunk)
            if size > self._limit:
                raise TooLarge(f"the body is over the upload limit of {self._limit} bytes "
                               "(MODELPORT_MAX_UPLOAD_BYTES); nothing was written")
            if chunk:
                yield chunk

    async def discard(self, budget: int = DISCARD_BYTES) -> None:
        """Read and drop the rest of the body, up to `budget` bytes, so that a client still sending
        reads our error instead of a reset connection."""
        if self._expects_continue and not self._started:
            return  # the client waits for "100 Continue" before sending: it will read the error first
        with anyio.move_on_after(DISCARD_SECONDS):
            while not self._finished and budget >= 0:
                message = await self._receive()
                if message["type"] != "http.request":
                    return
                budget -= len(message.get("body", b""))
                self._finished = not message.get("more_body", False)


class BlobResponse(StreamingResponse):
    """Streams a BlobReader, reading the next chunk while the previous one is being sent, and closes
    the reader however the response ends (done, client gone, error)."""

    def __init__(self, reader: BlobReader, status_code: int, headers: dict[str, str]) -> None:
        super().__init__(reader, status_code=status_code, headers=headers)
        self._reader = reader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stream(blocks: AsyncIterator[bytes]) -> None:
            self.body_iterator = blocks
            await super(BlobResponse, self).__call__(scope, receive, send)

        try:
            await with_read_ahead(self._reader, stream, block_size=1)
        finally:
            with anyio.CancelScope(shield=True):
                await self._reader.aclose()


def listing_json(listing: Listing) -> dict[str, Any]:
    """The directory object: each key only when it has something (the clients test for presence)."""
    body: dict[str, Any] = {}
    if listing.folders:
        body["folders"] = [{"name": name} for name in listing.folders]
    if listing.files:
        body["files"] = [{"filename": f.name, "last_modified": format_last_modified(f.last_modified),
                          "size": f.size} for f in listing.files]
    if listing.marker:
        body["marker"] = listing.marker
    if listing.acl is not None:
        body["acl"] = listing.acl.to_json()
    return body


async def data_error(request: Request, exc: Exception) -> Response:
    """Errors of the data package, in the same `{"error": {"code", "message"}}` shape as ServiceError."""
    assert isinstance(exc, DataError)
    headers = {"Content-Range": f"bytes */{exc.size}"} if isinstance(exc, UnsatisfiableRange) else None
    return error_response(exc.status, exc.code, exc.message, headers)


async def _download(request: Request, service: DataService, principal: Principal, path: DataPath) -> Response:
    byte_range = parse_range(request.headers.get("range"))
    meta, reader = await service.open_file(principal, path, byte_range, request.headers.get("if-range"))
    headers = _file_headers(meta)
    if _etag_matches(request.headers.get("if-none-match"), meta.etag):
        await reader.aclose()
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Length"})
    status = 200
    if (reader.start, reader.end) != (0, reader.size):
        status = 206
        headers["Content-Range"] = f"bytes {reader.start}-{reader.end - 1}/{reader.size}"
    headers["Content-Length"] = str(reader.end - reader.start)
    return BlobResponse(reader, status_code=status, headers=headers)


def _file_headers(meta: FileMeta) -> dict[str, str]:
    return {
        "X-Data-Type": "file",
        # The charset keeps the clients' getString() (requests' `.text`) from guessing: short non-ASCII
        # text came back garbled without it. Bytes are served as stored either way.
        "Content-Type": "application/octet-stream; charset=utf-8",
        "Content-Length": str(meta.size),
        "ETag": meta.etag,
        "Last-Modified": format_datetime(meta.last_modified.replace(tzinfo=UTC), usegmt=True),
        "Accept-Ranges": "bytes",
    }


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def _data_path(request: Request, principal: Principal) -> DataPath:
    raw = request.path_params.get("path", "")
    connector = request.path_params.get("connector")
    if connector is None:
        return parse_data_path(raw, caller=principal.username)
    return parse_connector_path(connector, raw, caller=principal.username)


def _header_text(message: str) -> str:
    # Header values are latin-1 and single-line; keep any other character readable as an escape.
    return message.replace("\r", " ").replace("\n", " ").encode("ascii", "backslashreplace").decode("ascii")


def _service(request: Request) -> DataService:
    service: DataService = request.app.state.platform.data
    return service


def routes() -> list[Route]:
    return [
        Route("/v1/data", DataEndpoint),
        Route("/v1/data/{path:path}", DataEndpoint),
        Route("/v1/connector/{connector}", DataEndpoint),
        Route("/v1/connector/{connector}/{path:path}", DataEndpoint),
    ]
