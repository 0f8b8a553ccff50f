"""Render a test ``Report``: console lines, JUnit XML for Jenkins/GitLab, Markdown for GitHub's step summary."""

from __future__ import annotations

import html
import json
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from modelport.ci.matchers import format_value
from modelport.ci.runner import CaseResult, CaseStatus, Report
from modelport.ci.testcases import NUMERIC_TYPES, OUTCOME_TYPES, MatchType

_UNICODE_MARKS = {CaseStatus.PASSED: "✓", CaseStatus.FAILED: "✗", CaseStatus.ERROR: "✗"}
_ASCII_MARKS = {CaseStatus.PASSED: "PASS ", CaseStatus.FAILED: "FAIL ", CaseStatus.ERROR: "ERROR"}
_EMOJI = {CaseStatus.PASSED: "✅", CaseStatus.FAILED: "❌", CaseStatus.ERROR: "⚠️"}

# JUnit readers choke on huge attributes and on megabytes of output per case
_MESSAGE_LIMIT = 1000
_SYSTEM_OUT_LIMIT = 64 * 1024
# GitHub rejects a step summary over 1 MiB; keep each failure's details well under that
_DETAILS_LIMIT = 4000


# --- console ---------------------------------------------------------------------------------------------------


def summary_line(report: Report) -> str:
    """``test cases: 3 passed, 1 failed, 0 errors in 2.31s``. Prefixed and suffixed on purpose: a bare
    ``N passed, N failed`` line is read by our CI harness as a test runner's own verdict."""
    return (
        f"test cases: {report.passed} passed, {report.failed} failed, "
        f"{report.errors} {'error' if report.errors == 1 else 'errors'} in {report.duration:.2f}s"
    )


def format_case_line(result: CaseResult, *, unicode: bool = True) -> str:
    """One case: mark, name, duration; the reason indented below a failure. Usable for live progress."""
    mark = (_UNICODE_MARKS if unicode else _ASCII_MARKS)[result.status]
    timing = f"{result.duration:.2f}s"
    if result.attempts > 1:
        timing += f", {result.attempts} attempts"
    line = f"{mark} {result.case.name} ({timing})"
    if result.status is not CaseStatus.PASSED and result.reason:
        prefix = "error: " if result.status is CaseStatus.ERROR else ""
        line += "\n" + _indent(prefix + result.reason, "    ")
    return line


def format_console(report: Report, *, unicode: bool = True) -> str:
    lines = [format_case_line(r, unicode=unicode) for r in report.results]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def print_console(report: Report, file: TextIO | None = None) -> None:
    """Print the report; ✓/✗ only on a UTF-8 terminal, PASS/FAIL otherwise (logs, pipes, old consoles)."""
    out = file if file is not None else sys.stdout
    out.write(printable(format_console(report, unicode=wants_unicode(out)), out))
    out.flush()


