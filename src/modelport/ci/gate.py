"""The test gate: run a ``TEST_CASES.json`` suite against one build or version over HTTP, report as it goes,
and leave the JUnit file and the GitHub step summary behind. Used by ``modelport test`` and the deploy pipeline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from modelport.ci.calls import algorithm_path, http_call
from modelport.ci.reports import (
    format_case_line,
    printable,
    summary_line,
    wants_unicode,
    write_github_step_summary,
    write_junit,
)
from modelport.ci.runner import CaseResult, Report, run_cases
from modelport.ci.testcases import TestSuite


@dataclass(frozen=True)
class GateOptions:
    concurrency: int = 4
    timeout: float = 60.0
    retries: int = 3
    junit: Path | None = None


def run_gate(client: httpx.Client, owner: str, algo: str, version: str | None, suite: TestSuite,
             options: GateOptions, out: TextIO) -> Report:
    """Run every case against ``/v1/algo/owner/algo[/version]``; each case is printed to ``out`` as it ends."""
    unicode = wants_unicode(out)

    def show(result: CaseResult) -> None:
        out.write(printable(format_case_line(result, unicode=unicode), out) + "\n")
        out.flush()

    report = run_cases(suite.cases, http_call(client, algorithm_path(owner, algo, version)),
                       concurrency=options.concurrency, timeout=options.timeout, retries=options.retries,
                       on_result=show)
    out.write(summary_line(report) + "\n")
    out.flush()
    name = f"{owner}/{algo}" + (f"/{version}" if version else "")
    if options.junit is not None:
        write_junit(report, options.junit, suite_name=name)
    write_github_step_summary(report, title=f"{name} test cases", environ=os.environ)
    return report


def tests_summary(report: Report) -> dict[str, object]:
    """What a release record keeps of a test run."""
    return {
        "passed": report.passed,
        "failed": report.failed,
        "errors": report.errors,
        "total": len(report.results),
        "duration": round(report.duration, 3),
        "failures": [r.case.name for r in report.results if r.status != "passed"],
    }
