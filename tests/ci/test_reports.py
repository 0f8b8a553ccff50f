import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from modelport.ci.reports import (
    format_case_line,
    format_console,
    junit_xml,
    markdown_summary,
    print_console,
    summary_line,
    write_github_step_summary,
    write_junit,
)
from modelport.ci.runner import AlgorithmError, CaseResult, CaseStatus, Report
from modelport.ci.testcases import MatchType, TestCase, TreeStep

NASTY = 'a <b> & "c" | d ]]> \x00\x1b \ud800 `code` *x*'


def result(
    number: int,
    name: str,
    status: CaseStatus,
    reason: str = "",
    *,
    kind: str = "EXACT_MATCH",
    expected: Any = None,
    tree: tuple[TreeStep, ...] = (),
    attempts: int = 1,
    output: Any = None,
    error: AlgorithmError | None = None,
) -> CaseResult:
    case = TestCase(number, name, {"n": number}, MatchType(kind), expected, tree)
    return CaseResult(case, status, reason, 0.25 * number, attempts, output, error)


@pytest.fixture
def report() -> Report:
    return Report(
        [
            result(1, "hello world", CaseStatus.PASSED, output="hello world", expected="hello world"),
            result(
                2,
                "accuracy",
                CaseStatus.FAILED,
                'result["accuracy"] is 0.65, expected >= 0.7',
                kind="GREATER_OR_EQUAL",
                expected=0.7,
                tree=("accuracy",),
                output={"accuracy": 0.65},
            ),
            result(
                3,
                "raises",
                CaseStatus.PASSED,
                "raised as expected: ValueError: nope",
                kind="EXCEPTION",
                error=AlgorithmError("nope", "ValueError", "Traceback:\n  line 1"),
            ),
            result(
                4,
                "unreachable",
                CaseStatus.ERROR,
                "could not call the algorithm (4 attempts): connection refused",
                attempts=4,
            ),
            result(5, NASTY, CaseStatus.FAILED, f"result is {NASTY}\nsecond line", expected=1, output=NASTY),
        ],
        datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        2.5,
    )


# --- console ---------------------------------------------------------------------------------------------------


def test_console_unicode(report: Report) -> None:
    lines = format_console(report, unicode=True).splitlines()
    assert lines[0] == "✓ hello world (0.25s)"
    assert lines[1] == "✗ accuracy (0.50s)"
    assert lines[2] == '    result["accuracy"] is 0.65, expected >= 0.7'
    assert lines[3] == "✓ raises (0.75s)"
    assert lines[4] == "✗ unreachable (1.00s, 4 attempts)"
    assert lines[5] == "    error: could not call the algorithm (4 attempts): connection refused"
    assert lines[7:9] == [f"    result is {NASTY}", "    second line"]
    assert lines[-1] == "test cases: 2 passed, 2 failed, 1 error in 2.50s"


def test_console_ascii(report: Report) -> None:
    text = format_console(report, unicode=False)
    assert [line[:5] for line in text.splitlines() if not line.startswith(" ")][:5] == [
        "PASS ",
        "FAIL ",
        "PASS ",
        "ERROR",
        "FAIL ",
    ]
    assert "✓" not in text and "✗" not in text


def test_print_console_is_ascii_off_a_terminal(report: Report) -> None:
    out = io.StringIO()
    print_console(report, out)
    assert out.getvalue().startswith("PASS  hello world (0.25s)\n")


def test_no_line_looks_like_a_test_runner_verdict(report: Report) -> None:
    # our CI harness reads "N passed, N failed" (optionally "word:" before it) as the runner's own result
    harness = re.compile(r"^(\S+:\s*)?\d+ passed, \d+ failed(, \d+ skipped)?\s*$")
    for unicode in (True, False):
        assert not any(harness.match(line) for line in format_console(report, unicode=unicode).splitlines())
    assert (
        summary_line(Report([], datetime.now(UTC), 0.0))
        == "test cases: 0 passed, 0 failed, 0 errors in 0.00s"
    )


def test_case_line_can_be_used_for_progress() -> None:
    line = format_case_line(result(1, "a", CaseStatus.FAILED, "why"), unicode=False)
    assert line == "FAIL  a (0.25s)\n    why"


# --- JUnit -----------------------------------------------------------------------------------------------------

# Attributes each element may carry, from the JUnit schema Jenkins' xunit plugin validates against (junit-10.xsd)
JENKINS_ATTRIBUTES = {
    "testsuites": {"name", "time", "tests", "failures", "errors"},
    "testsuite": {
        "name",
        "tests",
        "failures",
        "errors",
        "group",
        "time",
        "skipped",
        "timestamp",
        "hostname",
        "id",
        "package",
        "file",
        "log",
        "url",
    },
    "testcase": {"name", "time", "classname", "group"},
    "failure": {"type", "message"},
    "error": {"type", "message"},
    "system-out": set(),
}
REQUIRED = {"testsuite": {"name", "tests", "failures", "errors"}, "testcase": {"name"}}