def printable(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` can encode it: algorithm output may hold lone surrogates (legal in JSON strings)
    or characters a non-UTF-8 console lacks, and a report must never die on them."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return _no_surrogates(text).encode(encoding, "backslashreplace").decode(encoding)


def wants_unicode(stream: TextIO) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return stream.isatty() and encoding == "utf8"


# --- JUnit XML -------------------------------------------------------------------------------------------------


def junit_xml(report: Report, suite_name: str) -> str:
    """JUnit XML in the shape Jenkins' ``junit`` step and GitLab's ``artifacts:reports:junit`` read."""
    counts = {
        "tests": str(len(report.results)),
        "failures": str(report.failed),
        "errors": str(report.errors),
        "time": f"{report.duration:.3f}",
    }
    root = ET.Element("testsuites", {"name": _xml_text(suite_name), **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _xml_text(suite_name),
            **counts,
            "skipped": "0",
            # JUnit's schema wants a local-style timestamp without zone; ours is UTC
            "timestamp": report.started_at.replace(tzinfo=None).isoformat(timespec="seconds"),
        },
    )
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _xml_text(suite_name),
                "name": _xml_text(result.case.name),
                "time": f"{result.duration:.3f}",
            },
        )
        if result.status is not CaseStatus.PASSED:
            tag = "failure" if result.status is CaseStatus.FAILED else "error"
            message = result.reason.splitlines()[0] if result.reason else str(result.status)
            element = ET.SubElement(
                case,
                tag,
                {
                    "message": _xml_text(_cut(message, _MESSAGE_LIMIT)),
                    "type": str(result.case.type) if tag == "failure" else "CallError",
                },
            )
            element.text = _xml_text(failure_details(result))
        output = system_out(result)
        if output:
            ET.SubElement(case, "system-out").text = _xml_text(_cut(output, _SYSTEM_OUT_LIMIT))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: Report, path: str | os.PathLike[str], suite_name: str) -> Path:
    """Write JUnit XML to ``path`` (parent folders created), replacing any previous file atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, junit_xml(report, suite_name))
    return target


def failure_details(result: CaseResult) -> str:
    """What a reader needs to understand a failure without re-running it."""
    case = result.case
    lines = [
        result.reason,
        "",
        f"case {case.number}: {case.name} ({case.type})",
        f"input: {format_value(case.input)}",
    ]
    if case.type in NUMERIC_TYPES:
        op = ">=" if case.type is MatchType.GREATER_OR_EQUAL else "<="
        lines.append(f"expected: {op} {format_value(case.expected_output)}")
    elif case.type not in OUTCOME_TYPES:
        lines.append(f"expected: {format_value(case.expected_output)}")
    if case.tree and case.type not in OUTCOME_TYPES:
        lines.append(f"tree: {json.dumps(list(case.tree), ensure_ascii=False)}")
    lines.append(f"attempts: {result.attempts}")
    return "\n".join(lines)


def system_out(result: CaseResult) -> str:
    """The algorithm's answer: its result, or its error with the stack trace."""
    if result.error is not None:
        text = f"algorithm error: {result.error}"
        if result.error.stacktrace:
            text += f"\n\n{result.error.stacktrace}"
        return text
    if result.status is CaseStatus.ERROR:
        return ""
    return f"result: {format_value(result.result, _SYSTEM_OUT_LIMIT)}"


# XML 1.0 cannot carry most control characters or lone surrogates, even escaped; ElementTree would write them
# anyway and produce a file no parser accepts
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else "\ufffd", text)


# --- Markdown --------------------------------------------------------------------------------------------------


def markdown_summary(report: Report, title: str = "modelport test cases") -> str:
    """A Markdown table of the cases, then the details of each failure in a collapsed block."""
    verdict = "✅" if report.ok else "❌"
    lines = [
        f"### {verdict} {_md_cell(title)}: {summary_line(report).removeprefix('test cases: ')}",
        "",
        "| | Case | Type | Status | Duration | Reason |",
        "|---|---|---|---|---:|---|",
    ]
    for r in report.results:
        reason = _cut(r.reason, 300) if r.status is not CaseStatus.PASSED else ""
        lines.append(
            f"| {_EMOJI[r.status]} | {_md_cell(r.case.name)} | {r.case.type} | {r.status} "
            f"| {r.duration:.2f}s | {_md_cell(reason)} |"
        )
    for r in report.results:
        if r.status is CaseStatus.PASSED:
            continue
        body = failure_details(r)
        output = system_out(r)
        if output:
            body += "\n\n" + output
        lines += [
            "",
            f"<details><summary>{_EMOJI[r.status]} {html.escape(r.case.name)}</summary>",
            "",
            _fenced(_cut(body, _DETAILS_LIMIT)),
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def write_github_step_summary(
    report: Report, *, title: str = "modelport test cases", environ: Mapping[str, str] | None = None
) -> Path | None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY``; return its path, or None when not on GitHub."""
    env = os.environ if environ is None else environ
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as summary:
        summary.write(_no_surrogates(markdown_summary(report, title)) + "\n")
    return Path(target)


def _md_cell(text: str) -> str:
    """Text that stays inside one table cell and renders literally (algorithm output is not trusted markup)."""
    text = html.escape(text, quote=False)
    text = re.sub(r"([\\`*_\[\]~|#])", r"\\\1", text)
    return text.replace("\r\n", "\n").replace("\n", "<br>")


def _fenced(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


# --- helpers ---------------------------------------------------------------------------------------------------


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"


def _atomic_write(target: Path, text: str) -> None:
    # a half-written report would make the CI's JUnit step fail for the wrong reason
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
