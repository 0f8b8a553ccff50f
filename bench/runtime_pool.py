"""Benchmark: worker cold start and warm call round trip (not a test; run it directly).

    python tests/runtime/bench_runtime.py [--calls 2000] [--starts 20]

Prints one JSON line, then a one-line summary. Uses a fresh empty virtualenv (``uv venv``) and an
identity ``apply``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uv

from modelport.runtime import Worker, WorkerPool, WorkerSpec


def identity(x: object) -> object:
    return x


async def cold_starts(spec: WorkerSpec, count: int) -> list[float]:
    times = []
    for _ in range(count):
        worker = Worker(spec)
        started = time.perf_counter()
        error = await worker.start()
        times.append((time.perf_counter() - started) * 1000)
        assert error is None, error
        await worker.stop()
    return times


async def warm_calls(spec: WorkerSpec, count: int, content_type: str, data: object) -> float:
    async with WorkerPool(spec) as pool:
        for _ in range(100):  # warm up
            await pool.call(content_type, data)
        started = time.perf_counter()
        for _ in range(count):
            outcome = await pool.call(content_type, data)
        elapsed = time.perf_counter() - started
        assert outcome.ok, outcome
    return elapsed / count * 1000


async def bare_calls(count: int) -> float:
    async def call(x: object) -> object:
        return identity(x)

    started = time.perf_counter()
    for _ in range(count):
        await call("hello")
    return (time.perf_counter() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--starts", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([uv.find_uv_bin(), "venv", "-q", "-p", sys.executable, str(root / "venv")], check=True)
        (root / "algo" / "src").mkdir(parents=True)
        (root / "algo" / "src" / "identity.py").write_text("def apply(input):\n    return input\n")
        spec = WorkerSpec(root / "venv" / "bin" / "python", root / "algo", "identity")
        starts = asyncio.run(cold_starts(spec, args.starts))
        warm_text = asyncio.run(warm_calls(spec, args.calls, "text", "hello"))
        warm_json = asyncio.run(warm_calls(spec, args.calls, "json", {"a": [1, 2, 3], "b": "x" * 100}))
        bare = asyncio.run(bare_calls(args.calls))
    result = {
        "cold_start_ms_median": round(statistics.median(starts), 2),
        "cold_start_ms_max": round(max(starts), 2),
        "warm_call_ms_text": round(warm_text, 4),
        "warm_call_ms_json": round(warm_json, 4),
        "bare_call_ms": round(bare, 5),
        "overhead_ms_text": round(warm_text - bare, 4),
        "calls": args.calls,
        "starts": args.starts,
    }
    print(json.dumps(result))
    print(
        f"cold start {result['cold_start_ms_median']} ms median (max {result['cold_start_ms_max']}); "
        f"warm call {result['warm_call_ms_text']} ms text, {result['warm_call_ms_json']} ms json "
        f"(bare in-process {result['bare_call_ms']} ms) over {args.calls} calls"
    )


if __name__ == "__main__":
    main()
