"""Read-ahead for byte streams: the producer keeps running while the consumer works on a block.

Without it an upload alternates between receiving from the socket and hashing + writing in a thread;
with it both go on at once (on separate cores), for at most `depth + 2` blocks of memory.
"""

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TypeVar

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from modelport.data.storage import CHUNK_SIZE

# Blocks of CHUNK_SIZE or more go through LocalWriter as they are, without being copied again.
BLOCK_SIZE = CHUNK_SIZE
DEPTH = 4

T = TypeVar("T")


async def with_read_ahead(
    chunks: AsyncIterable[bytes],
    consume: Callable[[AsyncIterator[bytes]], Awaitable[T]],
    *,
    block_size: int = BLOCK_SIZE,
    depth: int = DEPTH,
) -> T:
    """Run `consume` on `chunks` regrouped into blocks of at least `block_size` bytes (the last may be
    smaller), read by a background task. An error of `chunks` is raised inside `consume` after the
    blocks read before it, so a consumer never mistakes a failed stream for a complete one. `chunks`
    is closed (`aclose`) when reading stops."""
    send, receive = anyio.create_memory_object_stream[bytes](depth)
    pump = _Pump(chunks, block_size)
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(pump.run, send)
        try:
            result = await consume(pump.blocks(receive))
        except Exception as error:  # noqa: BLE001
            # Raised below, outside the task group, so callers see it as is and not in an ExceptionGroup.
            failure = error
        finally:
            group.cancel_scope.cancel()
            receive.close()
    if failure is not None:
        raise failure
    return result


class _Pump:
    def __init__(self, chunks: AsyncIterable[bytes], block_size: int) -> None:
        self._chunks = chunks
        self._block_size = block_size
        self._error: Exception | None = None

    async def run(self, send: ObjectSendStream[bytes]) -> None:
        try:
            async with send:
                parts: list[bytes] = []
                size = 0
                async for chunk in self._chunks:
                    parts.append(chunk)
                    size += len(chunk)
                    if size >= self._block_size:
                        # One copy per block (none for a single part), whatever the number of chunks.
                        await send.send(parts[0] if len(parts) == 1 else b"".join(parts))
                        parts, size = [], 0
                if parts:
                    await send.send(b"".join(parts))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the consumer stopped early
        except Exception as error:  # noqa: BLE001
            self._error = error  # raised by blocks(), in the consumer
        finally:
            close = getattr(self._chunks, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()

    async def blocks(self, receive: ObjectReceiveStream[bytes]) -> AsyncIterator[bytes]:
        async for block in receive:
            yield block
        if self._error is not None:
            raise self._error
