"""Load and validate ``TEST_CASES.json``, the test gate's input (reference 6.1, "TEST_CASES.json schema").

The file is a JSON array of objects::

    [{"case_name": "accuracy", "input": {...}, "expected_output": 0.7,
      "type": "GREATER_OR_EQUAL", "tree": ["accuracy"]}]

Where we differ from Algorithmia's action, on purpose:

* ``expected_output`` is required for ``EXACT_MATCH``, ``GREATER_OR_EQUAL`` and ``LESS_OR_EQUAL`` (Algorithmia
  silently defaulted it to ``None``, so a forgotten field compared against null). ``null`` is still a valid
  expected value for ``EXACT_MATCH``. For the two numeric types it must be a number, and a boolean is not one.
  For ``NO_EXCEPTION`` and ``EXCEPTION`` it is optional and ignored (a warning says so).
* Every problem in the file is reported at once, each naming the case by its 1-based position in the array, its
  ``case_name`` when known, and the line where the case starts, instead of crashing on the first.
* Unknown keys and duplicate case names are warnings, not errors.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = "TEST_CASES.json"


class MatchType(StrEnum):
    EXACT_MATCH = "EXACT_MATCH"
    GREATER_OR_EQUAL = "GREATER_OR_EQUAL"
    LESS_OR_EQUAL = "LESS_OR_EQUAL"
    NO_EXCEPTION = "NO_EXCEPTION"
    EXCEPTION = "EXCEPTION"


NUMERIC_TYPES = frozenset({MatchType.GREATER_OR_EQUAL, MatchType.LESS_OR_EQUAL})
OUTCOME_TYPES = frozenset({MatchType.NO_EXCEPTION, MatchType.EXCEPTION})
KNOWN_KEYS = ("case_name", "input", "expected_output", "type", "tree")

TreeStep = str | int


@dataclass(frozen=True)
class TestCase:
    """One validated case. ``number`` is its 1-based position in the file, as users count."""

    __test__ = False  # not a pytest class, despite the name

    number: int
    name: str
    input: Any
    type: MatchType = MatchType.EXACT_MATCH
    expected_output: Any = None
    tree: tuple[TreeStep, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Problem:
    """An error or warning about the file, located as precisely as we can."""

    message: str
    source: str = DEFAULT_SOURCE
    case: int | None = None
    case_name: str | None = None
    field: str | None = None
    line: int | None = None
    column: int | None = None
    excerpt: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: "
        if self.case is not None:
            details = [json.dumps(self.case_name, ensure_ascii=False)] if self.case_name is not None else []
            if self.line is not None:
                details.append(f"line {self.line}")
            where += f"case {self.case}" + (f" ({', '.join(details)})" if details else "") + ": "
        elif self.line is not None:
            where += (
                f"line {self.line}" + (f", column {self.column}" if self.column is not None else "") + ": "
            )
        return where + self.message + (f"\n{self.excerpt}" if self.excerpt else "")


class TestCasesError(Exception):
    """``TEST_CASES.json`` is unusable. ``problems`` lists every error found, ``warnings`` the rest."""

    __test__ = False

    def __init__(self, problems: Sequence[Problem], warnings: Sequence[Problem] = ()) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class TestSuite:
    __test__ = False

    cases: list[TestCase]
    warnings: list[Problem] = field(default_factory=list)
    source: str = DEFAULT_SOURCE


def load_test_cases(path: str | os.PathLike[str]) -> TestSuite:
    """Read and validate a ``TEST_CASES.json`` file; messages name the path as given.

    A missing file is a ``TestCasesError`` too: callers that treat "no file" as "no test step" (as Algorithmia's
    GitLab scripts do) check for the file first.
    """
    source = os.fspath(path)
    try:
        # utf-8-sig: editors on Windows like to add a byte-order mark
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TestCasesError([Problem("file not found", source)]) from None
    except UnicodeDecodeError as exc:
        raise TestCasesError([Problem(f"not valid UTF-8 at byte {exc.start}", source)]) from None
    except OSError as exc:
        raise TestCasesError([Problem(f"cannot read the file: {exc.strerror or exc}", source)]) from None
    return parse_test_cases(text, source=source)


def parse_test_cases(text: str, *, source: str = DEFAULT_SOURCE) -> TestSuite:
    """Validate the text of a ``TEST_CASES.json``; raise one ``TestCasesError`` listing every problem."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise TestCasesError([Problem("the file is empty; expected a JSON array of test cases", source)])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TestCasesError([_syntax_problem(text, exc, source)]) from None

    if not isinstance(data, list):
        hint = ""
        if isinstance(data, dict) and "case_name" in data:
            hint = "; this looks like a single case: wrap it in [ ]"
        raise TestCasesError(
            [Problem(f"must be a JSON array of test cases (got {_describe(data)}){hint}", source)]
        )
    if not data:
        raise TestCasesError([Problem("no test cases: the array is empty", source)])

    lines = [_line_of(text, offset) for offset in _element_offsets(text)]
    errors: list[Problem] = []
    warnings: list[Problem] = []
    cases: list[TestCase] = []
    for number, (item, line) in enumerate(zip(data, lines, strict=True), start=1):
        case = _validate_case(item, number, line, source, errors, warnings)
        if case is not None:
            cases.append(case)

    named = [
        (number, item["case_name"], line)
        for number, (item, line) in enumerate(zip(data, lines, strict=True), start=1)
        if isinstance(item, dict) and isinstance(item.get("case_name"), str) and item["case_name"].strip()
    ]
    first_seen: dict[str, int] = {}
    for number, name, line in named:
        if name in first_seen:
            warnings.append(
                Problem(
                    f'duplicate "case_name" (also case {first_seen[name]}); reports will list both',
                    source,
                    case=number,
                    case_name=name,
                    field="case_name",
                    line=line,
                )
            )
        else:
            first_seen[name] = number

    if errors:
        raise TestCasesError(errors, warnings)
    return TestSuite(cases, warnings, source)


