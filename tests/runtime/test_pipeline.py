"""Pipelining: calls queued in a busy worker's pipe start (and are timed) when the call before them
is answered, go to another worker when that worker dies, and never mix up captured output."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

from modelport.runtime import CallOutcome, WorkerPool
from modelport.runtime.pool import PIPELINE_DEPTH

from .conftest import AlgorithmFactory
from .test_pool import until

# {"sleep": s, "tag": t, "crash": bool, "print": str}: appends "<tag> <pid>" to calls.log when it starts
SCRIPTED = """
    import os, time
    def apply(input):
        with open("calls.log", "a") as log:
            log.write(f"{input['tag']} {os.getpid()}\\n")
        if input.get("print"):
            print(input["print"])
        time.sleep(input.get("sleep", 0))
        if input.get("crash"):
            os._exit(3)
        return input["tag"]
"""


def started(pool: WorkerPool) -> list[str]:
    log = Path(pool.spec.workdir) / "calls.log"
    return log.read_text().split()[::2] if log.exists() else []


async def pipelined(pool: WorkerPool, first: dict, *queued: dict, timeout: float = 30.0) -> list:
    """Keep the pool's single worker busy with a short call while ``first`` and ``queued`` wait,
    so that its answer sends ``first`` and pipelines ``queued`` behind it; returns the futures."""
    assert 1 + len(queued) <= PIPELINE_DEPTH
    await pool.call("json", {"tag": "warm"})  # the worker is up: the pool is at its full size
    opener = pool.call("json", {"tag": "opener", "sleep": 0.1})
    futures = [pool.call("json", first, timeout=timeout)]
    futures += [pool.call("json", q, timeout=q.get("timeout", timeout)) for q in queued]
    await opener
    (worker,) = pool._workers
    assert worker.in_flight == 1 + len(queued), "the queued calls were pipelined"
    assert not pool._waiters and pool.stats().waiting == len(queued)
    return futures


def test_a_pipelined_call_is_timed_from_when_it_starts(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[CallOutcome, CallOutcome]:
        async with WorkerPool(algorithm(SCRIPTED), max_workers=1) as pool:
            first, second = await pipelined(
                pool, {"tag": "a", "sleep": 0.6}, {"tag": "b", "sleep": 0.1, "timeout": 0.4}
            )
            return await first, await second

    first, second = asyncio.run(scenario())
    # written ~0.7 s before it answered, but it ran for 0.1 s of its 0.4 s
    assert first.ok and second.ok and second.result == "b"
    assert 0.1 <= second.duration < 0.35


def test_a_pipelined_call_that_times_out_does_so_after_it_started(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[CallOutcome, CallOutcome, float]:
        async with WorkerPool(algorithm(SCRIPTED), max_workers=1) as pool:
            loop = asyncio.get_running_loop()
            first, second = await pipelined(
                pool, {"tag": "a", "sleep": 0.5}, {"tag": "b", "sleep": 5, "timeout": 0.3}
            )
            sent = loop.time()
            outcomes = await first, await second
            return *outcomes, loop.time() - sent

    first, second, elapsed = asyncio.run(scenario())
    assert first.ok
    assert second.error is not None and second.error["error_type"] == "TimeoutError"
    assert 0.3 <= second.duration < 0.5
    assert elapsed >= 0.75  # 0.5 s behind the first call, then its own 0.3 s


def test_a_crash_sends_the_calls_queued_behind_it_to_another_worker(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[list[CallOutcome], list[str]]:
        async with WorkerPool(algorithm(SCRIPTED), max_workers=1) as pool:
            futures = await pipelined(pool, {"tag": "boom", "sleep": 0.2, "crash": True}, {"tag": "b"}, {"tag": "c"})
            outcomes = list(await asyncio.gather(*futures))
            return outcomes, started(pool)

    (crashed, b, c), calls = asyncio.run(scenario())
    assert crashed.error is not None and crashed.error["error_type"] == "SystemExit"
    assert (b.result, c.result) == ("b", "c")
    # each ran exactly once, after the crash, in order
    assert collections.Counter(calls) == {"warm": 1, "opener": 1, "boom": 1, "b": 1, "c": 1}
    assert calls[-2:] == ["b", "c"]


def test_a_timeout_sends_the_calls_queued_behind_it_to_another_worker(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[list[CallOutcome], list[str]]:
        async with WorkerPool(algorithm(SCRIPTED), max_workers=1) as pool:
            futures = await pipelined(pool, {"tag": "slow", "sleep": 5}, {"tag": "b"}, timeout=0.3)
            outcomes = list(await asyncio.gather(*futures))
            return outcomes, started(pool)

    (slow, b), calls = asyncio.run(scenario())
    assert slow.error is not None and slow.error["error_type"] == "TimeoutError"
    assert b.ok and b.result == "b"
    assert calls.count("b") == 1


def test_captured_output_is_each_calls_own(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[list[CallOutcome], int]:
        async with WorkerPool(algorithm(SCRIPTED), max_workers=2, max_queue=500) as pool:
            deepest = 0

            def watch() -> bool:
                nonlocal deepest
                deepest = max([deepest, *(w.in_flight for w in pool._workers)])
                return False

            calls = [
                pool.call("json", {"tag": str(i), "print": f"out {i}"}, want_stdout=i % 3 == 0) for i in range(300)
            ]
            watcher = asyncio.ensure_future(until(watch, timeout=60))
            outcomes = list(await asyncio.gather(*calls))
            watcher.cancel()
            return outcomes, deepest

    outcomes, deepest = asyncio.run(scenario())
    assert deepest > 1  # calls were pipelined
    for i, outcome in enumerate(outcomes):
        assert outcome.result == str(i)
        assert outcome.stdout == (f"out {i}\n" if i % 3 == 0 else None)


def test_a_call_wanting_its_output_is_not_pipelined(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[int, CallOutcome, CallOutcome]:
        async with WorkerPool(algorithm(SCRIPTED), max_workers=1) as pool:
            await pool.call("json", {"tag": "warm"})
            opener = pool.call("json", {"tag": "opener", "sleep": 0.1})
            quiet = pool.call("json", {"tag": "q", "print": "quiet"})
            loud = pool.call("json", {"tag": "l", "print": "loud"}, want_stdout=True)
            await opener
            (worker,) = pool._workers
            in_flight = worker.in_flight
            return in_flight, await quiet, await loud

    in_flight, quiet, loud = asyncio.run(scenario())
    assert in_flight == 1  # "l" waits in the pool until "q" is answered
    assert quiet.stdout is None and loud.stdout == "loud\n"
