"""CLI usage and configuration errors: exit code 2 and a message naming what to fix, before any server call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SEED_EXAMPLE = """[
    {
      "case_name": "image_classifier_accuracy",
      "input": {"image_data":  [1, 2]},
      "expected_output": 0.7,
      "type": "GREATER_OR_EQUAL",
      "tree": ["accuracy"],
    }
]
"""


def mp(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # a port nothing listens on: these commands must fail before they need a server
    env = {**os.environ, "MODELPORT_API": "http://127.0.0.1:9", "MODELPORT_API_KEY": "simUNUSED",
           "XDG_CONFIG_HOME": str(cwd or Path.cwd())}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60, check=False)


def test_seed_example_trailing_comma(tmp_path: Path) -> None:
    (tmp_path / "TEST_CASES.json").write_text(SEED_EXAMPLE)
    r = mp("test", "--algo", "demo/hello", "--build", "a" * 40, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == ('error: TEST_CASES.json: line 7, column 27: invalid JSON: JSON does not allow a trailing '
                        'comma before "}"; remove this comma\n'
                        '          "tree": ["accuracy"],\n'
                        '                              ^\n')


def test_every_problem_is_listed_with_case_and_field(tmp_path: Path) -> None:
    cases = tmp_path / "cases.json"
    cases.write_text('[{"case_name": "a", "input": 1, "type": "exact_match"},'
                     ' {"input": 2, "expected_output": "x", "type": "GREATER_OR_EQUAL"}]')
    r = mp("test", "--algo", "demo/hello", "--cases", str(cases), cwd=tmp_path)
    assert r.returncode == 2
    assert f'{cases}: case 1 ("a", line 1): "type" must be one of EXACT_MATCH' in r.stderr
    assert 'did you mean "EXACT_MATCH"? types are upper case' in r.stderr
    assert f'{cases}: case 2 (line 1): "case_name" is required' in r.stderr
    assert f'{cases}: case 2 (line 1): "expected_output" must be a number for type GREATER_OR_EQUAL' in r.stderr


def test_test_usage_errors(tmp_path: Path) -> None:
    r = mp("test", "--build", "a" * 40, cwd=tmp_path)
    assert r.returncode == 2 and "pass --algo OWNER/ALGO" in r.stderr
    r = mp("test", "--algo", "a/b", "--build", "abc", cwd=tmp_path)
    assert r.returncode == 2 and "expected a full commit sha (40 hex digits)" in r.stderr
    r = mp("test", "--algo", "a/b", "--build", "a" * 40, "--version", "1.0.0", cwd=tmp_path)
    assert r.returncode == 2 and "--build and --version go one at a time" in r.stderr
    r = mp("test", "--algo", "a/b", "--cases", "missing.json", cwd=tmp_path)
    assert r.returncode == 2 and "error: missing.json: file not found" in r.stderr


def test_deploy_configuration_errors(tmp_path: Path) -> None:
    r = mp("deploy", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == (f"error: no algorithm given and no algorithmia.conf in {tmp_path}\n\n"
                        "hint: pass --algo OWNER/ALGO, or add algorithmia.conf with username and algoname\n")
    r = mp("deploy", str(tmp_path), "--algo", "a/b", cwd=tmp_path)
    assert r.returncode == 2 and f"error: {tmp_path} is not a git checkout" in r.stderr
    r = mp("deploy", "--version-schema", "patch", cwd=tmp_path)
    assert r.returncode == 2 and "'patch' is not one of 'major', 'minor', 'revision'" in r.stderr
    r = mp("deploy-model", "--username", "a", cwd=tmp_path)
    assert r.returncode == 2 and "pass --algo OWNER/ALGO, or --username and --algoname" in r.stderr


def test_deploy_checks_cases_before_pushing(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "TEST_CASES.json").write_text("[]")
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    r = mp("deploy", str(tmp_path), "--algo", "a/b", cwd=tmp_path)
    assert r.returncode == 2
    assert "TEST_CASES.json: no test cases: the array is empty" in r.stderr
    r = mp("deploy", str(tmp_path), "--algo", "a/b", "--cases", "nope.json", cwd=tmp_path)
    assert r.returncode == 2 and "nope.json: file not found" in r.stderr
