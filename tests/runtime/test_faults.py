"""Faults stay contained: a dying, hanging or memory-hungry algorithm costs one call, not the pool."""

from __future__ import annotations

import asyncio
import time

import pytest

from modelport.runtime import CallOutcome, WorkerPool, WorkerSpec

from .conftest import AlgorithmFactory

# The algorithm answers "pid" with its process id; anything else triggers a fault.
FAULTY = """
    import ctypes, os, subprocess, sys, time

    def apply(input):
        if input == "pid":
            return os.getpid()
        if input == "os_exit":
            print("about to exit")
            sys.stdout.flush()
            os._exit(7)
        if input == "sys_exit":
            sys.exit(3)
        if input == "segfault":
            ctypes.string_at(0)
        if input == "hang":
            child = subprocess.Popen(["sleep", "300"])
            with open("grandchild.pid", "w") as f:
                f.write(str(child.pid))
            time.sleep(300)
        if input == "memory":
            hog = []
            while True:
                hog.append(bytearray(10 * 1024 * 1024))
        if input == "abort_oom":
            os.write(2, b"terminate called after throwing an instance of 'std::bad_alloc'\\n")
            os.abort()
        if input == "self_sigkill":
            os.kill(os.getpid(), 9)
        raise ValueError(input)
"""


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


async def fault_then_pid(spec: WorkerSpec, fault: str, **options: object) -> tuple[int, CallOutcome, int]:
    """(pid before, outcome of the fault, pid after) on one single-worker pool."""
    async with WorkerPool(spec, max_workers=1) as pool:
        before = await pool.call("text", "pid")
        outcome = await pool.call("text", fault, **options)  # type: ignore[arg-type]
        after = await pool.call("text", "pid")
        assert before.ok and after.ok, (before, after)
        return before.result, outcome, after.result


@pytest.mark.parametrize(
    ("fault", "error_type", "message"),
    [
        ("os_exit", "SystemExit", "the algorithm's worker process exited with code 7 during the call"),
        ("sys_exit", "SystemExit", "the algorithm's worker process exited with code 3 during the call"),
        (
            "segfault",
            "SystemExit",
            "the algorithm's worker process was killed by signal SIGSEGV during the call",
        ),
        (
            "abort_oom",
            "OutOfMemoryError",
            "was killed by signal SIGABRT during the call; it most likely ran out",
        ),
        (
            "self_sigkill",
            "OutOfMemoryError",
            "was killed by signal SIGKILL during the call; it most likely ran out",
        ),
    ],
)
def test_worker_death_is_an_error_and_a_fresh_worker_serves_next(
    algorithm: AlgorithmFactory, fault: str, error_type: str, message: str
) -> None:
    before, outcome, after = asyncio.run(fault_then_pid(algorithm(FAULTY), fault, want_stdout=True))
    assert outcome.error is not None, outcome
    assert outcome.error["error_type"] == error_type
    assert message in outcome.error["message"]
    assert before != after
    assert not alive(before)


def test_crash_keeps_the_output_as_stacktrace(algorithm: AlgorithmFactory) -> None:
    _, os_exit, _ = asyncio.run(fault_then_pid(algorithm(FAULTY), "os_exit", want_stdout=True))
    assert os_exit.stdout == "about to exit\n"
    assert os_exit.error is not None and os_exit.error["stacktrace"] == "about to exit\n"
    _, segfault, _ = asyncio.run(fault_then_pid(algorithm(FAULTY), "segfault"))
    assert segfault.error is not None
    trace = segfault.error["stacktrace"]  # written by faulthandler in the dying process
    assert "Fatal Python error: Segmentation fault" in trace
    assert 'algo.py", line 14 in apply' in trace


def test_memory_limit_gives_out_of_memory_error_and_the_next_call_works(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(FAULTY, memory_limit_mb=256)
    before, outcome, after = asyncio.run(fault_then_pid(spec, "memory"))
    assert outcome.error is not None
    assert outcome.error["error_type"] == "OutOfMemoryError"
    assert outcome.error["message"] == "the algorithm ran out of memory (memory limit 256 MiB)"
    assert "in apply\n    hog.append(bytearray(10 * 1024 * 1024))" in outcome.error["stacktrace"]
    assert before == after  # a MemoryError is an ordinary exception: the worker stays warm


def test_timeout_kills_the_process_group_and_a_fresh_worker_serves_next(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(FAULTY)
    started = time.monotonic()
    before, outcome, after = asyncio.run(fault_then_pid(spec, "hang", timeout=0.5))
    assert time.monotonic() - started < 5
    assert outcome.error == {
        "message": "the call did not finish within 0.5 seconds; its worker was stopped",
        "stacktrace": "",
        "error_type": "TimeoutError",
    }
    assert 0.5 <= outcome.duration < 2.0
    assert before != after
    assert not alive(before)
    grandchild = int((spec.workdir / "grandchild.pid").read_text())
    deadline = time.monotonic() + 2
    while alive(grandchild) and time.monotonic() < deadline:  # killed; its parent reaps it
        time.sleep(0.01)
    assert not alive(grandchild), "the algorithm's own subprocess outlived the timeout"


def test_cancelled_caller_does_not_break_the_worker(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        import os, time
        def apply(input):
            time.sleep(input)
            return os.getpid()
    """)

    async def scenario() -> tuple[CallOutcome, CallOutcome]:
        async with WorkerPool(spec, max_workers=1) as pool:
            first = await pool.call("json", 0)
            slow = asyncio.ensure_future(pool.call("json", 0.3))
            await asyncio.sleep(0.1)
            slow.cancel()
            # the worker finishes the abandoned call, then serves the next caller
            return first, await pool.call("json", 0)

    first, second = asyncio.run(scenario())
    assert first.result == second.result
