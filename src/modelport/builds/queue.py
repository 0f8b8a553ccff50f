"""A bounded pool of build threads. Generic: what a build does, and recording its status, is the
caller's `fn`; restarts (marking builds that were in progress as failed) are the caller's too."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

logger = logging.getLogger("modelport.builds.queue")


class QueueClosedError(RuntimeError):
    pass


class BuildQueue:
    """Runs at most `concurrency` builds at once, in submission order."""

    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="modelport-build")
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Any]] = {}
        self._closed = False

    def submit(self, build_id: str, fn: Callable[[], Any]) -> Future[Any]:
        """Queue `fn()` as build `build_id`. Submitting an id that is still queued or running
        returns its existing future (a retried request does not build twice). The future holds
        fn's result or exception; exceptions are also logged, since callers often don't wait."""
        with self._lock:
            if self._closed:
                raise QueueClosedError("the build queue is shut down")
            existing = self._futures.get(build_id)
            if existing is not None and not existing.done():
                return existing
            future = self._pool.submit(self._run, build_id, fn)
            self._futures[build_id] = future
            future.add_done_callback(lambda f: self._forget(build_id, f))
            return future

    @staticmethod
    def _run(build_id: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BaseException:
            logger.exception("build %s raised", build_id)
            raise

    def _forget(self, build_id: str, future: Future[Any]) -> None:
        with self._lock:
            if self._futures.get(build_id) is future:
                del self._futures[build_id]

    def pending(self) -> list[str]:
        """Ids of builds queued or running."""
        with self._lock:
            return list(self._futures)

    def shutdown(self, wait: bool = True, *, cancel_pending: bool = False) -> None:
        """Stop accepting builds. With wait, block until running (and, unless cancel_pending,
        queued) builds finish. Cancelled builds' futures report cancelled()."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=cancel_pending)
