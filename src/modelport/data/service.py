"""Hosted data collections: the operations behind `/v1/data`, on the database and a BlobStorage.

Metadata (collections, read ACLs, file names, sizes, digests) lives in the database; contents live in
the storage under a fresh key per upload, `<collection id>/<random hex>`. An upload streams into a new
blob, then one transaction points the file's row at it, then the replaced blob is deleted: readers see
the old version or the new one, and a failure before that transaction leaves the previous version.
A collection's `acl` column holds the read list as sent on the wire (`[]`, `["user://*"]`, ...).
"""

import logging
import threading
import uuid
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelport.auth.errors import Conflict, Forbidden, InvalidRequest, NotFound, ServiceError
from modelport.auth.keys import Principal
from modelport.data.acl import CollectionAcl, can_read, parse_acl
from modelport.data.errors import BlobNotFound
from modelport.data.listing import PAGE_SIZE, decode_marker, encode_marker
from modelport.data.paths import DataPath
from modelport.data.ranges import ByteRange
from modelport.data.storage import BlobReader, BlobStorage, write_stream
from modelport.data.streams import with_read_ahead
from modelport.db import Database
from modelport.db.models import DataCollection, DataFile, User, utcnow

log = logging.getLogger("modelport.data")

_OPEN_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class FileMeta:
    """One stored file version."""

    path: DataPath
    size: int
    md5: str
    sha256: str
    storage_key: str
    last_modified: datetime

    @property
    def etag(self) -> str:
        return f'"{self.md5}"'


