"""The pipeline's configuration steps and records; the steps that talk to a server run in tests/e2e."""

import io
import json
from pathlib import Path

import pytest

from modelport.ci.context import CIContext
from modelport.ci.errors import ConfigError
from modelport.ci.pipeline import (
    DeployOptions,
    DeployResult,
    call_instructions,
    load_suite,
    read_algorithmia_conf,
    release_record,
    resolve_algorithm,
)
from modelport.ci.progress import Progress
from modelport.ci.runner import AlgorithmResult, run_cases
from modelport.ci.testcases import parse_test_cases

SERVING = Path(__file__).resolve().parents[2] / "examples" / "serving"


def test_algorithm_from_flag_or_conf(tmp_path: Path) -> None:
    assert resolve_algorithm(DeployOptions(tmp_path, algo="algo://a/b")) == ("a", "b")
    assert resolve_algorithm(DeployOptions(SERVING)) == ("demo", "sentiment")
    with pytest.raises(ConfigError, match="no algorithm given and no algorithmia.conf") as info:
        resolve_algorithm(DeployOptions(tmp_path))
    assert "--algo OWNER/ALGO" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="expected OWNER/ALGO"):
        resolve_algorithm(DeployOptions(tmp_path, algo="just-a-name"))


def test_broken_algorithmia_conf(tmp_path: Path) -> None:
    (tmp_path / "algorithmia.conf").write_text('{"username": "a"}')
    with pytest.raises(ConfigError, match='needs "username" and "algoname"'):
        read_algorithmia_conf(tmp_path)
    (tmp_path / "algorithmia.conf").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_algorithmia_conf(tmp_path)


def test_missing_cases_skip_with_a_warning_unless_required(tmp_path: Path) -> None:
    out = io.StringIO()
    assert load_suite(DeployOptions(tmp_path), Progress(out)) is None
    assert "warning: no TEST_CASES.json" in out.getvalue() and "--require-tests" in out.getvalue()
    with pytest.raises(ConfigError, match="TEST_CASES.json: file not found"):
        load_suite(DeployOptions(tmp_path, require_tests=True), Progress(io.StringIO()))


def test_broken_cases_are_a_config_error_naming_the_case(tmp_path: Path) -> None:
    (tmp_path / "TEST_CASES.json").write_text(json.dumps([{"case_name": "acc", "input": 1, "type": "BIGGER"}]))
    with pytest.raises(ConfigError, match=r'case 1 \("acc", line 1\): "type" must be one of EXACT_MATCH'):
        load_suite(DeployOptions(tmp_path), Progress(io.StringIO()))


def test_example_cases_are_valid() -> None:
    suite = load_suite(DeployOptions(SERVING), Progress(io.StringIO()))
    assert suite is not None and len(suite.cases) == 6 and not suite.warnings


def test_release_record() -> None:
    suite = parse_test_cases('[{"case_name": "a", "input": 1, "expected_output": 1}]')
    report = run_cases(suite.cases, lambda value, timeout: AlgorithmResult(value))
    ctx = CIContext("github", "f" * 40, "https://ci/run/1", "acme/models", "refs/heads/main")
    record = release_record(ctx, "e" * 40, None, report, {"model": {"md5": "x"}})
    assert record["commit"] == "e" * 40 and record["source_commit"] == "f" * 40
    assert record["ci_run_url"] == "https://ci/run/1" and record["model"] == {"md5": "x"}
    assert {k: record["tests"][k] for k in ("passed", "failed", "errors", "total")} == {
        "passed": 1, "failed": 0, "errors": 0, "total": 1}
    assert release_record(ctx, "f" * 40, "https://override", None, {})["ci_run_url"] == "https://override"
    assert release_record(CIContext(), "f" * 40, None, None, {})["tests"] == {"skipped": True}


def test_call_instructions_quote_the_input() -> None:
    result = DeployResult("demo", "sentiment", "a" * 40, version="0.1.0", first_input="it's great")
    text = call_instructions("http://127.0.0.1:5577", result)
    assert "-H 'Content-Type: text/plain' -d 'it'\"'\"'s great' http://127.0.0.1:5577/v1/algo/demo/sentiment/0.1.0" \
        in text
    assert """print(client.algo("demo/sentiment/0.1.0").pipe("it's great").result)""" in text
    result.first_input = {"texts": ["a"]}
    assert "-H 'Content-Type: application/json' -d '{\"texts\": [\"a\"]}'" in call_instructions("http://h", result)
