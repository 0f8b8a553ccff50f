"""The bench/ scripts still run, at their smallest sizes, and print the figures the docs quote.

Speed is not asserted here (docs/bench.md has the measured figures); this only keeps the scripts from
rotting between measurements.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytestmark = pytest.mark.e2e

SMOKE_RUNS = {
    "data_transfer.py": (["--size-mib", "8", "--runs", "1"],
                         ["upload_mib_s", "download_mib_s", "cp_mib_s", "md5_one_core_mib_s",
                          "bare_socket_upload_mib_s", "sendfile_download_mib_s", "cli_upload_mib_s", "cli_download_mib_s",
                          "rss_peak_growth_mib"]),
    "deploy.py": (["--runs", "1"], ["no_requirements_s", "cached_requirements_s", "cold_six_s"]),
    "pipeline.py": (["--runs", "1", "--cases", "2"], ["median_s", "first_deploy_s"]),
    "runtime_pool.py": (["--calls", "50", "--starts", "2"], ["cold_start_ms_median", "warm_call_ms_json"]),
    "call_overhead.py": (["--seconds", "1"], ["modelport", "floor"]),
}


@pytest.mark.parametrize("script", sorted(SMOKE_RUNS))
def test_bench_script_prints_its_figures(script: str, tmp_path: Path) -> None:
    if script == "call_overhead.py" and not shutil.which("wrk"):
        pytest.fail("wrk is not installed (scripts/test installs it with apt-get)")
    args, keys = SMOKE_RUNS[script]
    done = subprocess.run([sys.executable, str(BENCH / script), *args], check=False, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    for key in keys:
        value = figures[key]
        if isinstance(value, dict):  # call_overhead: per-concurrency request rates
            assert all(level["rps"] > 0 for level in value.values()), figures
        else:
            assert value >= 0 and (key.startswith("rss") or value > 0), (key, figures)
