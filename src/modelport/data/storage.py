"""Blob storage for hosted data files: the interface, and the local-filesystem implementation.

Keys are `/`-separated relative names built by the caller from validated data path names, e.g.
`alice/models/model.pkl`. The interface is async so an S3-compatible store can implement it with
network calls; `LocalStorage` runs its blocking file I/O in anyio's thread pool, 1 MiB at a time.
"""

import errno
import fcntl
import hashlib
import io
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread

from modelport.data.errors import BlobNotFound, InvalidKey, InvalidRange, StorageError

CHUNK_SIZE = 1 << 20

# md5 is the slowest step (no SIMD form): it runs beside sha256 and the write, which hashlib allows by
# releasing the GIL, so a chunk takes about as long as its md5 instead of md5 + sha256 + write.
_MD5_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="modelport-md5")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a committed upload stored: byte count and hex digests of exactly those bytes."""

    size: int
    md5: str
    sha256: str


class BlobWriter(Protocol):
    """One upload in progress; invisible to readers until `commit()`."""

    async def write(self, chunk: bytes) -> None:
        """Append bytes; memory held stays bounded (about one chunk) whatever the total size."""

    async def commit(self) -> BlobInfo:
        """Publish the blob atomically, replacing any previous version; on failure the upload is aborted.

        Once started, a commit runs to its end even if the calling task is cancelled.
        """

    async def abort(self) -> None:
        """Discard the upload, leaving any previous version in place; idempotent, a no-op after commit."""


class BlobReader(Protocol):
    """The bytes `start <= offset < end` of one blob version, fixed when the reader was opened."""

    @property
    def size(self) -> int:
        """Size of the whole blob."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int:
        """Exclusive end offset, at most `size`."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Chunks of at most 1 MiB; the reader closes itself once the range is exhausted."""

    async def aclose(self) -> None:
        """Release the reader early (for example when the client went away); idempotent."""


