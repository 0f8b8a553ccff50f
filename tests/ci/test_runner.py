import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from modelport.ci.runner import (
    AlgorithmError,
    AlgorithmResult,
    CallResult,
    CaseResult,
    CaseStatus,
    TransportError,
    exponential_backoff,
    run_cases,
)
from modelport.ci.testcases import MatchType, TestCase, parse_test_cases


def make_case(
    number: int, name: str, input: Any, kind: str = "EXACT_MATCH", expected: Any = None
) -> TestCase:
    return TestCase(number, name, input, MatchType(kind), expected)


def no_wait(retry: int) -> float:
    return 0.0


def echo(case_input: Any, timeout: float) -> CallResult:
    return AlgorithmResult(case_input)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets calls that hang on purpose finish once the test is over."""
    event = threading.Event()
    yield event
    event.set()


def test_cases_pass_and_fail() -> None:
    cases = [make_case(1, "same", "x", expected="x"), make_case(2, "different", "x", expected="y")]
    report = run_cases(cases, echo, backoff=no_wait)
    assert [r.status for r in report.results] == [CaseStatus.PASSED, CaseStatus.FAILED]
    assert report.results[1].reason == 'result is "x", expected "y"'
    assert (report.passed, report.failed, report.errors, report.ok) == (1, 1, 0, False)
    assert all(r.attempts == 1 for r in report.results)
    assert report.results[0].output_preview == '"x"'


def test_runs_a_loaded_file_end_to_end() -> None:
    suite = parse_test_cases(
        json.dumps(
            [
                {"case_name": "hello", "input": "world", "expected_output": "hello world"},
                {
                    "case_name": "accuracy",
                    "input": 0.8,
                    "expected_output": 0.7,
                    "type": "GREATER_OR_EQUAL",
                    "tree": ["accuracy"],
                },
                {"case_name": "bad input", "input": None, "type": "EXCEPTION"},
            ]
        )
    )

    def algorithm(case_input: Any, timeout: float) -> CallResult:
        if case_input is None:
            return AlgorithmError("input must not be null", "AlgorithmError", "Traceback ...")
        if isinstance(case_input, str):
            return AlgorithmResult(f"hello {case_input}")
        return AlgorithmResult({"accuracy": case_input})

    report = run_cases(suite.cases, algorithm, backoff=no_wait)
    assert report.ok, [r.reason for r in report.results]


def test_order_is_kept_under_concurrency_and_concurrency_is_bounded() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_echo(case_input: Any, timeout: float) -> CallResult:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01 * (10 - case_input))  # early cases finish last
        with lock:
            running -= 1
        return AlgorithmResult(case_input)

    cases = [make_case(i + 1, f"case {i}", i, expected=i) for i in range(10)]
    finished: list[str] = []
    report = run_cases(cases, slow_echo, concurrency=3, on_result=lambda r: finished.append(r.case.name))
    assert [r.case.name for r in report.results] == [c.name for c in cases]
    assert report.ok
    assert peak == 3
    assert sorted(finished) == sorted(c.name for c in cases)
    assert finished != [c.name for c in cases]  # completion order differed, report order did not


def test_transport_errors_are_retried_then_succeed() -> None:
    calls = 0
    waits: list[int] = []

    def flaky(case_input: Any, timeout: float) -> CallResult:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransportError("connection refused")
        return AlgorithmResult(case_input)

    def backoff(retry: int) -> float:
        waits.append(retry)
        return 0.0

    report = run_cases([make_case(1, "a", 1, expected=1)], flaky, retries=3, backoff=backoff)
    (result,) = report.results
    assert result.status is CaseStatus.PASSED
    assert result.attempts == 3
    assert waits == [1, 2]


def test_transport_errors_give_up_after_retries() -> None:
    calls = 0

    def down(case_input: Any, timeout: float) -> CallResult:
        nonlocal calls
        calls += 1
        raise TransportError(f"HTTP 503 (call {calls})")

    (result,) = run_cases([make_case(1, "a", 1, expected=1)], down, retries=2, backoff=no_wait).results
    assert calls == 3
    assert result.status is CaseStatus.ERROR
    assert result.attempts == 3
    assert result.reason == "could not call the algorithm (3 attempts): HTTP 503 (call 3)"
    assert result.output_preview == ""


def test_no_retries_means_one_attempt() -> None:
    def down(case_input: Any, timeout: float) -> CallResult:
        raise TransportError("busy")

    (result,) = run_cases([make_case(1, "a", 1, expected=1)], down, retries=0).results
    assert result.reason == "could not call the algorithm (1 attempt): busy"


def test_retry_after_is_honoured() -> None:
    calls = 0

    def busy_once(case_input: Any, timeout: float) -> CallResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TransportError("busy", retry_after=0.05)
        return AlgorithmResult(case_input)

    (result,) = run_cases([make_case(1, "a", 1, expected=1)], busy_once, backoff=no_wait).results
    assert result.status is CaseStatus.PASSED
    assert result.duration >= 0.05


def test_algorithm_errors_are_not_retried() -> None:
    calls = 0

    def raises(case_input: Any, timeout: float) -> CallResult:
        nonlocal calls
        calls += 1
        return AlgorithmError(
            "division by zero", "ZeroDivisionError", "Traceback (most recent call last): ..."
        )

    (result,) = run_cases([make_case(1, "a", 1, expected=1)], raises, retries=5, backoff=no_wait).results
    assert calls == 1
    assert result.attempts == 1
    assert result.status is CaseStatus.FAILED
    assert result.reason == "the algorithm raised an error: ZeroDivisionError: division by zero"
    assert result.error is not None and result.error.stacktrace is not None


def test_exception_case_passes_on_an_algorithm_error_and_records_it() -> None:
    def raises(case_input: Any, timeout: float) -> CallResult:
        return AlgorithmError("bad input", "AlgorithmError")

    cases = [make_case(1, "raises", None, "EXCEPTION"), make_case(2, "quiet", None, "NO_EXCEPTION")]
    report = run_cases(cases, raises, backoff=no_wait)
    raised, quiet = report.results
    assert raised.status is CaseStatus.PASSED
    assert raised.reason == "raised as expected: AlgorithmError: bad input"
    assert raised.error == AlgorithmError("bad input", "AlgorithmError")
    assert raised.output_preview == "AlgorithmError: bad input"
    assert quiet.status is CaseStatus.FAILED


def test_exception_case_fails_when_the_algorithm_answers() -> None:
    cases = [make_case(1, "raises", 1, "EXCEPTION"), make_case(2, "quiet", 1, "NO_EXCEPTION")]
    raised, quiet = run_cases(cases, echo).results
    assert raised.status is CaseStatus.FAILED
    assert raised.reason == "expected the algorithm to raise an error, but it returned 1"
    assert quiet.status is CaseStatus.PASSED


def test_per_case_timeout(release: threading.Event) -> None:
    def hangs_on_zero(case_input: Any, timeout: float) -> CallResult:
        if case_input == 0:
            release.wait(5)
        return AlgorithmResult(case_input)

    cases = [make_case(1, "hangs", 0, expected=0), make_case(2, "quick", 1, expected=1)]
    start = time.monotonic()
    report = run_cases(cases, hangs_on_zero, timeout=0.1, retries=3, backoff=no_wait)
    assert time.monotonic() - start < 1.0
    hung, quick = report.results
    assert hung.status is CaseStatus.ERROR
    assert hung.reason == "no answer within 0.1s (timeout)"
    assert hung.attempts == 1  # a slow algorithm is not retried
    assert quick.status is CaseStatus.PASSED


def test_timeout_is_passed_to_call() -> None:
    seen: list[float] = []

    def record(case_input: Any, timeout: float) -> CallResult:
        seen.append(timeout)
        return AlgorithmResult(case_input)

    run_cases([make_case(1, "a", 1, expected=1)], record, timeout=12.5)
    assert seen == [12.5]


def test_a_bug_in_call_is_that_case_error_not_a_crash() -> None:
    def buggy(case_input: Any, timeout: float) -> CallResult:
        if case_input == 1:
            raise KeyError("result")
        return AlgorithmResult(case_input)

    cases = [make_case(1, "buggy", 1, expected=1), make_case(2, "fine", 2, expected=2)]
    buggy_result, fine = run_cases(cases, buggy, backoff=no_wait).results
    assert buggy_result.status is CaseStatus.ERROR
    assert buggy_result.reason == "calling the algorithm failed: KeyError: 'result'"
    assert buggy_result.attempts == 1
    assert fine.status is CaseStatus.PASSED


def test_call_returning_a_bare_value_is_an_error() -> None:
    def bare(case_input: Any, timeout: float) -> Any:
        return case_input

    (result,) = run_cases([make_case(1, "a", 1, expected=1)], bare).results
    assert result.status is CaseStatus.ERROR
    assert result.reason == "call returned int, expected AlgorithmResult or AlgorithmError"


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        run_cases([], echo, concurrency=0)
    with pytest.raises(ValueError, match="timeout"):
        run_cases([], echo, timeout=0)
    with pytest.raises(ValueError, match="retries"):
        run_cases([], echo, retries=-1)


def test_empty_run_is_not_ok() -> None:
    report = run_cases([], echo)
    assert report.results == []
    assert not report.ok


def test_exponential_backoff_doubles_with_jitter_and_a_cap() -> None:
    for retry, full in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
        delays = [exponential_backoff(retry) for _ in range(50)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert len(set(delays)) > 1


def test_report_to_dict_is_json() -> None:
    def binary(case_input: Any, timeout: float) -> CallResult:
        return AlgorithmResult(b"\x89PNG")

    report = run_cases([make_case(1, "image", 1, expected="x")], binary)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["failed"] == 1
    (case,) = data["cases"]
    assert case["case_name"] == "image"
    assert case["status"] == "failed"
    assert case["output"] == "<4 bytes>"
    assert case["reason"] == 'result is <4 bytes> (bytes), expected "x" (string)'


def test_output_preview_is_truncated() -> None:
    result = CaseResult(make_case(1, "a", 1), CaseStatus.FAILED, "", 0.0, 1, result="x" * 10_000)
    assert len(result.output_preview) < 600
    assert result.output_preview.endswith("(10002 characters)")
