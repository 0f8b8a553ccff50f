"""Fixtures for the runtime tests: real virtualenvs, real algorithm folders, real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelport.runtime import WorkerSpec

CACHE = Path(os.environ.get("MODELPORT_TEST_CACHE", Path(__file__).resolve().parents[2] / ".cache" / "tests"))
ALGORITHMIA_REQUIREMENTS = ["algorithmia==2.0.5", "algorithmia-adk==1.2.4"]


def _uv() -> str:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            pytest.skip("uv is not installed")
        return found


@pytest.fixture(scope="session")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty virtualenv (no requirements), shared by the session."""
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([_uv(), "venv", "-q", "-p", sys.executable, str(path)], check=True)
    return path / "bin" / "python"


@pytest.fixture(scope="session")
def algorithmia_python() -> Path:
    """A virtualenv holding the real ``algorithmia`` and ``algorithmia-adk`` packages from PyPI,
    cached across sessions under .cache/tests (like the client virtualenvs)."""
    path = CACHE / "runtime" / "algorithmia-adk"
    python = path / "bin" / "python"
    marker = path / ".complete"
    wanted = " ".join(ALGORITHMIA_REQUIREMENTS)
    if not marker.exists() or marker.read_text() != wanted:
        uv = _uv()
        try:
            subprocess.run([uv, "venv", "-q", "--clear", "-p", sys.executable, str(path)], check=True)
            subprocess.run(
                [uv, "pip", "install", "-q", "-p", str(python), *ALGORITHMIA_REQUIREMENTS],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"cannot install {wanted} from PyPI: {output.decode(errors='replace')[-500:]}")
        marker.write_text(wanted)
    return python


AlgorithmFactory = Callable[..., WorkerSpec]


@pytest.fixture
def algorithm(tmp_path: Path, venv_python: Path) -> AlgorithmFactory:
    """Write ``src/<entry>.py`` (plus extra files) into a fresh checkout; returns its WorkerSpec."""
    counter = iter(range(1000))

    def make(
        code: str,
        *,
        entry: str = "algo",
        files: dict[str, str] | None = None,
        python: Path | None = None,
        init: bool = True,
        **spec_options: Any,
    ) -> WorkerSpec:
        root = tmp_path / f"checkout{next(counter)}"
        (root / "src").mkdir(parents=True)
        if init:
            (root / "src" / "__init__.py").write_text("")
        (root / "src" / f"{entry}.py").write_text(textwrap.dedent(code))
        for name, text in (files or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(textwrap.dedent(text))
        return WorkerSpec(python or venv_python, root, entry, **spec_options)

    return make