def _validate_case(
    item: Any, number: int, line: int, source: str, errors: list[Problem], warnings: list[Problem]
) -> TestCase | None:
    if not isinstance(item, dict):
        errors.append(
            Problem(
                f'must be an object with "case_name" and "input" (got {_describe(item)})',
                source,
                case=number,
                line=line,
            )
        )
        return None

    raw_name = item.get("case_name")
    name = raw_name if isinstance(raw_name, str) and raw_name.strip() else None
    n_errors = len(errors)

    def error(fld: str, message: str) -> None:
        errors.append(Problem(message, source, case=number, case_name=name, field=fld, line=line))

    def warn(fld: str, message: str) -> None:
        warnings.append(Problem(message, source, case=number, case_name=name, field=fld, line=line))

    if "case_name" not in item:
        error("case_name", '"case_name" is required (a string naming the case in reports)')
    elif not isinstance(raw_name, str):
        error("case_name", f'"case_name" must be a string (got {_describe(raw_name)})')
    elif name is None:
        error("case_name", '"case_name" must not be empty')

    if "input" not in item:
        error("input", '"input" is required (the value passed to the algorithm; use null for no input)')

    match_type: MatchType | None = MatchType.EXACT_MATCH
    if "type" in item:
        match_type = _parse_type(item["type"])
        if match_type is None:
            hint = ""
            if isinstance(item["type"], str) and item["type"].strip().upper() in MatchType.__members__:
                hint = f'; did you mean "{item["type"].strip().upper()}"? types are upper case'
            error(
                "type",
                f'"type" must be one of {", ".join(MatchType)} (got {_describe(item["type"])}{hint})',
            )

    if match_type in OUTCOME_TYPES:
        if "expected_output" in item:
            warn("expected_output", f'"expected_output" is ignored for type {match_type}')
    elif match_type is not None:
        if "expected_output" not in item:
            need = "a number" if match_type in NUMERIC_TYPES else "the value the result must equal"
            error("expected_output", f'"expected_output" is required for type {match_type} ({need})')
        elif match_type in NUMERIC_TYPES and not _is_number(item["expected_output"]):
            error(
                "expected_output",
                f'"expected_output" must be a number for type {match_type} '
                f"(got {_describe(item['expected_output'])})",
            )

    tree: tuple[TreeStep, ...] = ()
    if "tree" in item:
        raw_tree = item["tree"]
        if not isinstance(raw_tree, list):
            error(
                "tree", f'"tree" must be a list of object keys and array indexes (got {_describe(raw_tree)})'
            )
        else:
            for position, step in enumerate(raw_tree, start=1):
                if isinstance(step, bool) or not isinstance(step, str | int):
                    error(
                        "tree",
                        f'"tree" item {position} must be a string (object key) or an integer (array index) '
                        f"(got {_describe(step)})",
                    )
            tree = tuple(raw_tree)
            if tree and match_type in OUTCOME_TYPES:
                warn("tree", f'"tree" is ignored for type {match_type}')

    for key in item:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            warn(key, f"unknown key {json.dumps(key, ensure_ascii=False)} is ignored{hint}")

    if len(errors) > n_errors or name is None or match_type is None:
        return None
    return TestCase(number, name, item["input"], match_type, item.get("expected_output"), tree, line)