@dataclass(frozen=True, slots=True)
class FileEntry:
    name: str
    size: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a directory: `marker` resumes after it; `acl` only when asked for, on a collection."""

    folders: list[str]
    files: list[FileEntry]
    marker: str | None = None
    acl: CollectionAcl | None = None


class DataService:
    def __init__(self, db: Database, storage: BlobStorage, secret: bytes) -> None:
        self.db = db
        self.storage = storage
        self._secret = secret
        # File rows change one at a time in this process, so the blob key an upload replaces is the
        # one it read in its transaction (SQLite has no SELECT ... FOR UPDATE).
        self._rows = threading.Lock()

    # --- reads ---------------------------------------------------------------------------------

    async def file_info(self, principal: Principal, path: DataPath) -> FileMeta:
        _require_read_key(principal)
        return await anyio.to_thread.run_sync(self._file_meta, principal, path)

    async def open_file(
        self,
        principal: Principal,
        path: DataPath,
        byte_range: ByteRange | None = None,
        if_range: str | None = None,
    ) -> tuple[FileMeta, BlobReader]:
        """The current version of a file and a reader of `byte_range` of it (the whole file when the
        range is None or `if_range` names another version); raises UnsatisfiableRange."""
        _require_read_key(principal)
        previous_key = None
        for _ in range(_OPEN_ATTEMPTS):
            meta = await anyio.to_thread.run_sync(self._file_meta, principal, path)
            start, end = 0, None
            if byte_range is not None and (if_range is None or if_range == meta.etag):
                start, end = byte_range.resolve(meta.size)
            try:
                return meta, await self.storage.open_reader(meta.storage_key, start, end)
            except BlobNotFound:
                # An upload replaced the file between the lookup and the open: look it up again.
                if meta.storage_key == previous_key:
                    break
                previous_key = meta.storage_key
        raise ServiceError(
            f"the contents of {path.uri} are missing from storage: the data dir was changed outside "
            "modelport; upload the file again",
            status=500,
            code=5001,
        )

    async def check_directory(self, principal: Principal, path: DataPath) -> None:
        """Raise NotFound or Forbidden unless `path` is a directory the principal may list."""
        _require_read_key(principal)
        await anyio.to_thread.run_sync(self._check_directory, principal, path)

    async def listing(self, principal: Principal, path: DataPath, marker: str | None, with_acl: bool) -> Listing:
        """A page of the root (owners), an owner (collections) or a collection (files)."""
        _require_read_key(principal)
        return await anyio.to_thread.run_sync(self._list, principal, path, marker, with_acl)

    # --- writes --------------------------------------------------------------------------------

    async def upload(self, principal: Principal, path: DataPath, chunks: AsyncIterable[bytes]) -> FileMeta:
        """Store `chunks` as the new version of the file at `path`; its collection must exist.

        Permissions are checked before the first chunk is read. If `chunks` fails (client gone, body too
        large), the previous version stays.
        """
        _require_write(principal, path, "file")
        collection_id = await anyio.to_thread.run_sync(self._collection_id, path)
        key = f"{collection_id}/{uuid.uuid4().hex}"
        info = await with_read_ahead(chunks, lambda blocks: write_stream(self.storage, key, blocks))
        # The blob is committed (the commit shields itself); until a row points at it, a cancellation
        # would only orphan it, so recording it and dropping the old version must run to the end.
        with anyio.CancelScope(shield=True):
            try:
                meta, replaced = await anyio.to_thread.run_sync(
                    self._record, collection_id, path, key, info.size, info.md5, info.sha256
                )
            except BaseException:
                await self._delete_blobs([key])
                raise
            if replaced is not None:
                await self._delete_blobs([replaced])
        return meta

    async def check_upload(self, principal: Principal, path: DataPath) -> None:
        """Raise now what an upload into `path`'s collection would (not the owner, no write scope, no such
        collection), before any of its body is read."""
        _require_write(principal, path, path.kind)
        await anyio.to_thread.run_sync(self._collection_id, path)

    async def create_collection(
        self, principal: Principal, owner: str, name: object, acl: CollectionAcl
    ) -> DataPath:
        if not isinstance(name, str):
            raise InvalidRequest('"name" must be a string: the new collection\'s name')
        path = DataPath(owner, name)
        _require_write(principal, path, "collection")
        await anyio.to_thread.run_sync(self._create_collection, path, acl)
        return path

    async def update_acl(self, principal: Principal, path: DataPath, acl: CollectionAcl) -> None:
        _require_write(principal, path, "collection")
        await anyio.to_thread.run_sync(self._update_acl, path, acl)

    async def delete(self, principal: Principal, path: DataPath, *, force: bool = False) -> int:
        """Delete a file, or a collection (only when empty unless `force`); returns the files deleted."""
        if path.kind not in ("file", "collection"):
            raise InvalidRequest(
                f"{path.uri} is not a collection or a file: only those can be deleted"
            )
        _require_write(principal, path, path.kind)
        if path.kind == "file":
            keys = await anyio.to_thread.run_sync(self._delete_file, path)
        else:
            keys = await anyio.to_thread.run_sync(self._delete_collection, path, force)
        with anyio.CancelScope(shield=True):
            await self._delete_blobs(keys)
        return len(keys)

    # --- database side (runs in worker threads) --------------------------------------------------

    def _file_meta(self, principal: Principal, path: DataPath) -> FileMeta:
        with self.db.session() as s:
            collection, _ = self._readable_collection(s, principal, path)
            row = s.scalar(
                select(DataFile).where(DataFile.collection_id == collection.id, DataFile.name == path.file)
            )
            if row is None:
                raise NotFound(f"{path.uri} does not exist", code=1000)
            return FileMeta(path, row.size, row.md5, row.sha256, row.storage_key, row.last_modified)

    def _check_directory(self, principal: Principal, path: DataPath) -> None:
        with self.db.session() as s:
            if path.kind == "collection":
                self._readable_collection(s, principal, path)
            elif path.kind == "owner":
                self._owner_id(s, path.owner)

    def _list(self, principal: Principal, path: DataPath, marker: str | None, with_acl: bool) -> Listing:
        scope = path.uri
        after = None if not marker else decode_marker(marker, secret=self._secret, scope=scope)
        with self.db.session() as s:
            if path.kind == "collection":
                collection, acl = self._readable_collection(s, principal, path)
                query = select(DataFile.name, DataFile.size, DataFile.last_modified).where(
                    DataFile.collection_id == collection.id
                )
                if after is not None:
                    query = query.where(DataFile.name > after)
                rows = s.execute(query.order_by(DataFile.name).limit(PAGE_SIZE + 1)).all()
                files = [FileEntry(name, size, modified) for name, size, modified in rows[:PAGE_SIZE]]
                next_marker = self._marker(files[-1].name, scope) if len(rows) > PAGE_SIZE else None
                return Listing([], files, next_marker, acl if with_acl else None)
            if path.kind == "owner":
                names = self._readable_collections(s, principal, path.owner, after)
                return self._folder_page(list(islice(names, PAGE_SIZE + 1)), PAGE_SIZE, scope)
            # The root: the caller first (the Python client's username() takes the first folder), then
            # every other owner with a collection the caller may read.
            first_page = after is None
            owners = self._readable_owners(s, principal, after)
            size = PAGE_SIZE - 1 if first_page else PAGE_SIZE
            page = self._folder_page(list(islice(owners, size + 1)), size, scope)
            if first_page:
                page.folders.insert(0, principal.username)
            return page

    def _folder_page(self, names: list[str], size: int, scope: str) -> Listing:
        more = len(names) > size
        names = names[:size]
        return Listing(names, [], self._marker(names[-1], scope) if more and names else None)

    def _readable_collections(self, s: Session, principal: Principal, owner: str, after: str | None) -> Iterable[str]:
        owner_id = self._owner_id(s, owner)
        query = select(DataCollection.name, DataCollection.acl).where(DataCollection.owner_id == owner_id)
        if after is not None:
            query = query.where(DataCollection.name > after)
        for name, acl in s.execute(query.order_by(DataCollection.name)):
            if self._may_read(principal, owner, acl):
                yield name

    def _readable_owners(self, s: Session, principal: Principal, after: str | None) -> Iterable[str]:
        query = (
            select(User.username, DataCollection.acl)
            .select_from(DataCollection)
            .join(User, DataCollection.owner_id == User.id)
            .where(User.username != principal.username)
        )
        if after is not None:
            query = query.where(User.username > after)
        last = None
        for owner, acl in s.execute(query.order_by(User.username)):
            if owner != last and self._may_read(principal, owner, acl):
                last = owner
                yield owner

    def _collection_id(self, path: DataPath) -> int:
        with self.db.session() as s:
            return self._find_collection(s, path).id

    def _record(
        self, collection_id: int, path: DataPath, key: str, size: int, md5: str, sha256: str
    ) -> tuple[FileMeta, str | None]:
        now = utcnow()
        with self._rows, self.db.session() as s:
            if s.get(DataCollection, collection_id) is None:
                raise NotFound(
                    f"collection {_collection_uri(path)} was deleted while {path.uri} was being uploaded"
                )
            row = s.scalar(
                select(DataFile).where(DataFile.collection_id == collection_id, DataFile.name == path.file)
            )
            replaced = None
            if row is None:
                s.add(DataFile(collection_id=collection_id, name=path.file, size=size, md5=md5, sha256=sha256,
                               storage_key=key, last_modified=now))
            else:
                replaced = row.storage_key
                row.size, row.md5, row.sha256, row.storage_key, row.last_modified = size, md5, sha256, key, now
        return FileMeta(path, size, md5, sha256, key, now), replaced

    def _create_collection(self, path: DataPath, acl: CollectionAcl) -> None:
        try:
            with self.db.session() as s:
                owner_id = self._owner_id(s, path.owner)
                exists = s.scalar(
                    select(DataCollection.id).where(
                        DataCollection.owner_id == owner_id, DataCollection.name == path.collection
                    )
                )
                if exists is None:
                    s.add(DataCollection(owner_id=owner_id, name=path.collection, acl=acl.read))
                    s.flush()
        except IntegrityError:
            exists = True  # created at the same moment by another request
        if exists is not None:
            raise Conflict(f"collection {path.uri} already exists", code=1002)

    def _update_acl(self, path: DataPath, acl: CollectionAcl) -> None:
        with self.db.session() as s:
            self._find_collection(s, path).acl = acl.read

    def _delete_file(self, path: DataPath) -> list[str]:
        with self._rows, self.db.session() as s:
            collection = self._find_collection(s, path)
            row = s.scalar(
                select(DataFile).where(DataFile.collection_id == collection.id, DataFile.name == path.file)
            )
            if row is None:
                raise NotFound(f"{path.uri} does not exist", code=1000)
            s.delete(row)
            return [row.storage_key]

    def _delete_collection(self, path: DataPath, force: bool) -> list[str]:
        with self._rows, self.db.session() as s:
            collection = self._find_collection(s, path)
            keys = list(s.scalars(select(DataFile.storage_key).where(DataFile.collection_id == collection.id)))
            if keys and not force:
                raise Conflict(
                    f"collection {path.uri} is not empty ({len(keys)} file{'s' if len(keys) > 1 else ''}): "
                    "delete its files first, "
                    "or pass force=true to delete it with everything in it",
                    code=2015,
                )
            s.execute(delete(DataFile).where(DataFile.collection_id == collection.id))
            s.delete(collection)
            return keys

    def _find_collection(self, s: Session, path: DataPath) -> DataCollection:
        collection = s.scalar(
            select(DataCollection)
            .join(User, DataCollection.owner_id == User.id)
            .where(User.username == path.owner, DataCollection.name == path.collection)
        )
        if collection is None:
            uri = _collection_uri(path)
            raise NotFound(
                f"collection {uri} does not exist: its owner can create it with "
                f'POST /v1/data/{path.owner} {{"name": "{path.collection}"}} or `modelport data mkdir {uri}`',
                code=1000,
            )
        return collection

    def _readable_collection(
        self, s: Session, principal: Principal, path: DataPath
    ) -> tuple[DataCollection, CollectionAcl]:
        uri = _collection_uri(path)
        # Others, and other users' algorithms acting for the owner, get the same answer whether the
        # collection is missing or unreadable (HEAD stays 200/404, as Java's exists() needs), so its
        # name does not leak. The owner and the owner's algorithms are told why.
        told_why = principal.username == path.owner and _acting_owner(principal) in (None, path.owner)
        unseen = NotFound(f"collection {uri} does not exist, or {principal.username} may not read it", code=1000)
        try:
            collection = self._find_collection(s, path)
        except NotFound:
            if told_why:
                raise
            raise unseen from None
        acl = _stored_acl(collection.acl)
        if can_read(acl, path.owner, *_reader(principal)):
            return collection, acl
        if not told_why:
            raise unseen
        if principal.as_algorithm:
            raise Forbidden(
                f"{principal.acting_algorithm} may not read {uri} while it loads: a private collection "
                f"is for {path.owner} only; give it the default ACL, algo://.my/*, so {path.owner}'s "
                "algorithms can read it", code=2001)
        raise _no_data_scope()  # the owner's key without data scope, inside one of its algorithms

    def _may_read(self, principal: Principal, owner: str, stored_acl: Any) -> bool:
        return can_read(_stored_acl(stored_acl), owner, *_reader(principal))

    @staticmethod
    def _owner_id(s: Session, owner: str) -> int:
        owner_id = s.scalar(select(User.id).where(User.username == owner))
        if owner_id is None:
            raise NotFound(f"no user named {owner!r}: data://{owner} does not exist", code=1000)
        return owner_id

    def _marker(self, last_name: str, scope: str) -> str:
        return encode_marker(last_name, secret=self._secret, scope=scope)

    async def _delete_blobs(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.storage.delete(key)
            except Exception:
                # The metadata is already right; a leftover blob only wastes space.
                log.warning("could not delete replaced blob %s", key, exc_info=True)


def _no_data_scope() -> Forbidden:
    return Forbidden("this API key may not read data (it lacks allow_data): use a key with data access")


def _reader(principal: Principal) -> tuple[str | None, str | None]:
    """Whose rights a read carries: the user's (with a key that has allow_data, and not an algorithm's
    own load-time key), and those of the owner of the algorithm the key was handed to."""
    user = principal.username if principal.can("allow_data") and not principal.as_algorithm else None
    return user, _acting_owner(principal)


def _require_read_key(principal: Principal) -> None:
    if _reader(principal) == (None, None):
        raise _no_data_scope()


def _require_write(principal: Principal, path: DataPath, kind: str) -> None:
    if path.kind != kind:
        raise InvalidRequest(f"{path.uri} is not a {kind} path")
    if not principal.can("allow_data_write"):
        raise Forbidden(
            "this API key may not write data (it lacks allow_data_write): use a key with read & write data access"
        )
    if principal.username != path.owner:
        raise Forbidden(f"{principal.username} may not change {path.uri}: only {path.owner} writes there")


def _acting_owner(principal: Principal) -> str | None:
    if principal.acting_algorithm is None:
        return None
    return principal.acting_algorithm.split("/", 1)[0]


def _stored_acl(stored: Any) -> CollectionAcl:
    return parse_acl({"read": list(stored or [])})


def _collection_uri(path: DataPath) -> str:
    return f"data://{path.owner}/{path.collection}"
