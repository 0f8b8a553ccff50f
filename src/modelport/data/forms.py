"""Uploads sent as a form: `curl -X PUT -F 'file=@model.pkl' …/v1/data/.my/models`, Algorithmia's own
curl sample. The body is multipart/form-data; its one file part is the file, streamed like any upload.

Fields without a filename are skipped; a second file is an error (raised while the first is still
uncommitted, so nothing is stored).
"""

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from modelport.data.errors import DataError

MAX_BOUNDARY = 70
# One part's headers (python-multipart stops at its own limit too; this also bounds older releases).
MAX_HEADER_BYTES = 8192


class FormUploadError(DataError):
    """A multipart/form-data upload body that holds no usable file part."""


@dataclass
class FormFile:
    """The file part of a form: its name as the client sent it (folders dropped) and its bytes."""

    filename: str
    chunks: AsyncIterator[bytes]


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "multipart/form-data"


async def form_file(body: AsyncIterator[bytes], content_type: str) -> FormFile:
    """Read `body` up to the start of its file part; the returned chunks stream the rest of that part."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise FormUploadError("multipart/form-data upload without a boundary in its Content-Type")
    if len(boundary) > MAX_BOUNDARY:
        raise FormUploadError(f"the form's boundary is over {MAX_BOUNDARY} characters (RFC 2046's limit)")
    reader = _FormReader(body, boundary)
    filename = await reader.file_name()
    return FormFile(filename, reader.file_chunks())


class _FormReader:
    """Drives python-multipart's push parser and turns its callbacks into a queue of events."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._events: deque[tuple[str, Any]] = deque()  # ("file", name), ("data", bytes), ("end", b"")
        self._field = self._value = b""
        self._header_bytes = 0
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._files = 0
        self._parser = MultipartParser(boundary, {  # raises nothing for boundaries of 70 bytes or fewer
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_field(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda data, start, end: self._part_data(data[start:end]),
            "on_part_end": self._part_end,
            "on_end": lambda: self._events.append(("end", b"")),
        })

    async def file_name(self) -> str:
        while True:
            kind, value = await self._next()
            if kind == "file":
                name = value.replace("\\", "/").rsplit("/", 1)[-1]
                if not name:
                    raise FormUploadError("the form's file part has an empty filename")
                return name
            if kind == "end":
                raise FormUploadError(
                    "the form holds no file: send one part with a filename (curl -F 'file=@model.pkl')")

    async def file_chunks(self) -> AsyncIterator[bytes]:
        while True:
            kind, value = await self._next()
            if kind == "data":
                yield value
            elif kind == "file":
                raise FormUploadError("the form holds more than one file: upload one file per request")
            elif kind == "end":
                return

    async def _next(self) -> tuple[str, Any]:
        while not self._events:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                raise FormUploadError("the form ended before its closing boundary: the upload is incomplete") \
                    from None
            try:
                self._parser.write(chunk)
            except FormParserError as error:
                raise FormUploadError(f"malformed multipart/form-data body: {error}") from None
        return self._events.popleft()

    # -- parser callbacks ---------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers, self._header_bytes, self._in_file = {}, 0, False

    # A header's name and value may each arrive in pieces, split where the body's chunks were.
    def _header_field(self, data: bytes) -> None:
        self._count_header(data)
        self._field += data

    def _header_value(self, data: bytes) -> None:
        self._count_header(data)
        self._value += data

    def _count_header(self, data: bytes) -> None:
        self._header_bytes += len(data)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise FormUploadError(f"a part of the form has over {MAX_HEADER_BYTES} bytes of headers")

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition = Message()
        # Clients send file names as UTF-8; other bytes stay lone surrogates, which the path check refuses.
        disposition["content-disposition"] = self._headers.get(b"content-disposition", b"").decode(
            "utf-8", "surrogateescape")
        filename = disposition.get_filename()  # filename*=UTF-8''... (RFC 2231) or filename="..."
        if filename is not None:
            self._in_file = True
            self._events.append(("file", filename))

    def _part_data(self, data: bytes) -> None:
        if self._in_file and data:
            self._events.append(("data", bytes(data)))

    def _part_end(self) -> None:
        self._in_file = False