def _parse_type(value: Any) -> MatchType | None:
    try:
        return MatchType(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_type(value: Any) -> str:
    """The JSON name of a value's type (integers and floats are both "number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _describe(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it: scalars as JSON, containers as their type plus a short preview."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if isinstance(value, list | dict):
        return f"an {json_type(value)} {text}"
    return text


# --- syntax errors ---------------------------------------------------------------------------------------------


# the json module's wording, said the way a person editing the file thinks of it
_JSON_MESSAGES = {
    "Expecting value": "expected a value (a string, number, object, array, true, false or null)",
    "Expecting ',' delimiter": 'expected "," between items, or the closing bracket',
    "Expecting ':' delimiter": 'expected ":" after the key',
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Unterminated string starting at": 'this string is never closed (missing ")',
    "Invalid control character at": "raw control character in a string (write tabs and newlines as \\t and \\n)",
    "Invalid \\escape": "invalid backslash escape in a string",
}


def _syntax_problem(text: str, exc: json.JSONDecodeError, source: str) -> Problem:
    pos = exc.pos
    line, column = exc.lineno, exc.colno
    char = text[pos : pos + 1]
    message = _JSON_MESSAGES.get(exc.msg, exc.msg[:1].lower() + exc.msg[1:])

    before = text[:pos].rstrip(" \t\n\r")
    if char in ("]", "}") and before.endswith(","):
        pos = len(before) - 1
        line, column = _line_of(text, pos), pos - text.rfind("\n", 0, pos)
        message = f'JSON does not allow a trailing comma before "{char}"; remove this comma'
    elif char == "'":
        message = "JSON strings and keys need double quotes, not single quotes"
    elif text.startswith(("//", "/*"), pos):
        message = "JSON does not allow comments"
    elif text.startswith("...", pos):
        message = "found a ... placeholder; replace it with real data"
    elif exc.msg == "Extra data":
        message = "unexpected text after the end of the JSON array"
    return Problem(f"invalid JSON: {message}", source, line=line, column=column, excerpt=_excerpt(text, pos))


def _excerpt(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    source_line = text[start : end if end != -1 else len(text)].expandtabs(1)
    return f"    {source_line}\n    {' ' * (pos - start)}^"


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _element_offsets(text: str) -> list[int]:
    """Offsets where each top-level array element starts; ``text`` is known to be a valid JSON array."""
    decoder = json.JSONDecoder()
    offsets: list[int] = []
    pos = _skip_ws(text, _skip_ws(text, 0) + 1)  # past "["
    while text[pos] != "]":
        offsets.append(pos)
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return offsets


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos
