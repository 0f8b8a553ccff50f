"""The registry of worker pools, one per opaque key (for example a build id).

Owns: creating pools on first use, dropping them when their build goes away, the single
background task that scales idle workers to zero, and shutting everything down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable

from modelport.runtime.pool import PIPELINE_DEPTH, WorkerPool
from modelport.runtime.worker import WorkerSpec

log = logging.getLogger(__name__)


class Supervisor:
    """Pools keyed by an opaque key; pool settings default to the ones given here."""

    def __init__(
        self,
        *,
        max_workers: int = 1,
        max_queue: int = 100,
        idle_timeout: float = 300.0,
        reap_interval: float = 1.0,
        pipeline_depth: int = PIPELINE_DEPTH,
    ) -> None:
        self.pipeline_depth = pipeline_depth
        self.max_workers = max_workers
        self.max_queue = max_queue
        self.idle_timeout = idle_timeout
        self.reap_interval = reap_interval
        self._pools: dict[Hashable, WorkerPool] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    def get(self, key: Hashable) -> WorkerPool | None:
        return self._pools.get(key)

    def get_or_create(
        self,
        key: Hashable,
        spec_factory: Callable[[], WorkerSpec],
        *,
        max_workers: int | None = None,
        max_queue: int | None = None,
        idle_timeout: float | None = None,
    ) -> WorkerPool:
        """The pool for ``key``, created with ``spec_factory()`` if there is none. Starts no
        process (the first call does). Must run inside the event loop."""
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        if self._closed:
            raise RuntimeError("the supervisor is closed")
        pool = WorkerPool(
            spec_factory(),
            max_workers=self.max_workers if max_workers is None else max_workers,
            max_queue=self.max_queue if max_queue is None else max_queue,
            idle_timeout=self.idle_timeout if idle_timeout is None else idle_timeout,
            pipeline_depth=self.pipeline_depth,
        )
        self._pools[key] = pool
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())
        return pool

    async def drop(self, key: Hashable) -> None:
        """Forget the pool for ``key`` (if any) and stop its workers; the next ``get_or_create``
        starts afresh, which also clears a remembered load failure."""
        pool = self._pools.pop(key, None)
        if pool is not None:
            await pool.close()

    async def reap_idle(self) -> int:
        """One pass of scale-to-zero over every pool; returns how many workers were stopped."""
        counts = await asyncio.gather(*(pool.reap_idle() for pool in list(self._pools.values())))
        return sum(counts)

    async def close_all(self) -> None:
        """Stop the reaper and every pool's workers."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(pool.close() for pool in pools))

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reap_interval)
            try:
                await self.reap_idle()
            except Exception:
                log.exception("reaping idle workers failed")
