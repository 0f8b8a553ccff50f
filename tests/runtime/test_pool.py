"""Pool and supervisor: reuse, bounded concurrency and queue, scale to zero, shutdown."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

import pytest

from modelport.runtime import CallOutcome, PoolBusy, PoolClosed, Supervisor, WorkerPool, WorkerSpec

from .conftest import AlgorithmFactory
from .test_faults import alive


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` on the event loop until it holds (fails after ``timeout`` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


SLOW_PID = """
    import os, time
    def apply(input):
        time.sleep(input)
        return os.getpid()
"""


def test_warm_worker_is_reused(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> list[CallOutcome]:
        async with WorkerPool(algorithm(SLOW_PID), max_workers=4) as pool:
            return [await pool.call("json", 0) for _ in range(20)]

    assert len({o.result for o in asyncio.run(scenario())}) == 1


def test_200_concurrent_calls_on_2_workers_all_answer(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> tuple[list[CallOutcome], int]:
        async with WorkerPool(algorithm(SLOW_PID), max_workers=2, max_queue=200) as pool:
            outs = await asyncio.gather(*(pool.call("json", 0.002) for _ in range(200)))
            return list(outs), pool.stats().workers

    outs, workers = asyncio.run(scenario())
    assert all(o.ok for o in outs)
    per_pid = collections.Counter(o.result for o in outs)
    assert len(per_pid) == 2 and workers == 2
    assert min(per_pid.values()) > 20  # both workers served


def test_callers_beyond_the_queue_bound_get_pool_busy(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> list[CallOutcome | BaseException]:
        async with WorkerPool(algorithm(SLOW_PID), max_workers=2, max_queue=10) as pool:
            calls = (pool.call("json", 0.01) for _ in range(200))
            return list(await asyncio.gather(*calls, return_exceptions=True))

    outs = asyncio.run(scenario())
    busy = [o for o in outs if isinstance(o, PoolBusy)]
    answered = [o for o in outs if isinstance(o, CallOutcome) and o.ok]
    # 2 callers for the 2 workers being started, 10 queued behind them, the rest refused at once
    assert (len(answered), len(busy)) == (12, 188)
    assert (
        str(busy[0])
        == "the algorithm is busy: 2 calls running and 10 waiting, which is the limit; retry later"
    )


def test_idle_workers_are_reaped_and_come_back_on_demand(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(SLOW_PID)

    async def scenario() -> None:
        supervisor = Supervisor(max_workers=2, idle_timeout=0.2, reap_interval=0.05)
        pool = supervisor.get_or_create("build-1", lambda: spec)
        assert supervisor.get_or_create("build-1", lambda: pytest.fail("not called")) is pool
        first, second = await asyncio.gather(pool.call("json", 0.05), pool.call("json", 0.05))
        assert pool.stats().workers == 2
        idle_from = asyncio.get_running_loop().time()
        await until(lambda: pool.stats().workers == 0)
        assert asyncio.get_running_loop().time() - idle_from >= 0.2
        assert not alive(first.result) and not alive(second.result)
        again = await pool.call("json", 0)
        assert again.ok and again.result not in (first.result, second.result)
        await supervisor.close_all()
        assert not alive(again.result)

    asyncio.run(scenario())


def test_busy_workers_are_not_reaped(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> None:
        async with WorkerPool(algorithm(SLOW_PID), idle_timeout=0) as pool:
            await pool.call("json", 0)
            call = asyncio.ensure_future(pool.call("json", 0.3))
            await until(lambda: pool.stats().busy == 1)
            assert await pool.reap_idle() == 0
            assert (await call).ok
            assert await pool.reap_idle() == 1
            assert pool.stats().workers == 0

    asyncio.run(scenario())


def test_dropping_a_pool_forgets_its_load_error(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("raise RuntimeError('model file missing')\n")

    async def scenario() -> None:
        supervisor = Supervisor()
        pool = supervisor.get_or_create("b", lambda: spec)
        out = await pool.call("text", "x")
        assert out.error is not None and out.error["error_type"] == "LoadingError"
        assert pool.load_error == out.error
        (spec.workdir / "src" / "algo.py").write_text("def apply(input):\n    return 'fixed'\n")
        assert (await pool.call("text", "x")).error is not None  # remembered, not retried
        await supervisor.drop("b")
        assert supervisor.get("b") is None
        fresh = supervisor.get_or_create("b", lambda: spec)
        assert (await fresh.call("text", "x")).result == "fixed"
        await supervisor.close_all()

    asyncio.run(scenario())


def test_close_refuses_new_calls_and_fails_queued_ones(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> None:
        pool = WorkerPool(algorithm(SLOW_PID), max_workers=1)
        await pool.call("json", 0)  # warm: the next call runs at once
        running = asyncio.ensure_future(pool.call("json", 0.2))
        queued = asyncio.ensure_future(pool.call("json", 0))
        await until(lambda: pool.stats().busy == 1 and pool.stats().waiting == 1)
        await pool.close()
        assert (await running).ok  # it finished within the stop timeout
        with pytest.raises(PoolClosed):
            await queued
        with pytest.raises(PoolClosed):
            await pool.call("json", 0)
        assert pool.stats().workers == 0

    asyncio.run(scenario())


def test_a_worker_dying_while_idle_is_replaced(algorithm: AlgorithmFactory) -> None:
    import os
    import signal

    async def scenario() -> None:
        async with WorkerPool(algorithm(SLOW_PID)) as pool:
            first = await pool.call("json", 0)
            os.kill(first.result, signal.SIGTERM)
            await until(lambda: pool.stats().workers == 0)
            again = await pool.call("json", 0)
            assert again.ok and again.result != first.result

    asyncio.run(scenario())


def test_bad_python_is_a_loading_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = WorkerSpec(tmp_path / "missing" / "python", tmp_path, "algo")

    async def scenario() -> CallOutcome:
        async with WorkerPool(spec) as pool:
            return await pool.call("text", "x")

    out = asyncio.run(scenario())
    assert out.error is not None and out.error["error_type"] == "LoadingError"
    assert out.error["message"].startswith(f"cannot start the worker with {spec.python}: [Errno 2]")


def test_close_during_a_slow_load_does_not_wait_for_it(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("import time\ntime.sleep(30)\ndef apply(input):\n    return input\n")

    async def scenario() -> float:
        pool = WorkerPool(spec)
        call = asyncio.ensure_future(pool.call("text", "x"))
        await asyncio.sleep(0.2)
        started = asyncio.get_running_loop().time()
        await pool.close()
        with pytest.raises(PoolClosed):
            await call
        return asyncio.get_running_loop().time() - started

    assert asyncio.run(scenario()) < 1.0
