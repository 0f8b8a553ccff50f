from __future__ import annotations

import threading
import time

import pytest

from modelport.builds.queue import BuildQueue, QueueClosedError


def test_concurrency_is_bounded_and_every_build_runs() -> None:
    queue = BuildQueue(concurrency=2)
    lock = threading.Lock()
    running, peak = [0], [0]

    def job(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return n * n

    futures = [queue.submit(f"b{n}", lambda n=n: job(n)) for n in range(6)]
    assert [f.result(timeout=10) for f in futures] == [n * n for n in range(6)]
    assert peak[0] == 2
    queue.shutdown()


def test_same_build_id_is_not_queued_twice_and_errors_reach_the_future() -> None:
    queue = BuildQueue(concurrency=1)
    release = threading.Event()
    first = queue.submit("b1", release.wait)
    assert queue.submit("b1", lambda: "other") is first
    assert queue.pending() == ["b1"]
    release.set()
    assert first.result(timeout=5) is True

    def boom() -> None:
        raise ValueError("broken build")

    with pytest.raises(ValueError, match="broken build"):
        queue.submit("b2", boom).result(timeout=5)
    queue.shutdown()
    assert queue.pending() == []


def test_shutdown() -> None:
    queue = BuildQueue(concurrency=1)
    release = threading.Event()
    running = queue.submit("b1", release.wait)
    queued = queue.submit("b2", lambda: None)
    threading.Timer(0.05, release.set).start()
    queue.shutdown(wait=True, cancel_pending=True)
    assert running.result() is True
    assert queued.cancelled()
    with pytest.raises(QueueClosedError):
        queue.submit("b3", lambda: None)
    with pytest.raises(ValueError):
        BuildQueue(0)
