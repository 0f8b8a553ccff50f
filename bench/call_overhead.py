"""Call overhead: a warm identity algorithm through modelport's full path vs a bare Starlette floor.

Both run under the same uvicorn configuration on 127.0.0.1 and are loaded with wrk (Debian's
`wrk`). Prints one JSON line and a one-line summary. Usage: python bench/call_overhead.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import create_and_clone, free_port, httpx, push, start, wait_build

FLOOR_APP = '''
import json
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

def apply(input):
    return input

async def call(request):
    data = json.loads(await request.body())
    body = json.dumps({"result": apply(data), "metadata": {"content_type": "json", "duration": 0.0}})
    return Response(body, media_type="application/json")

app = Starlette(routes=[Route("/v1/algo/bench/identity", call, methods=["POST"])])
'''
BODY = '{"text": "hello", "n": 42}'


def plain_env() -> dict[str, str]:
    """PYTHONPATH shims that make ``import httptools``/``import uvloop`` fail in the servers we start."""
    shim = Path(tempfile.mkdtemp(prefix="modelport-plain-"))
    for module in ("httptools", "uvloop"):
        (shim / module).mkdir()
        (shim / module / "__init__.py").write_text("raise ImportError('hidden by the benchmark')\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))}


def uvicorn_cmd(app: str, port: int, app_dir: str, plain: bool = False) -> list[str]:
    loop = "uvloop" if _has("uvloop") and not plain else "asyncio"
    http = "httptools" if _has("httptools") and not plain else "h11"
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--app-dir", app_dir, "--log-level",
            "warning", "--no-access-log", "--loop", loop, "--http", http]


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def wrk(url: str, key: str | None, connections: int, seconds: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    headers = 'wrk.headers["Content-Type"] = "application/json"\n'
    if key:
        headers += f'wrk.headers["Authorization"] = "Simple {key}"\n'
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n{headers}')
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} failed responses:\n{out}")
    return {"rps": rps, "p50_ms": pct["50"], "p99_ms": pct["99"]}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            httpx.post(url, content=BODY)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per build (MODELPORT_WORKER_MAX)")
    parser.add_argument("--plain", action="store_true",
                        help="run both servers on uvicorn's pure-Python stack (h11 + asyncio), hiding httptools/uvloop")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    env = plain_env() if args.plain else {}
    server, tmp = start({"MODELPORT_WORKER_MAX": str(args.workers), **env})
    try:
        checkout = create_and_clone(server, tmp, "identity")
        sha = push(checkout, "identity", "def apply(input):\n    return input\n")
        wait_build(server, "identity", sha)
        with server.client() as c:
            c.post("/v1/algorithms/admin/identity/versions",
                   json={"settings": {"algorithm_callability": "public"}}).raise_for_status()
            url = f"{server.url}/v1/algo/admin/identity/0.1.0"
            started = time.perf_counter()
            first = c.post(url, content=BODY, headers={"Content-Type": "application/json"})
            cold_ms = (time.perf_counter() - started) * 1000
            assert first.json()["result"] == json.loads(BODY), first.text
            warm = []
            for _ in range(50):
                t = time.perf_counter()
                c.post(url, content=BODY, headers={"Content-Type": "application/json"})
                warm.append((time.perf_counter() - t) * 1000)
            cold_start_ms = cold_ms - sorted(warm)[len(warm) // 2]
        # Pin the path through the key-scoped resolution cache too.
        full = {c: wrk(url, server.admin_key, c, args.seconds) for c in (1, 32)}
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    app_dir = Path(tempfile.mkdtemp(prefix="modelport-floor-"))
    (app_dir / "floor_app.py").write_text(FLOOR_APP)
    port = free_port()
    floor_proc = subprocess.Popen(uvicorn_cmd("floor_app:app", port, str(app_dir), plain=args.plain),
                                  env={**os.environ, **env})
    try:
        floor_url = f"http://127.0.0.1:{port}/v1/algo/bench/identity"
        wait_up(floor_url)
        floor = {c: wrk(floor_url, None, c, args.seconds) for c in (1, 32)}
    finally:
        floor_proc.terminate()
        floor_proc.wait()
        shutil.rmtree(app_dir, ignore_errors=True)

    result = {
        "bench": "call_overhead",
        "modelport": {f"c{c}": v for c, v in full.items()},
        "floor": {f"c{c}": v for c, v in floor.items()},
        "c1_p50_overhead_ms": round(full[1]["p50_ms"] - floor[1]["p50_ms"], 3),
        "c32_rps_ratio": round(full[32]["rps"] / floor[32]["rps"], 3),
        "cold_start_ms": round(cold_start_ms, 1),
        "stack": "h11+asyncio" if args.plain else "httptools+uvloop" if _has("httptools") else "h11+asyncio",
        "targets": {"c1_p50_overhead_ms": 0.3, "c32_rps_ratio": 0.75, "cold_start_ms": 200},
    }
    print(json.dumps(result))
    print(f"c=1 p50 {full[1]['p50_ms']:.2f} ms vs floor {floor[1]['p50_ms']:.2f} ms "
          f"(+{result['c1_p50_overhead_ms']:.2f}); c=32 {full[32]['rps']:.0f} req/s vs floor "
          f"{floor[32]['rps']:.0f} ({result['c32_rps_ratio']:.0%}); cold start {cold_start_ms:.0f} ms")


if __name__ == "__main__":
    main()
