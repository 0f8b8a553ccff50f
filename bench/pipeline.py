"""Deploy pipeline: median wall time of `modelport deploy` of the serving example with 20 test cases, from
start to published, with the build environment cached (a warm-up deploy builds it first).

Each run commits a change and deploys it as a new revision; the split (push, build, tests, publish) comes from
`modelport deploy --json`. Prints one JSON line and a one-line summary.
Usage: python bench/pipeline.py [--runs 7] [--cases 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import git, start

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 5.0


def make_repo(tmp: Path, cases: int) -> Path:
    repo = tmp / "serving"
    shutil.copytree(ROOT / "examples" / "serving", repo)
    (repo / "algorithmia.conf").write_text(json.dumps({"username": "admin", "algoname": "sentiment"}))
    base = json.loads((repo / "TEST_CASES.json").read_text())
    many = [dict(base[i % len(base)], case_name=f"{base[i % len(base)]['case_name']} #{i + 1}")
            for i in range(cases)]
    (repo / "TEST_CASES.json").write_text(json.dumps(many, indent=2))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    return repo


def deploy(server_url: str, key: str, repo: Path, *extra: str) -> tuple[float, dict]:  # type: ignore[type-arg]
    env = {"PATH": "/usr/bin:/bin", "MODELPORT_API": server_url, "MODELPORT_API_KEY": key, "HOME": str(repo)}
    start_time = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "modelport", "deploy", str(repo), "--json", *extra],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start_time
    if proc.returncode != 0:
        raise SystemExit(f"deploy failed ({proc.returncode}):\n{proc.stderr}")
    return wall, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()

    server, tmp = start()
    try:
        repo = make_repo(tmp, args.cases)
        warm_wall, _ = deploy(server.url, server.admin_key, repo, "--create")
        walls: list[float] = []
        splits: dict[str, list[float]] = {}
        for run in range(args.runs):
            (repo / "RUN").write_text(str(run))
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"run {run}")
            wall, result = deploy(server.url, server.admin_key, repo, "--version-schema", "revision")
            assert result["tests"]["passed"] == args.cases, result
            walls.append(wall)
            for step, seconds in result["timings"].items():
                splits.setdefault(step, []).append(seconds)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    median = statistics.median(walls)
    split = {step: round(statistics.median(values), 3) for step, values in splits.items()}
    print(json.dumps({"benchmark": "pipeline", "runs": args.runs, "cases": args.cases,
                      "median_s": round(median, 3), "min_s": round(min(walls), 3), "max_s": round(max(walls), 3),
                      "split_median_s": split, "first_deploy_s": round(warm_wall, 3),
                      "target_s": TARGET_SECONDS, "ok": median < TARGET_SECONDS}))
    parts = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in split.items())
    print(f"modelport deploy with {args.cases} cases: median {median:.2f}s over {args.runs} runs ({parts}); "
          f"first deploy {warm_wall:.2f}s; target < {TARGET_SECONDS:g}s")


if __name__ == "__main__":
    main()
