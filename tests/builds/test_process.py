from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from modelport.builds._process import base_env, run_command


def test_output_is_streamed_merged_and_tail_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_SECRET", "s3cret")
    lines: list[str] = []
    code = (
        "import os, sys\nfor i in range(50): print(i)\nsys.stderr.write('to stderr\\n')\n"
        "print(os.environ.get('MODELPORT_SECRET', 'no secret'), os.environ['HOME'])\nsys.exit(3)"
    )
    result = run_command([sys.executable, "-u", "-c", code], log=lines.append, env=base_env(tmp_path), tail=5)
    assert result.returncode == 3 and not result.timed_out
    assert lines[:2] == ["0", "1"] and len(lines) == 52
    assert result.tail == ["47", "48", "49", "to stderr", f"no secret {tmp_path}"]


def test_timeout_kills(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_command(
        [sys.executable, "-c", "import time; print('start', flush=True); time.sleep(30)"],
        log=lambda line: None,
        env=base_env(tmp_path),
        timeout=0.3,
    )
    assert result.timed_out and result.returncode != 0
    assert result.tail == ["start"]
    assert time.monotonic() - started < 5
