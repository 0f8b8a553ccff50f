"""Data paths as they arrive from `/v1/data/<path>` and `/v1/connector/<connector>/<path>`.

Hosted data has exactly three levels below the root: `<owner>`, `<owner>/<collection>` and
`<owner>/<collection>/<file>`; `.my` names the authenticated caller. Paths reach this module already
percent-decoded (`%2F` included), with an optional leading `data://` or `/`.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from modelport.data.errors import DataPathError

MAX_NAME_BYTES = 255

PathKind = Literal["root", "owner", "collection", "file"]

# Connector ids the Algorithmia API defines (`connectorIdParameter`); only `data` is served here.
_CONNECTOR_ID = re.compile(r"^(azureblob|data|dropbox|gs|s3)(\+[a-zA-Z0-9]+)?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
# Cc: C0, DEL and C1 controls; Cs: lone surrogates (not encodable as UTF-8); Zl/Zp: line breaks.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_UNSUPPORTED_OWNERS = {
    ".session": "data://.session paths are not supported yet: use a collection, data://.my/<collection>/<file>",
    ".algo": "data://.algo paths are not supported yet: use a collection, data://.my/<collection>/<file>",
}
_TOO_DEEP = (
    "data path {path} is too deep: hosted data holds collections directly under an owner and files "
    "directly in a collection (data://<owner>/<collection>/<file>); folders inside a collection are not "
    "supported"
)


@dataclass(frozen=True, slots=True)
class DataPath:
    """A validated hosted data path; `owner` is "" only for the root listing, `.my` is already resolved."""

    owner: str
    collection: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        # Routes may build paths by hand (a POST names the new collection in its body): keep them valid too.
        if self.owner:
            _check_characters(self.owner, "owner name")
            _check_length(self.owner)
            _check_name(self.owner, "owner")
        elif self.collection is not None:
            raise DataPathError("a collection needs an owner")
        if self.collection is not None:
            validate_collection_name(self.collection)
        elif self.file is not None:
            raise DataPathError("a file needs a collection")
        if self.file is not None:
            validate_file_name(self.file)

    @property
    def kind(self) -> PathKind:
        if self.file is not None:
            return "file"
        if self.collection is not None:
            return "collection"
        return "owner" if self.owner else "root"

    @property
    def uri(self) -> str:
        parts = [p for p in (self.owner, self.collection, self.file) if p is not None]
        return "data://" + "/".join(parts)


def parse_data_path(raw: str, *, caller: str | None) -> DataPath:
    """Parse the `<path>` of `/v1/data/<path>`; `caller` is the username `.my` stands for.

    Raises DataPathError with a message fit for the client.
    """
    if not isinstance(raw, str):
        raise DataPathError("data path must be a string")
    _check_characters(raw, "data path")
    if "\\" in raw:
        raise DataPathError(f"data path {_show(raw)} contains a backslash: separate names with '/'")

    path = raw.removeprefix("/")
    scheme = _SCHEME.match(path)
    if scheme:
        connector = scheme.group(1)
        if connector != "data":
            raise DataPathError(_connector_message(connector))
        path = path[scheme.end() :]
    if path.startswith("/"):
        raise DataPathError(
            f"data path {_show(raw)} is absolute: write data://<owner>/<collection>/<file>, "
            "without a leading '/'"
        )
    if path == "":
        return DataPath("")

    trailing_slash = path.endswith("/")
    if trailing_slash:
        path = path[:-1]
    segments = path.split("/")
    for segment in segments:
        if segment in (".", ".."):
            raise DataPathError(
                f"data path {_show(raw)} contains a {segment!r} segment, which is not allowed"
            )
        if segment == "":
            raise DataPathError(f"data path {_show(raw)} contains an empty name ('//')")
        _check_length(segment)

    owner = segments[0]
    if owner in _UNSUPPORTED_OWNERS:
        raise DataPathError(_UNSUPPORTED_OWNERS[owner])
    if owner == ".my":
        if caller is None:
            raise DataPathError("data://.my stands for the authenticated user: send an API key")
        owner = caller
    if len(segments) > 3:
        raise DataPathError(_TOO_DEEP.format(path=_show(raw)))
    if len(segments) == 3 and trailing_slash:
        raise DataPathError(f"data path {_show(raw)} ends with '/' but names a file: remove the '/'")

    collection = segments[1] if len(segments) > 1 else None
    file = segments[2] if len(segments) > 2 else None
    return DataPath(owner, collection, file)


def parse_connector_path(connector: str, raw: str, *, caller: str | None) -> DataPath:
    """Parse `/v1/connector/<connector>/<path>`; only the `data` connector is served."""
    if connector != "data":
        raise DataPathError(_connector_message(connector))
    return parse_data_path(raw, caller=caller)


def validate_collection_name(name: object) -> str:
    """Return `name` if it is a valid collection name (as in a `POST {"name": ...}` body)."""
    if not isinstance(name, str):
        raise DataPathError("collection name must be a string")
    _check_characters(name, "collection name")
    _check_length(name)
    _check_name(name, "collection")
    return name


def validate_file_name(name: object) -> str:
    """Return `name` if it is a valid file name: printable, no '/', not '.' or '..', at most 255 bytes."""
    if not isinstance(name, str):
        raise DataPathError("file name must be a string")
    if name == "":
        raise DataPathError("file name must not be empty")
    if name in (".", ".."):
        raise DataPathError(f"file name {name!r} is not allowed")
    _check_characters(name, "file name")
    if "/" in name:
        raise DataPathError(
            f"file name {_show(name)} contains '/': folders inside a collection are not supported"
        )
    if "\\" in name:
        raise DataPathError(f"file name {_show(name)} contains a backslash, which is not allowed")
    _check_length(name)
    return name


def _check_name(name: str, what: str) -> None:
    if name == "":
        raise DataPathError(f"{what} name must not be empty")
    if name.startswith("."):
        raise DataPathError(f"{what} name {_show(name)} must not start with '.'")
    if not _NAME.match(name):
        raise DataPathError(
            f"{what} name {_show(name)} is not valid: use letters, digits, '_', '-' and '.' (not first)"
        )


def _check_characters(text: str, what: str) -> None:
    for position, char in enumerate(text):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise DataPathError(
                f"{what} contains a control character (U+{ord(char):04X}) at position {position}"
            )


def _check_length(name: str) -> None:
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise DataPathError(
            f"name {_show(name)} is {size} bytes long (UTF-8); names are limited to {MAX_NAME_BYTES} bytes"
        )


def _connector_message(connector: str) -> str:
    if _CONNECTOR_ID.match(connector):
        return f"connector {connector} is not supported: this server only hosts data:// paths"
    return f"unknown connector {_show(connector)}: this server only hosts data:// paths"


def _show(text: str, limit: int = 60) -> str:
    """Quote user text for a message, cut short so a 1000-character name does not flood it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
