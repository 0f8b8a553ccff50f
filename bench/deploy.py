"""Push → build ``succeeded``, median of N runs, for three cases (issue 3):

(a) an algorithm without requirements, (b) a rebuild whose requirements are already cached,
(c) a cold install of one small pure-Python package (``six``; the uv download cache is emptied and a
different version is used each run), next to the same install with ``python -m venv`` + ``pip``.
Prints one JSON line and a one-line summary. Usage: python bench/deploy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import create_and_clone, push, start, wait_build

CODE = "def apply(input):\n    return input  # run {n}\n"
SIX_VERSIONS = ["1.16.0", "1.15.0", "1.14.0", "1.13.0", "1.12.0", "1.11.0", "1.10.0"]


def timed_deploy(server, checkout: Path, name: str, n: int, requirements: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    sha = push(checkout, name, CODE.format(n=n), requirements)
    build = wait_build(server, name, sha)
    elapsed = time.perf_counter() - started
    if build["status"] != "succeeded":
        raise RuntimeError(f"build failed: {build}")
    return elapsed


def pip_install(version: str) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="modelport-pip-"))
    try:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
        subprocess.run([str(tmp / "venv" / "bin" / "pip"), "install", "-q", "--no-cache-dir",
                        "--disable-pip-version-check", f"six=={version}"], check=True)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = min(args.runs, len(SIX_VERSIONS))
    server, tmp = start()
    try:
        checkout = create_and_clone(server, tmp, "bench")
        timed_deploy(server, checkout, "bench", -1, "")  # warm up: the empty environment exists
        no_reqs = [timed_deploy(server, checkout, "bench", n, "") for n in range(runs)]
        timed_deploy(server, checkout, "bench", -2, "six==1.16.0\n")
        cached = [timed_deploy(server, checkout, "bench", n, "six==1.16.0\n") for n in range(runs)]
        cold = []
        for n, version in enumerate(SIX_VERSIONS[1:runs + 1]):
            shutil.rmtree(server.data_dir / "envs" / ".uv-cache", ignore_errors=True)
            cold.append(timed_deploy(server, checkout, "bench", 100 + n, f"six=={version}\n"))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    pip = [pip_install(v) for v in SIX_VERSIONS[1:runs + 1]]

    med = {k: round(statistics.median(v), 3) for k, v in
           {"no_requirements_s": no_reqs, "cached_requirements_s": cached, "cold_six_s": cold,
            "venv_pip_six_s": pip}.items()}
    print(json.dumps({"bench": "deploy", "runs": runs, **med, "targets": {"no_requirements_s": 2.0,
                                                                          "cached_requirements_s": 2.0}}))
    print(f"push→succeeded (median of {runs}): no requirements {med['no_requirements_s']:.2f}s, "
          f"cached requirements {med['cached_requirements_s']:.2f}s, cold six {med['cold_six_s']:.2f}s "
          f"(python -m venv + pip install: {med['venv_pip_six_s']:.2f}s)")


if __name__ == "__main__":
    main()
