import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from modelport.data.errors import BlobNotFound, InvalidKey, InvalidRange, StorageError
from modelport.data.storage import CHUNK_SIZE, BlobInfo, BlobStorage, LocalStorage, write_stream

pytestmark = pytest.mark.anyio

MIB = 1 << 20
KEY = "alice/models/model.pkl"

# Every BlobStorage implementation must pass the contract tests; add an S3 factory here when there is one.
STORAGES: list[Callable[[Path], BlobStorage]] = [LocalStorage]


@pytest.fixture(params=STORAGES, ids=lambda factory: factory.__name__)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    factory: Callable[[Path], BlobStorage] = request.param
    return factory(tmp_path / "data")


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "data")


async def put(storage: BlobStorage, key: str, data: bytes) -> BlobInfo:
    writer = await storage.open_writer(key)
    await writer.write(data)
    return await writer.commit()


async def read_all(storage: BlobStorage, key: str, start: int = 0, end: int | None = None) -> bytes:
    reader = await storage.open_reader(key, start, end)
    return b"".join([chunk async for chunk in reader])


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def temp_entries(local: LocalStorage) -> list[str]:
    return os.listdir(local.root / "tmp")


# Contract: digests, sizes, streaming


async def test_empty_blob(storage: BlobStorage) -> None:
    info = await put(storage, KEY, b"")
    assert info == BlobInfo(
        size=0,
        md5="d41d8cd98f00b204e9800998ecf8427e",
        sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    assert await storage.exists(KEY)
    assert await storage.size(KEY) == 0
    assert await read_all(storage, KEY) == b""


async def test_20_mib_blob_in_uneven_chunks(storage: BlobStorage) -> None:
    data = os.urandom(20 * MIB + 12345)
    writer = await storage.open_writer(KEY)
    sizes = [1, 65536, 3 * MIB, 777, CHUNK_SIZE, CHUNK_SIZE - 1]
    offset, turn = 0, 0
    while offset < len(data):
        size = sizes[turn % len(sizes)]
        await writer.write(data[offset : offset + size])
        offset, turn = offset + size, turn + 1
    info = await writer.commit()

    assert info == BlobInfo(len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())
    assert await storage.size(KEY) == len(data)
    reader = await storage.open_reader(KEY)
    assert (reader.size, reader.start, reader.end) == (len(data), 0, len(data))
    chunks = [chunk async for chunk in reader]
    assert all(len(chunk) <= CHUNK_SIZE for chunk in chunks)
    assert b"".join(chunks) == data


async def test_memory_stays_bounded(storage: BlobStorage) -> None:
    total = 20 * MIB
    piece = os.urandom(64 * 1024)
    tracemalloc.start()
    try:
        writer = await storage.open_writer(KEY)
        for _ in range(total // len(piece)):
            await writer.write(piece)
        await writer.commit()
        read = 0
        async for chunk in await storage.open_reader(KEY):
            read += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == total
    assert peak < 4 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a {total // MIB} MiB blob"


async def test_write_stream(storage: BlobStorage) -> None:
    data = os.urandom(3 * MIB + 5)
    info = await write_stream(storage, KEY, chunks_of(data, 10000))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(storage, KEY) == data


async def test_missing_blob(storage: BlobStorage) -> None:
    assert not await storage.exists(KEY)
    with pytest.raises(BlobNotFound, match="alice/models/model.pkl"):
        await storage.size(KEY)
    with pytest.raises(BlobNotFound):
        await storage.open_reader(KEY)
    assert not await storage.delete(KEY)


async def test_a_folder_is_not_a_blob(storage: BlobStorage) -> None:
    await put(storage, KEY, b"x")
    assert not await storage.exists("alice/models")
    with pytest.raises(BlobNotFound):
        await storage.size("alice/models")
    with pytest.raises(BlobNotFound):
        await storage.open_reader("alice/models")
    assert not await storage.delete("alice/models")
    with pytest.raises(BlobNotFound):
        await storage.size(KEY + "/below-a-file")
    assert await storage.exists(KEY)


# Contract: atomic replacement


async def test_replace_is_atomic_for_readers(storage: BlobStorage) -> None:
    old, new = os.urandom(3 * MIB), os.urandom(2 * MIB)
    await put(storage, KEY, old)
    early = await storage.open_reader(KEY)
    first = await early.__aiter__().__anext__()

    writer = await storage.open_writer(KEY)
    await writer.write(new)
    # Uploaded but not committed: everyone still sees the old version.
    assert await storage.size(KEY) == len(old)
    assert await read_all(storage, KEY) == old
    await writer.commit()

    rest = b"".join([chunk async for chunk in early])
    assert first + rest == old
    assert await read_all(storage, KEY) == new


async def test_abort_keeps_the_previous_version(storage: BlobStorage) -> None:
    await put(storage, KEY, b"version 1")
    writer = await storage.open_writer(KEY)
    await writer.write(os.urandom(2 * MIB))
    await writer.abort()
    await writer.abort()
    assert await read_all(storage, KEY) == b"version 1"
    with pytest.raises(StorageError, match="cannot write: upload is aborted"):
        await writer.write(b"more")
    with pytest.raises(StorageError, match="cannot commit: upload is aborted"):
        await writer.commit()


async def test_abort_of_a_new_key_leaves_nothing(storage: BlobStorage) -> None:
    writer = await storage.open_writer(KEY)
    await writer.write(b"partial")
    await writer.abort()
    assert not await storage.exists(KEY)


async def test_writer_is_single_use(storage: BlobStorage) -> None:
    writer = await storage.open_writer(KEY)
    await writer.write(b"a")
    await writer.commit()
    await writer.abort()  # no-op after commit
    assert await read_all(storage, KEY) == b"a"
    with pytest.raises(StorageError, match="cannot commit: upload is committed"):
        await writer.commit()


async def test_commit_completes_when_cancelled(storage: BlobStorage) -> None:
    await put(storage, KEY, b"old")
    writer = await storage.open_writer(KEY)
    await writer.write(b"new")
    with anyio.CancelScope() as scope:
        scope.cancel()
        info = await writer.commit()
    assert info.size == 3
    assert await read_all(storage, KEY) == b"new"


async def test_failed_stream_aborts(storage: BlobStorage) -> None:
    await put(storage, KEY, b"version 1")

    async def dropped_connection() -> AsyncIterator[bytes]:
        yield os.urandom(MIB + 1)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await write_stream(storage, KEY, dropped_connection())
    assert await read_all(storage, KEY) == b"version 1"


async def test_delete(storage: BlobStorage) -> None:
    await put(storage, KEY, b"bytes")
    reader = await storage.open_reader(KEY)
    assert await storage.delete(KEY)
    assert not await storage.exists(KEY)
    assert b"".join([chunk async for chunk in reader]) == b"bytes"
    assert not await storage.delete(KEY)


async def test_delete_prefix(storage: BlobStorage) -> None:
    for name in ("a", "b", "c"):
        await put(storage, f"alice/models/{name}", name.encode())
    await put(storage, "alice/models-2/a", b"kept")
    await put(storage, "alice/other/a", b"kept")
    assert await storage.delete_prefix("alice/models/") == 3
    assert not await storage.exists("alice/models/a")
    assert await storage.exists("alice/models-2/a")
    assert await storage.exists("alice/other/a")
    assert await storage.delete_prefix("alice/models/") == 0
    await put(storage, "alice/models/a", b"again")
    assert await read_all(storage, "alice/models/a") == b"again"
    with pytest.raises(InvalidKey, match="must end with '/'"):
        await storage.delete_prefix("alice/models")


async def test_delete_prefix_naming_a_blob_deletes_nothing(storage: BlobStorage) -> None:
    await put(storage, KEY, b"x")
    assert await storage.delete_prefix(KEY + "/") == 0
    assert await storage.exists(KEY)


# Contract: ranges


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, slice(0, None)),
        (5, 10, slice(5, 10)),
        (5, 5, slice(5, 5)),
        (0, 1, slice(0, 1)),
        (CHUNK_SIZE - 10, 2 * CHUNK_SIZE + 10, slice(CHUNK_SIZE - 10, 2 * CHUNK_SIZE + 10)),
        (3 * MIB - 1, None, slice(3 * MIB - 1, None)),
        (100, 10 * MIB, slice(100, None)),  # end clamped to the size
        (3 * MIB, None, slice(0, 0)),  # start == size: empty
    ],
)
async def test_range_reads(storage: BlobStorage, start: int, end: int | None, expected: slice) -> None:
    data = os.urandom(3 * MIB)
    await put(storage, KEY, data)
    reader = await storage.open_reader(KEY, start, end)
    assert reader.size == len(data)
    body = b"".join([chunk async for chunk in reader])
    assert body == data[expected]
    assert reader.end - reader.start == len(body)