def test_junit_parses_back_with_counts_names_and_messages(report: Report) -> None:
    root = ET.fromstring(junit_xml(report, "demo/hello").encode())
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.tag == "testsuite"
    assert suite.attrib["name"] == "demo/hello"
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == ("5", "2", "1")
    assert root.attrib["tests"] == "5"
    assert suite.attrib["time"] == "2.500"
    assert suite.attrib["timestamp"] == "2024-05-01T12:30:15"

    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases][:4] == ["hello world", "accuracy", "raises", "unreachable"]
    assert {c.attrib["classname"] for c in cases} == {"demo/hello"}
    assert cases[1].attrib["time"] == "0.500"

    assert cases[0].find("failure") is None and cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.attrib == {
        "message": 'result["accuracy"] is 0.65, expected >= 0.7',
        "type": "GREATER_OR_EQUAL",
    }
    assert failure.text is not None
    assert "expected: >= 0.7" in failure.text
    assert 'tree: ["accuracy"]' in failure.text
    assert cases[1].findtext("system-out") == 'result: {"accuracy": 0.65}'

    assert cases[2].find("failure") is None
    raised_out = cases[2].findtext("system-out") or ""
    assert raised_out.startswith("algorithm error: ValueError: nope\n\nTraceback:")

    error = cases[3].find("error")
    assert error is not None
    assert error.attrib["message"] == "could not call the algorithm (4 attempts): connection refused"
    assert "attempts: 4" in (error.text or "")
    assert cases[3].find("system-out") is None


def test_junit_escapes_arbitrary_output(report: Report) -> None:
    text = junit_xml(report, 'suite "<&>"')
    root = ET.fromstring(text.encode())
    nasty = root.findall(".//testcase")[4]
    readable = 'a <b> & "c" | d ]]> \\x00\\x1b \ufffd `code` *x*'
    assert nasty.attrib["name"] == readable
    assert root.find("testsuite").attrib["name"] == 'suite "<&>"'  # type: ignore[union-attr]
    failure = nasty.find("failure")
    assert failure is not None
    assert failure.attrib["message"] == f"result is {readable}"  # first line only
    assert (nasty.findtext("system-out") or "").startswith('result: "a <b> & \\"c\\"')


def test_junit_uses_only_what_jenkins_accepts(report: Report) -> None:
    root = ET.fromstring(junit_xml(report, "s").encode())
    for element in root.iter():
        assert element.tag in JENKINS_ATTRIBUTES, element.tag
        assert set(element.attrib) <= JENKINS_ATTRIBUTES[element.tag], element.tag
        assert REQUIRED.get(element.tag, set()) <= set(element.attrib), element.tag
        if "time" in element.attrib:
            assert re.fullmatch(r"\d+\.\d{3}", element.attrib["time"])


def test_write_junit_creates_folders_and_replaces(tmp_path: Path, report: Report) -> None:
    path = tmp_path / "reports" / "junit.xml"
    path.parent.mkdir()
    path.write_text("old")
    assert write_junit(report, path, "demo/hello") == path
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    assert ET.parse(path).getroot().find("testsuite").attrib["tests"] == "5"  # type: ignore[union-attr]
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]
    deeper = write_junit(report, tmp_path / "a" / "b" / "junit.xml", "x")
    assert deeper.exists()


# --- Markdown --------------------------------------------------------------------------------------------------


def test_markdown_summary(report: Report) -> None:
    text = markdown_summary(report)
    lines = text.splitlines()
    assert lines[0] == "### ❌ modelport test cases: 2 passed, 2 failed, 1 error in 2.50s"
    assert lines[2] == "| | Case | Type | Status | Duration | Reason |"
    rows = [line for line in lines if line.startswith("| ") and "Case" not in line]
    assert rows[0] == "| ✅ | hello world | EXACT_MATCH | passed | 0.25s |  |"
    assert rows[1] == (
        '| ❌ | accuracy | GREATER_OR_EQUAL | failed | 0.50s | result\\["accuracy"\\] is 0.65, expected &gt;= 0.7 |'
    )
    assert rows[2].startswith("| ✅ | raises | EXCEPTION | passed")
    assert rows[3].startswith("| ⚠️ | unreachable | EXACT_MATCH | error | 1.00s | could not call")
    # a pipe, a newline or markup in algorithm output must not break the table or inject HTML
    nasty_row = rows[4]
    assert nasty_row.count(" | ") == 5 + 0  # six cells, no unescaped separators added
    assert "\\|" in nasty_row and "&lt;b&gt;" in nasty_row and "<br>second line" in nasty_row
    assert text.count("<details>") == 3  # one per failure or error
    assert "```text\n" in text


def test_markdown_fence_outlasts_backticks_in_output() -> None:
    r = result(1, "ticks", CaseStatus.FAILED, "x", output="````")
    text = markdown_summary(Report([r], datetime.now(UTC), 0.1))
    assert "`````text\n" in text


def test_step_summary_appends_when_set(tmp_path: Path, report: Report) -> None:
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n", encoding="utf-8")
    assert write_github_step_summary(report, environ={"GITHUB_STEP_SUMMARY": str(target)}) == target
    write_github_step_summary(report, title="second run", environ={"GITHUB_STEP_SUMMARY": str(target)})
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n### ❌ modelport test cases:")
    assert "### ❌ second run:" in text


def test_step_summary_is_skipped_off_github(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    assert write_github_step_summary(report, environ={}) is None
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_github_step_summary(report) is None


def test_step_summary_reads_the_real_environment(
    tmp_path: Path, report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert write_github_step_summary(report) == target
    assert "| ✅ | hello world |" in target.read_text(encoding="utf-8")


def test_print_console_survives_any_encoding(report: Report) -> None:
    latin = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    print_console(report, latin)
    latin.seek(0)
    text = latin.read()
    assert "\\ufffd" in text  # the lone surrogate, shown rather than crashing
    assert text.splitlines()[-1] == "test cases: 2 passed, 2 failed, 1 error in 2.50s"
