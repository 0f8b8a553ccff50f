from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.source.template import template_files


def test_template_is_a_working_algorithm(tmp_path: Path) -> None:
    files = template_files("alice", "hello_world")
    assert sorted(files) == [
        "TEST_CASES.json",
        "algorithmia.conf",
        "requirements.txt",
        "src/__init__.py",
        "src/hello_world.py",
        "src/hello_world_test.py",
    ]
    assert json.loads(files["algorithmia.conf"]) == {
        "username": "alice",
        "algoname": "hello_world",
        "language": "python3",
    }
    assert all(line.startswith("#") for line in files["requirements.txt"].splitlines())
    (case,) = json.loads(files["TEST_CASES.json"])
    assert case["case_name"] and case["type"] == "EXACT_MATCH"

    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    # The test case holds for the template's apply, and the template's own unit test passes.
    check = (
        "import json, src.hello_world as m; c = json.load(open('TEST_CASES.json'))[0]; "
        "assert m.apply(c['input']) == c['expected_output']"
    )
    subprocess.run([sys.executable, "-c", check], cwd=tmp_path, check=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "src"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "../x", "a.b"])
def test_invalid_algorithm_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid algorithm name"):
        template_files("alice", name)
