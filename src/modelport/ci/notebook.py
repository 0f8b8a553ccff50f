"""Execute a training notebook with nbclient, in its own folder, and say which cell failed and how.

nbclient is imported only here (``pip install 'modelport[notebook]'``); the kernel is ``python3`` of the
running interpreter's environment, so the packages the notebook imports must be installed next to modelport.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from modelport.ci.errors import ConfigError, DeployError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SOURCE_LINES = 12


def execute_notebook(path: Path, workdir: Path, *, timeout: float = 1800.0, kernel: str = "python3") -> int:
    """Run every cell of ``path`` with ``workdir`` as the working directory; returns the number of code cells.

    Raises ``DeployError`` naming the failing cell, with its source and the error, if any cell raises.
    """
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError:
        raise ConfigError("executing a notebook needs nbclient and ipykernel",
                          hint="pip install 'modelport[notebook]' (plus what the notebook imports)") from None
    try:
        nb = nbformat.read(str(path), as_version=4)
    # nbformat raises several unrelated types for an unreadable file
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    client = NotebookClient(nb, timeout=int(timeout), kernel_name=kernel, allow_errors=False,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        raise DeployError(f"{path}: {describe_failure(nb, exc)}",
                          hint="fix the notebook (run it locally top to bottom), commit and push again") from None
    except CellTimeoutError:
        raise DeployError(f"{path}: a cell ran longer than {timeout:g}s") from None
    except DeadKernelError as exc:
        raise DeployError(f"{path}: the kernel died ({exc}); out of memory?") from None
    return sum(cell.cell_type == "code" for cell in nb.cells)


def describe_failure(nb: Any, exc: Exception) -> str:
    """``code cell 3 raised ZeroDivisionError: division by zero``, the cell's source, then the traceback."""
    index, cell, error = _failing_cell(nb)
    if cell is None:
        return f"a cell raised an error:\n{_clean(str(exc))}"
    code_number = sum(c.cell_type == "code" for c in nb.cells[: index + 1])
    source = cell.source.splitlines()
    shown = source[:_SOURCE_LINES] + (["…"] if len(source) > _SOURCE_LINES else [])
    traceback = "\n".join(_clean(line) for line in error.get("traceback", []))
    headline = (f"code cell {code_number} (cell {index + 1} of {len(nb.cells)}) raised "
                f"{error.get('ename', 'an error')}: {error.get('evalue', '')}")
    return "\n".join([
        headline,
        "cell source:",
        *(f"    {line}" for line in shown),
        "traceback:",
        *(f"    {line}" for line in traceback.splitlines()),
    ])


def _failing_cell(nb: Any) -> tuple[int, Any, dict[str, Any]]:
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, cell, dict(output)
    return -1, None, {}


def _clean(text: str) -> str:
    return _ANSI.sub("", text)