@pytest.mark.parametrize(("start", "end"), [(-1, None), (11, None), (11, 20), (5, 4)])
async def test_invalid_ranges(storage: BlobStorage, start: int, end: int | None) -> None:
    await put(storage, KEY, b"0123456789")
    with pytest.raises(InvalidRange, match="does not fit a blob of 10 bytes"):
        await storage.open_reader(KEY, start, end)


async def test_reader_closed_early(storage: BlobStorage) -> None:
    await put(storage, KEY, os.urandom(3 * MIB))
    reader = await storage.open_reader(KEY)
    await reader.__aiter__().__anext__()
    await reader.aclose()
    await reader.aclose()
    assert [chunk async for chunk in reader] == []


# Contract: keys


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "alice/../../outside",
        "alice/models/..",
        "alice/./models",
        "alice//models",
        "alice/models/",
        ".",
        "..",
        "alice/mo\x00dels",
    ],
)
async def test_malformed_keys_are_refused(storage: BlobStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.open_writer(key)
    with pytest.raises(InvalidKey):
        await storage.open_reader(key)
    with pytest.raises(InvalidKey):
        await storage.exists(key)
    with pytest.raises(InvalidKey):
        await storage.size(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)


# LocalStorage specifics


async def test_symlink_out_of_the_root_is_refused(local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (local.root / "blobs" / "alice").mkdir()
    os.symlink(outside, local.root / "blobs" / "alice" / "models")
    os.symlink(outside / "secret", local.root / "blobs" / "alice" / "link")
    for key in ("alice/models/secret", "alice/link"):
        with pytest.raises(InvalidKey, match="resolves outside the storage root"):
            await local.open_reader(key)
        with pytest.raises(InvalidKey, match="resolves outside the storage root"):
            await local.open_writer(key)
    with pytest.raises(InvalidKey, match="resolves outside the storage root"):
        await local.delete_prefix("alice/models/")
    assert (outside / "secret").read_bytes() == b"secret"


async def test_blobs_live_under_the_root(local: LocalStorage) -> None:
    await put(local, KEY, b"x")
    assert (local.root / "blobs" / KEY).read_bytes() == b"x"
    assert local.path_of(KEY) == os.path.realpath(local.root / "blobs" / KEY)


async def test_no_temp_files_after_commit_abort_or_cancel(local: LocalStorage) -> None:
    await put(local, KEY, b"x")
    writer = await local.open_writer(KEY)
    await writer.write(b"y")
    assert len(temp_entries(local)) == 1
    await writer.abort()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield os.urandom(64 * 1024)
            await anyio.lowlevel.checkpoint()

    with anyio.move_on_after(0.2):
        await write_stream(local, KEY, endless())
    assert temp_entries(local) == []
    assert await read_all(local, KEY) == b"x"


async def test_commit_failure_cleans_up(local: LocalStorage) -> None:
    await put(local, "alice/models/file", b"x")
    writer = await local.open_writer("alice/models/file/below")
    await writer.write(b"y")
    with pytest.raises(OSError):  # a file stands where the folder should be
        await writer.commit()
    assert temp_entries(local) == []
    with pytest.raises(StorageError, match="upload is aborted"):
        await writer.commit()


async def test_orphans_are_removed_at_start_but_live_uploads_are_kept(tmp_path: Path) -> None:
    first = LocalStorage(tmp_path / "data")
    await put(first, KEY, b"version 1")
    live = await first.open_writer(KEY)
    await live.write(b"version 2")

    tmp = first.root / "tmp"
    (tmp / "upload-crashed").write_bytes(b"half an upload")
    (tmp / "deleting-crashed" / "alice" / "models").mkdir(parents=True)
    (tmp / "deleting-crashed" / "alice" / "models" / "x").write_bytes(b"half a deletion")
    assert len(temp_entries(first)) == 3

    second = LocalStorage(tmp_path / "data")
    assert len(temp_entries(second)) == 1  # the live upload, still locked by its writer
    assert await read_all(second, KEY) == b"version 1"
    await live.commit()
    assert temp_entries(second) == []
    assert await read_all(second, KEY) == b"version 2"


async def test_commit_replaces_a_file_being_read_concurrently(local: LocalStorage) -> None:
    versions = [bytes([n]) * (CHUNK_SIZE + 17 * n) for n in range(1, 6)]
    await put(local, KEY, versions[0])
    seen: list[bytes] = []

    async def keep_reading() -> None:
        for _ in range(20):
            seen.append(await read_all(local, KEY))
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(keep_reading)
        for version in versions[1:]:
            await put(local, KEY, version)
            await anyio.lowlevel.checkpoint()
    assert seen and all(body in versions for body in seen)
