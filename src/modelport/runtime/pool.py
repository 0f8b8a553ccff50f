"""Warm workers for one build of an algorithm, and a queue in front of them.

Owns: when workers start (on demand: the first call pays the cold start), which worker serves a
call (the most recently used idle one, so extra workers go idle and get reaped), the bounded queue
of callers waiting for a worker, replacing workers that died, scale to zero (``reap_idle``) and
remembering a load failure so a broken build is not respawned in a loop. Frames and processes are
``worker.py``'s business.

Until the build has loaded once, one worker starts at a time: a broken build costs one load, and a
burst of calls does not load N copies of a big model at once. After that, workers start in
parallel as calls need them. At most ``max_workers`` calls run at once, one per worker. A caller that finds no idle worker
waits; when ``max_queue`` callers already wait beyond the free worker slots, ``call`` raises
``PoolBusy`` at once.

Pipelining: once all ``max_workers`` workers are up and busy, a worker whose call is answered is
sent up to ``PIPELINE_DEPTH`` queued calls at once (in one write), which it runs one after another;
their answers then tend to arrive, and be read, together too. Under load this saves system calls
and event-loop wake-ups per call. A call waiting in a worker's pipe still counts as waiting (queue
bound, ``stats``); its timeout starts when it starts to run; if the worker dies it is sent to
another worker. Calls that want their output are never pipelined (see ``worker.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from modelport.runtime.worker import CallOutcome, Request, Worker, WorkerSpec, WorkerState, to_wire

log = logging.getLogger(__name__)

PIPELINE_DEPTH = 3  # calls in flight per worker when every worker is busy: the running one + 2


class PoolBusy(Exception):
    """Every worker is busy and the queue of waiting callers is full: retry later."""


class PoolClosed(Exception):
    """The pool was closed (its build was dropped or the server is stopping)."""


@dataclass(frozen=True, slots=True)
class PoolStats:
    workers: int  # processes alive, any state
    starting: int
    idle: int
    busy: int
    waiting: int  # callers queued for a worker
    load_error: dict[str, str] | None


class WorkerPool:
    """Workers for one ``WorkerSpec``; see the module docstring."""

    def __init__(
        self,
        spec: WorkerSpec,
        max_workers: int = 1,
        max_queue: int = 100,
        idle_timeout: float = 300.0,
        pipeline_depth: int = PIPELINE_DEPTH,
    ) -> None:
        if pipeline_depth < 1:
            raise ValueError(f"pipeline_depth must be at least 1, not {pipeline_depth}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        if max_queue < 0:
            raise ValueError(f"max_queue must not be negative, not {max_queue}")
        self.spec = spec
        self.pipeline_depth = pipeline_depth
        self.max_workers = max_workers
        self.max_queue = max_queue
        self.idle_timeout = idle_timeout
        self._workers: set[Worker] = set()
        self._idle: list[Worker] = []  # a stack: the most recently used worker is served first
        self._waiters: deque[tuple[asyncio.Future[CallOutcome], Request]] = deque()
        self._starting = 0
        self._load_error: dict[str, str] | None = None
        self._loaded_once = False
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def load_error(self) -> dict[str, str] | None:
        """The ``LoadingError`` body every call now gets, once loading has failed."""
        return self._load_error

    def stats(self) -> PoolStats:
        busy = sum(1 for w in self._workers if w.state is WorkerState.BUSY)
        return PoolStats(
            len(self._workers), self._starting, len(self._idle), busy, self._waiting(), self._load_error
        )

    def call(
        self,
        content_type: str,
        data: Any,
        *,
        timeout: float | None = 300.0,
        want_stdout: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> asyncio.Future[CallOutcome]:
        """Run one call of the algorithm: returns a future of its outcome.

        A plain function returning the future, not a coroutine: on the hot path every coroutine
        frame between the caller and the future is suspended and resumed once per call.

        ``content_type`` is "json" (``data`` any JSON value), "text" (str) or "binary" (bytes).
        ``env`` is set in the worker's environment for this call only. Algorithm failures come
        back as ``CallOutcome.error``, never raised. Raises ``PoolBusy`` when the queue is full,
        ``PoolClosed`` after ``close()``, ``ValueError``/``TypeError`` for a bad content type or
        data.
        """
        try:
            return self._submit((content_type, to_wire(content_type, data), env, timeout, want_stdout))
        except Exception as exc:  # raised where the future is awaited, as from a coroutine
            failed: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    def _submit(self, request: Request) -> asyncio.Future[CallOutcome]:
        while self._idle:
            worker = self._idle.pop()
            if worker.state is not WorkerState.READY:
                continue  # stopped while idle (its exit is still being processed)
            try:
                return worker.call(*request)
            except BaseException:  # input that is not JSON: nothing was sent
                self._release(worker)
                raise
        return self._enqueue(request)

    async def reap_idle(self, now: float | None = None) -> int:
        """Stop workers idle for ``idle_timeout`` seconds or more; returns how many."""
        if not self._idle:
            return 0
        deadline = (asyncio.get_running_loop().time() if now is None else now) - self.idle_timeout
        stale = [w for w in self._idle if w.idle_since <= deadline]
        if not stale:
            return 0
        self._idle = [w for w in self._idle if w.idle_since > deadline]
        await asyncio.gather(*(w.stop() for w in stale))
        return len(stale)

    async def close(self) -> None:
        """Refuse new calls, fail queued ones with ``PoolClosed`` and stop every worker; a call
        in flight gets its answer if it comes within the spec's ``stop_timeout``."""
        if not self._closed:
            self._closed = True
            while self._waiters:
                answer, _ = self._waiters.popleft()
                if not answer.done():
                    answer.set_exception(PoolClosed("this algorithm's worker pool was closed"))
            for task in self._tasks:
                task.cancel()
            self._idle.clear()
        await asyncio.gather(*self._tasks, *(w.stop() for w in list(self._workers)), return_exceptions=True)

    # -- internals -----------------------------------------------------------------------------

    def _enqueue(self, request: Request) -> asyncio.Future[CallOutcome]:
        """Queue a call until a worker frees up; ``_release`` sends it from there. A caller that
        goes away cancels the future, and ``_release`` skips it."""
        if self._closed:
            raise PoolClosed("this algorithm's worker pool is closed")
        answer: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
        if self._load_error is not None:
            answer.set_result(CallOutcome(error=dict(self._load_error)))
            return answer
        # Waiters beyond the worker slots not taken by a running call are the queue.
        occupied = len(self._workers) - self._starting
        limit = self.max_queue + self.max_workers - occupied
        if len(self._waiters) + self._pipelined() >= limit and self._waiting() >= limit:
            raise PoolBusy(
                f"the algorithm is busy: {self.max_workers} calls running and {self.max_queue} "
                "waiting, which is the limit; retry later"
            )
        self._waiters.append((answer, request))
        self._spawn_as_needed()
        return answer

    def _waiting(self) -> int:
        """Queued callers still waiting, in the pool's queue or a worker's pipe: those that went
        away (a cancelled future) stay in the queue until ``_release`` reaches them, and are
        dropped here when the count matters."""
        self._waiters = deque(waiter for waiter in self._waiters if not waiter[0].done())
        return len(self._waiters) + self._pipelined()

    def _pipelined(self) -> int:
        """Calls sent to a worker that have not started yet (queued behind its running call)."""
        return sum(w.in_flight - 1 for w in self._workers if w.in_flight > 1)

    def _may_pipeline(self) -> bool:
        """Every worker the pool may have is up: a waiting caller will not get a new one."""
        return len(self._workers) >= self.max_workers and self._starting == 0

    def _spawn_as_needed(self) -> None:
        while (
            len(self._waiters) > self._starting
            and len(self._workers) < self.max_workers
            and self._load_error is None
            and not self._closed
            and (self._loaded_once or self._starting == 0)  # probe a new build with one worker
        ):
            worker = Worker(self.spec, on_free=self._release, on_exit=self._on_worker_exit)
            self._workers.add(worker)
            self._starting += 1
            task = asyncio.get_running_loop().create_task(self._start(worker))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start(self, worker: Worker) -> None:
        try:
            load_error = await worker.start()
        finally:
            self._starting -= 1
        if load_error is None:
            if self._closed:
                await worker.stop()
            else:
                self._loaded_once = True
                self._release(worker)
                self._spawn_as_needed()
            return
        self._workers.discard(worker)
        if self._closed:
            return
        log.warning("loading %s failed: %s", self.spec.workdir, load_error.get("message"))
        self._load_error = load_error
        while self._waiters:
            answer, _ = self._waiters.popleft()
            if not answer.done():
                answer.set_result(CallOutcome(error=dict(load_error)))

    def _release(self, worker: Worker) -> None:
        """A worker answered a call: send it the first queued call (and, when every worker is
        busy, more of them, up to ``PIPELINE_DEPTH`` in flight), or park it as idle.

        The call is sent from here (the worker's answer callback) rather than by waking the
        waiting caller to send it: that saves the caller one trip through the event loop per
        queued call, and the worker starts on its next call sooner.
        """
        if self._closed or worker.state not in (WorkerState.READY, WorkerState.BUSY):
            return
        waiters = self._waiters
        while waiters and (worker.state is WorkerState.READY or self._pipeline_room(worker)):
            answer, request = waiters[0]
            if answer.done():  # the caller went away
                waiters.popleft()
                continue
            if worker.state is WorkerState.BUSY and request[4]:  # wants its output: not behind others
                break
            waiters.popleft()
            try:
                worker.call(*request, future=answer)
            except Exception as exc:  # input that is not JSON: nothing was sent
                answer.set_exception(exc)
        if worker.state is WorkerState.READY:
            worker.idle_since = asyncio.get_running_loop().time()
            self._idle.append(worker)

    def _pipeline_room(self, worker: Worker) -> bool:
        return worker.in_flight < self.pipeline_depth and worker.can_pipeline and self._may_pipeline()

    def _on_worker_exit(self, worker: Worker) -> None:
        self._workers.discard(worker)
        try:
            self._idle.remove(worker)
        except ValueError:
            pass
        # Calls that were queued in its pipe never started: first in line for another worker.
        unstarted = worker.take_unstarted()
        if self._closed:
            for answer, _ in unstarted:
                if not answer.done():
                    answer.set_exception(PoolClosed("this algorithm's worker pool was closed"))
        elif unstarted:
            self._waiters.extendleft(reversed(unstarted))
            while self._idle and self._waiters:
                self._release(self._idle.pop())
        if worker.was_ready:  # a worker that failed to start is handled by _start
            self._spawn_as_needed()