class BlobStorage(Protocol):
    """Where file contents live; metadata (names, sizes, ACLs, times) lives in the database."""

    async def open_writer(self, key: str) -> BlobWriter:
        """Start an upload to `key`; raises InvalidKey."""

    async def open_reader(self, key: str, start: int = 0, end: int | None = None) -> BlobReader:
        """Open the current version of `key` for reading bytes [start, end), `end` clamped to the size.

        Raises BlobNotFound, InvalidKey, and InvalidRange when start < 0, start > size or end < start.
        A version replaced after this returns keeps being served to this reader.
        """

    async def size(self, key: str) -> int:
        """Size in bytes; raises BlobNotFound, InvalidKey."""

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`; raises InvalidKey."""

    async def delete(self, key: str) -> bool:
        """Delete one blob; False if there was none. Readers already open keep their bytes."""

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with `prefix` (which must end with '/'); returns the count."""


async def write_stream(storage: BlobStorage, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
    """Store `chunks` under `key`, aborting the upload if the stream fails (client gone, cancellation)."""
    writer = await storage.open_writer(key)
    try:
        async for chunk in chunks:
            await writer.write(chunk)
    except BaseException:
        await writer.abort()
        raise
    return await writer.commit()


class LocalStorage:
    """Blobs as files under `root/blobs/<key>`; uploads are written under `root/tmp/` and renamed in.

    `root/tmp` is on the same filesystem, so `os.replace` is atomic: readers see the old file or the
    new one, never a partial one. Temp files left by a crash are removed when a LocalStorage starts.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._blobs_real = os.path.realpath(self._blobs)
        self.cleanup_temp()

    def cleanup_temp(self) -> int:
        """Remove uploads and deletions left unfinished by dead processes; returns how many entries went."""
        removed = 0
        for entry in os.scandir(self._tmp):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
                continue
            try:
                fd = os.open(entry.path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                # A live writer (in any process sharing this root) holds an exclusive flock on its file.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            else:
                _unlink_quietly(entry.path)
                removed += 1
            finally:
                os.close(fd)
        return removed

    def path_of(self, key: str) -> str:
        """The real filesystem path for `key`; raises InvalidKey if it is malformed or escapes the root."""
        if not isinstance(key, str) or key == "":
            raise InvalidKey("storage key must be a non-empty string")
        if "\x00" in key or key.startswith("/") or any(s in ("", ".", "..") for s in key.split("/")):
            raise InvalidKey(f"storage key {key!r} is not a relative path of plain names")
        path = os.path.realpath(os.path.join(self._blobs_real, key))
        # realpath follows symlinks, so a link planted inside the tree cannot lead outside it.
        if path == self._blobs_real or os.path.commonpath([path, self._blobs_real]) != self._blobs_real:
            raise InvalidKey(f"storage key {key!r} resolves outside the storage root")
        return path

    async def open_writer(self, key: str) -> "LocalWriter":
        return LocalWriter(self.path_of(key), str(self._tmp))

    async def open_reader(self, key: str, start: int = 0, end: int | None = None) -> "LocalReader":
        path = self.path_of(key)
        file = await anyio.to_thread.run_sync(_open_regular_file, path, key)
        try:
            size = os.fstat(file.fileno()).st_size
            stop = size if end is None else min(end, size)
            if start < 0 or start > size or stop < start:
                raise InvalidRange(f"byte range [{start}, {end}) does not fit a blob of {size} bytes")
        except BaseException:
            file.close()
            raise
        return LocalReader(file, size, start, stop)

    async def size(self, key: str) -> int:
        path = self.path_of(key)
        st = await anyio.to_thread.run_sync(_stat_or_none, path)
        if st is None or not stat.S_ISREG(st.st_mode):
            raise BlobNotFound(key)
        return st.st_size

    async def exists(self, key: str) -> bool:
        st = await anyio.to_thread.run_sync(_stat_or_none, self.path_of(key))
        return st is not None and stat.S_ISREG(st.st_mode)

    async def delete(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(_unlink_if_file, self.path_of(key))

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise InvalidKey(f"prefix {prefix!r} must end with '/'")
        path = self.path_of(prefix[:-1])
        return await anyio.to_thread.run_sync(self._delete_tree, path)

    def _delete_tree(self, path: str) -> int:
        # Move the folder out of the tree first: it vanishes at once for readers and writers, and a
        # crash halfway through the removal leaves only a folder under tmp/ for cleanup_temp().
        if not os.path.isdir(path):
            return 0
        doomed = os.path.join(self._tmp, f"deleting-{uuid.uuid4().hex}")
        try:
            os.rename(path, doomed)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        count = sum(len(files) for _, _, files in os.walk(doomed))
        shutil.rmtree(doomed, ignore_errors=True)
        return count


class LocalWriter:
    """An upload to a temp file: hashed and written 1 MiB at a time, renamed into place on commit."""

    def __init__(self, target: str, tmp_dir: str) -> None:
        self._target = target
        fd, self._tmp_path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        self._buffer = bytearray()
        self._md5 = hashlib.md5()
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._state = "open"

    async def write(self, chunk: bytes) -> None:
        self._assert_open("write")
        if not self._buffer and len(chunk) >= CHUNK_SIZE:
            await self._flush(chunk)
            return
        self._buffer += chunk
        if len(self._buffer) >= CHUNK_SIZE:
            data, self._buffer = self._buffer, bytearray()
            await self._flush(data)

    async def commit(self) -> BlobInfo:
        self._assert_open("commit")
        self._state = "committing"
        data, self._buffer = self._buffer, bytearray()
        try:
            # Shielded: once the rename may have happened, the caller must learn the outcome.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._finish, data)
        except BaseException:
            await self.abort()
            raise
        self._state = "committed"
        return BlobInfo(self._size, self._md5.hexdigest(), self._sha256.hexdigest())

    async def abort(self) -> None:
        if self._state in ("committed", "aborted"):
            return
        self._state = "aborted"
        self._buffer = bytearray()
        # Shielded: abort runs from cancelled requests, and must still close and remove the temp file.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._discard)

    async def _flush(self, data: bytes | bytearray) -> None:
        try:
            await anyio.to_thread.run_sync(self._write_out, data)
        except BaseException:
            self._state = "failed"
            raise

    def _assert_open(self, operation: str) -> None:
        if self._state != "open":
            raise StorageError(f"cannot {operation}: upload is {self._state}")

    def _write_out(self, data: bytes | bytearray) -> None:
        md5 = _MD5_POOL.submit(self._md5.update, data)
        try:
            self._sha256.update(data)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        finally:
            md5.result()
        self._size += len(data)

    def _finish(self, data: bytearray) -> None:
        if data:
            self._write_out(data)
        os.fsync(self._fd)
        parent = os.path.dirname(self._target)
        os.makedirs(parent, exist_ok=True)
        os.replace(self._tmp_path, self._target)
        self._close_fd()
        _fsync_dir(parent)

    def _discard(self) -> None:
        self._close_fd()
        _unlink_quietly(self._tmp_path)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LocalReader:
    """Reads one open file version in chunks; `os.pread` keeps no shared file position."""

    def __init__(self, file: io.FileIO, size: int, start: int, end: int) -> None:
        self._file = file
        self._position = start
        self.size = size
        self.start = start
        self.end = end

    def __aiter__(self) -> "LocalReader":
        return self

    async def __anext__(self) -> bytes:
        if self._file.closed or self._position >= self.end:
            await self.aclose()
            raise StopAsyncIteration
        count = min(CHUNK_SIZE, self.end - self._position)
        data = await anyio.to_thread.run_sync(os.pread, self._file.fileno(), count, self._position)
        if not data:
            await self.aclose()
            raise StopAsyncIteration
        self._position += len(data)
        return data

    async def aclose(self) -> None:
        self._file.close()


def _open_regular_file(path: str, key: str) -> io.FileIO:
    try:
        file = io.FileIO(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise BlobNotFound(key) from None
    if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        file.close()
        raise BlobNotFound(key)
    return file


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _unlink_if_file(path: str) -> bool:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False
    except PermissionError:
        # macOS reports unlink() of a directory as EPERM.
        if os.path.isdir(path):
            return False
        raise
    return True


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        # Some filesystems cannot fsync a directory; the rename itself has still happened.
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
