"""Run test cases against an algorithm through a caller-supplied ``call`` function.

``call(case_input, timeout)`` makes one attempt and reports one of three outcomes:

* returns ``AlgorithmResult(result)``: the algorithm answered; the case's matcher decides;
* returns ``AlgorithmError(message, error_type, stacktrace)``: the algorithm raised. This is an answer too, so it
  is **never retried** (Algorithmia's action retried every error 11 times, which also made ``EXCEPTION`` cases
  impossible to pass);
* raises ``TransportError``: no answer (connection refused, transport timeout, HTTP 5xx, "busy"). Retried up to
  ``retries`` times with exponential backoff and jitter, honouring ``retry_after`` when the server sent one.

A case whose attempt has not returned by ``timeout`` (plus a little grace for ``call``'s own timeout to fire
first) is an error and is not retried: an algorithm that is too slow will not get faster. Any other exception
from ``call`` is a bug in the caller; it is reported as that case's error rather than aborting the run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from modelport.ci.matchers import check_error, check_result, format_value
from modelport.ci.testcases import TestCase

PREVIEW_LIMIT = 500


@dataclass(frozen=True)
class AlgorithmResult:
    """The algorithm returned ``result`` (any JSON value, or bytes for binary output)."""

    result: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlgorithmError:
    """The algorithm raised: the ``error`` object of Algorithmia's response (reference 2.4)."""

    message: str
    error_type: str | None = None
    stacktrace: str | None = None

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}" if self.error_type else self.message


CallResult = AlgorithmResult | AlgorithmError
Call = Callable[[Any, float], CallResult]


class TransportError(Exception):
    """The call got no answer from the algorithm; worth retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CaseStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the algorithm answered, but not as the case expects
    ERROR = "error"  # no usable answer: transport errors after retries, timeout, or a bug in ``call``


@dataclass(frozen=True)
class CaseResult:
    case: TestCase
    status: CaseStatus
    reason: str
    duration: float
    attempts: int
    result: Any = None
    error: AlgorithmError | None = None

    @property
    def output_preview(self) -> str:
        """What the algorithm answered, cut for display; empty when it gave no answer."""
        if self.error is not None:
            return _cut(str(self.error))
        if self.status is CaseStatus.ERROR:
            return ""
        return format_value(self.result, PREVIEW_LIMIT)


@dataclass(frozen=True)
class Report:
    results: list[CaseResult]
    started_at: datetime
    duration: float

    @property
    def passed(self) -> int:
        return sum(r.status is CaseStatus.PASSED for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.status is CaseStatus.FAILED for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.status is CaseStatus.ERROR for r in self.results)

    @property
    def ok(self) -> bool:
        """True when there was at least one case and every case passed: the gate opens."""
        return bool(self.results) and self.passed == len(self.results)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, e.g. for a release record or ``--json`` output."""
        return {
            "started_at": self.started_at.isoformat(),
            "duration": round(self.duration, 3),
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "cases": [
                {
                    "number": r.case.number,
                    "case_name": r.case.name,
                    "type": str(r.case.type),
                    "status": str(r.status),
                    "reason": r.reason,
                    "duration": round(r.duration, 3),
                    "attempts": r.attempts,
                    "output": r.output_preview,
                }
                for r in self.results
            ],
        }


def exponential_backoff(retry: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, ...): doubling, capped, with jitter so that
    concurrent cases hitting the same busy server do not retry in lockstep."""
    return min(cap, base * 2.0 ** (retry - 1)) * random.uniform(0.5, 1.0)


def run_cases(
    cases: Sequence[TestCase],
    call: Call,
    *,
    concurrency: int = 4,
    timeout: float = 60.0,
    retries: int = 3,
    backoff: Callable[[int], float] = exponential_backoff,
    on_result: Callable[[CaseResult], None] | None = None,
) -> Report:
    """Run every case, at most ``concurrency`` at a time; results keep the order of ``cases``.

    ``timeout`` bounds one attempt and is passed to ``call``; ``retries`` counts retries after the first attempt,
    for ``TransportError`` only. ``on_result`` is called in this thread as each case finishes (in completion
    order), for live progress.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if retries < 0:
        raise ValueError("retries must not be negative")

    started_at = datetime.now(UTC)
    start = time.monotonic()
    results: list[CaseResult | None] = [None] * len(cases)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="modelport-case")
    try:
        futures = {
            pool.submit(_run_case, case, call, timeout, retries, backoff): index
            for index, case in enumerate(cases)
        }
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    finally:
        # on Ctrl-C, do not start the cases still queued; running attempts end within their timeout
        pool.shutdown(wait=False, cancel_futures=True)
    return Report([r for r in results if r is not None], started_at, time.monotonic() - start)


def _run_case(
    case: TestCase, call: Call, timeout: float, retries: int, backoff: Callable[[int], float]
) -> CaseResult:
    start = time.monotonic()
    attempts = 0

    def done(status: CaseStatus, reason: str, **outcome: Any) -> CaseResult:
        return CaseResult(case, status, reason, time.monotonic() - start, attempts, **outcome)

    while True:
        attempts += 1
        try:
            outcome = _attempt(call, case.input, timeout)
        except TransportError as exc:
            if attempts > retries:
                tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
                return done(CaseStatus.ERROR, f"could not call the algorithm ({tries}): {exc}")
            time.sleep(max(backoff(attempts), exc.retry_after or 0.0))
            continue
        except _NoAnswer:
            return done(CaseStatus.ERROR, f"no answer within {timeout:g}s (timeout)")
        # a bug in ``call``: report it on this case instead of losing the whole run
        except Exception as exc:  # noqa: BLE001
            return done(CaseStatus.ERROR, f"calling the algorithm failed: {type(exc).__name__}: {exc}")
        break

    if isinstance(outcome, AlgorithmResult):
        verdict = check_result(case, outcome.result)
        status = CaseStatus.PASSED if verdict.passed else CaseStatus.FAILED
        return done(status, verdict.reason, result=outcome.result)
    if isinstance(outcome, AlgorithmError):
        verdict = check_error(case, str(outcome))
        status = CaseStatus.PASSED if verdict.passed else CaseStatus.FAILED
        return done(status, verdict.reason, error=outcome)
    return done(
        CaseStatus.ERROR,
        f"call returned {type(outcome).__name__}, expected AlgorithmResult or AlgorithmError",
    )


def _attempt(call: Call, case_input: Any, timeout: float) -> object:
    """One call in a daemon thread, so a call that ignores its timeout cannot hold up the run or the exit."""
    box: list[Any] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def target() -> None:
        try:
            box.append(call(case_input, timeout))
        # handed over to the waiting thread, which decides what it means
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)
        finally:
            finished.set()

    threading.Thread(target=target, name="modelport-call", daemon=True).start()
    # grace lets call's own (transport) timeout fire first, so it is reported as what it is
    if not finished.wait(timeout + min(1.0, timeout / 10)):
        raise _NoAnswer
    if failure:
        raise failure[0]
    return box[0]


class _NoAnswer(Exception):
    """The attempt outlived its deadline (distinct from any TimeoutError ``call`` itself might raise)."""


def _cut(text: str, limit: int = PREVIEW_LIMIT) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"
