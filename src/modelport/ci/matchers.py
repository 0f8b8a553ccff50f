"""Compare an algorithm's answer with a test case (reference 6.1, "matcher semantics").

``EXACT_MATCH`` is JSON equality with Python's number semantics (``1 == 1.0``, object key order irrelevant) with one
deliberate difference from Algorithmia's plain ``==``: a JSON boolean never equals a number (Python says
``True == 1``; JSON says ``true`` and ``1`` are different types). ``GREATER_OR_EQUAL`` / ``LESS_OR_EQUAL`` accept
numbers only, booleans excluded. ``tree`` is walked first: strings look up object keys, integers index arrays
(negative ones count from the end, as the Python original allowed).

Unlike Algorithmia's action, nothing here raises on a bad answer: a missing key, an index out of range or an
incomparable value fails that case with a reason saying where and why.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelport.ci.testcases import NUMERIC_TYPES, MatchType, TestCase, TreeStep, json_type

VALUE_LIMIT = 200


@dataclass(frozen=True)
class Verdict:
    """Whether a case passed; ``reason`` explains a failure, or notes what happened on a pass (may be empty)."""

    passed: bool
    reason: str = ""


class TreeError(Exception):
    """A ``tree`` step cannot be taken; the message is the reason shown to the user."""


def check_result(case: TestCase, result: Any) -> Verdict:
    """Judge a case whose call returned ``result`` (the algorithm did not raise)."""
    if case.type is MatchType.NO_EXCEPTION:
        return Verdict(True)
    if case.type is MatchType.EXCEPTION:
        return Verdict(
            False, f"expected the algorithm to raise an error, but it returned {format_value(result)}"
        )
    try:
        value = walk_tree(result, case.tree)
    except TreeError as exc:
        return Verdict(False, str(exc))
    path = format_path(case.tree)
    if case.type in NUMERIC_TYPES:
        return _compare_numbers(case.type, value, case.expected_output, path)
    difference = first_difference(value, case.expected_output, path)
    return Verdict(difference is None, difference or "")


def check_error(case: TestCase, message: str) -> Verdict:
    """Judge a case whose algorithm raised; ``message`` is the algorithm's error as text."""
    if case.type is MatchType.EXCEPTION:
        return Verdict(True, f"raised as expected: {message}")
    return Verdict(False, f"the algorithm raised an error: {message}")


def walk_tree(value: Any, tree: Sequence[TreeStep]) -> Any:
    """Follow ``tree`` into ``value``; raise ``TreeError`` naming the step that cannot be taken."""
    for number, step in enumerate(tree, start=1):
        where = f"tree step {number} ({json.dumps(step, ensure_ascii=False)})"
        if isinstance(step, str):
            if isinstance(value, dict):
                if step not in value:
                    keys = list(value)
                    close = difflib.get_close_matches(step, [k for k in keys if isinstance(k, str)], n=1)
                    hint = f' (did you mean "{close[0]}"?)' if close else ""
                    raise TreeError(f"{where}: key not found in object with keys {_keys(keys)}{hint}")
                value = value[step]
                continue
            hint = f" (write {step} without quotes to index an array)" if _is_index_text(step, value) else ""
            raise TreeError(f"{where}: cannot look up a key in {_kind(value)}{hint}")
        if isinstance(value, list | tuple):
            if not -len(value) <= step < len(value):
                raise TreeError(f"{where}: index out of range for an array of {_items(len(value))}")
            value = value[step]
            continue
        hint = ""
        if isinstance(value, dict) and str(step) in value:
            hint = f' (write "{step}" in quotes to look up the key "{step}")'
        raise TreeError(f"{where}: cannot index {_kind(value)} with a number{hint}")
    return value


def first_difference(actual: Any, expected: Any, path: str = "result") -> str | None:
    """Describe the first place where ``actual`` differs from ``expected``, or return None when they are equal."""
    # _type_name puts int and float together and booleans apart: 1 == 1.0, but true != 1
    if json_type(actual) != json_type(expected):
        types = {json_type(actual), json_type(expected)}
        note = "; booleans are not numbers" if types == {"boolean", "number"} else ""
        return (
            f"{path} is {format_value(actual)} ({json_type(actual)}), "
            f"expected {format_value(expected)} ({json_type(expected)}){note}"
        )
    if isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                return f"{path} has no key {_key(key)} (expected {format_value(expected[key])})"
        for key in actual:
            if key not in expected:
                return f"{path} has an unexpected key {_key(key)} = {format_value(actual[key])}"
        for key in expected:
            difference = first_difference(actual[key], expected[key], f"{path}[{_key(key)}]")
            if difference:
                return difference
        return None
    if isinstance(actual, list | tuple):
        for index, (a, e) in enumerate(zip(actual, expected, strict=False)):
            difference = first_difference(a, e, f"{path}[{index}]")
            if difference:
                return difference
        if len(actual) != len(expected):
            return f"{path} has {_items(len(actual))}, expected {_items(len(expected))}"
        return None
    if actual == expected:
        return None
    return f"{path} is {format_value(actual)}, expected {format_value(expected)}"


def json_equal(actual: Any, expected: Any) -> bool:
    return first_difference(actual, expected) is None


def format_value(value: Any, limit: int = VALUE_LIMIT) -> str:
    """Compact JSON for messages, cut to ``limit`` characters; results that are not JSON (bytes) are summarised."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = f"{text[: max(limit - 1, 0)]}… ({len(text)} characters)"
    return text


def format_path(tree: Sequence[TreeStep], root: str = "result") -> str:
    return root + "".join(f"[{_key(step)}]" for step in tree)


def _compare_numbers(kind: MatchType, value: Any, expected: float, path: str) -> Verdict:
    op = ">=" if kind is MatchType.GREATER_OR_EQUAL else "<="
    if not _is_number(value):
        note = " (booleans are not numbers)" if isinstance(value, bool) else ""
        return Verdict(
            False,
            f"{path} is {format_value(value)} ({json_type(value)}); {kind} needs a number{note}",
        )
    if math.isnan(value):
        return Verdict(False, f"{path} is NaN, which compares with nothing; expected {op} {expected}")
    passed = value >= expected if op == ">=" else value <= expected
    return Verdict(passed, "" if passed else f"{path} is {format_value(value)}, expected {op} {expected}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_index_text(step: str, value: Any) -> bool:
    return isinstance(value, list | tuple) and step.lstrip("-").isdigit()


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with keys {_keys(list(value))}"
    if isinstance(value, list | tuple):
        return f"an array of {_items(len(value))}"
    name = json_type(value)
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name} ({format_value(value, 60)})"


def _keys(keys: list[Any], limit: int = 10) -> str:
    shown = ", ".join(_key(k) for k in keys[:limit])
    more = f", … {len(keys) - limit} more" if len(keys) > limit else ""
    return f"[{shown}{more}]"


def _key(key: Any) -> str:
    return json.dumps(key, ensure_ascii=False) if isinstance(key, str | int) else repr(key)


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"
