"""Notebook execution, in the cached notebook virtualenv (nbclient is an optional dependency)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from tests.ci.tools import EXAMPLES, notebook_env

SCRIPT = """
import json, sys
from pathlib import Path
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from modelport.ci.errors import DeployError
from modelport.ci.notebook import execute_notebook

folder = Path(sys.argv[1])
nb = new_notebook(cells=[new_markdown_cell("# title"), new_code_cell("rows = [1, 2]"),
                         new_code_cell("total = sum(rows)\\nratio = total / (len(rows) - 2)")])
nbformat.write(nb, folder / "bad.ipynb")
try:
    execute_notebook(folder / "bad.ipynb", folder)
except DeployError as exc:
    print(json.dumps([str(exc), exc.hint]))
"""


def run(folder: Path) -> str:
    python = notebook_env() / "bin" / "python"
    proc = subprocess.run([str(python), "-c", textwrap.dedent(SCRIPT), str(folder)], capture_output=True,
                          text=True, timeout=300, check=True)
    return proc.stdout


def test_failing_cell_is_named_with_source_and_error(tmp_path: Path) -> None:
    import json

    message, hint = json.loads(run(tmp_path).strip().splitlines()[-1])
    lines = message.splitlines()
    assert lines[0] == f"{tmp_path / 'bad.ipynb'}: code cell 2 (cell 3 of 3) raised ZeroDivisionError: division by zero"
    assert lines[1:4] == ["cell source:", "    total = sum(rows)", "    ratio = total / (len(rows) - 2)"]
    assert lines[4] == "traceback:" and "\x1b[" not in message
    assert "run it locally" in hint


def test_example_notebook_writes_the_model(tmp_path: Path) -> None:
    python = notebook_env() / "bin" / "python"
    (tmp_path / "model_training.ipynb").write_bytes((EXAMPLES / "model-training" / "model_training.ipynb").read_bytes())
    code = ("import sys; from pathlib import Path; from modelport.ci.notebook import execute_notebook; "
            "print(execute_notebook(Path(sys.argv[1]) / 'model_training.ipynb', Path(sys.argv[1])))")
    proc = subprocess.run([str(python), "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "5" and (tmp_path / "model.pkl").stat().st_size > 0
