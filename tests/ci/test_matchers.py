from typing import Any

import pytest

from modelport.ci.matchers import (
    TreeError,
    Verdict,
    check_error,
    check_result,
    first_difference,
    format_path,
    format_value,
    json_equal,
    walk_tree,
)
from modelport.ci.testcases import MatchType, TestCase, TreeStep

RESULT = {
    "label": "cat",
    "metrics": {"accuracy": 0.93, "loss": [0.5, 0.25], "ok": True},
    "boxes": [{"score": 0.9}, {"score": 0.4}],
    "nothing": None,
}


def case(kind: str = "EXACT_MATCH", expected: Any = None, tree: tuple[TreeStep, ...] = ()) -> TestCase:
    return TestCase(1, "case", {"x": 1}, MatchType(kind), expected, tree)


def verdict(kind: str, expected: Any, tree: tuple[TreeStep, ...] = (), result: Any = RESULT) -> Verdict:
    return check_result(case(kind, expected, tree), result)


# --- EXACT_MATCH -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (1, 1.0),
        (1.0, 1),
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2.0], "a": 1}),
        ("x", "x"),
        (None, None),
        (True, True),
        ([], []),
        ([1, [2, {"c": None}]], [1, [2, {"c": None}]]),
    ],
)
def test_exact_match_passes(actual: Any, expected: Any) -> None:
    assert verdict("EXACT_MATCH", expected, result=actual) == Verdict(True)


@pytest.mark.parametrize(
    ("actual", "expected", "reason"),
    [
        ("cat", "dog", 'result is "cat", expected "dog"'),
        (True, 1, "result is true (boolean), expected 1 (number); booleans are not numbers"),
        (1, True, "result is 1 (number), expected true (boolean); booleans are not numbers"),
        (False, 0, "result is false (boolean), expected 0 (number); booleans are not numbers"),
        (0, None, "result is 0 (number), expected null (null)"),
        ("x", ["x"], 'result is "x" (string), expected ["x"] (array)'),
        ("1", 1, 'result is "1" (string), expected 1 (number)'),
        (0.30000000000000004, 0.3, "result is 0.30000000000000004, expected 0.3"),
        ({"a": 1}, {"a": 1, "b": 2}, 'result has no key "b" (expected 2)'),
        ({"a": 1, "c": 3}, {"a": 1}, 'result has an unexpected key "c" = 3'),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}, 'result["a"]["b"][1] is 2, expected 3'),
        ([1, 2, 3], [1, 2], "result has 3 items, expected 2 items"),
        ([1], [1, 2], "result has 1 item, expected 2 items"),
        (
            [{"ok": True}],
            [{"ok": 1}],
            'result[0]["ok"] is true (boolean), expected 1 (number); booleans are not numbers',
        ),
    ],
)
def test_exact_match_fails_with_the_first_difference(actual: Any, expected: Any, reason: str) -> None:
    assert verdict("EXACT_MATCH", expected, result=actual) == Verdict(False, reason)


def test_exact_match_through_a_tree() -> None:
    assert verdict("EXACT_MATCH", 0.4, ("boxes", 1, "score")).passed
    assert verdict("EXACT_MATCH", 0.25, ("metrics", "loss", -1)).passed
    assert verdict("EXACT_MATCH", None, ("nothing",)).passed
    assert verdict("EXACT_MATCH", "dog", ("label",)) == Verdict(
        False, 'result["label"] is "cat", expected "dog"'
    )


def test_json_equal() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal([True], [1])


# --- GREATER_OR_EQUAL / LESS_OR_EQUAL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected", "passed"),
    [
        ("GREATER_OR_EQUAL", 0.9, True),
        ("GREATER_OR_EQUAL", 0.93, True),
        ("GREATER_OR_EQUAL", 1, False),
        ("LESS_OR_EQUAL", 1, True),
        ("LESS_OR_EQUAL", 0.93, True),
        ("LESS_OR_EQUAL", 0.5, False),
    ],
)
def test_numeric_comparisons(kind: str, expected: float, passed: bool) -> None:
    assert verdict(kind, expected, ("metrics", "accuracy")).passed is passed


def test_numeric_failure_reasons() -> None:
    assert verdict("GREATER_OR_EQUAL", 0.95, ("metrics", "accuracy")) == Verdict(
        False, 'result["metrics"]["accuracy"] is 0.93, expected >= 0.95'
    )
    assert verdict("LESS_OR_EQUAL", 0, ("boxes", 0, "score")) == Verdict(
        False, 'result["boxes"][0]["score"] is 0.9, expected <= 0'
    )
    assert verdict("GREATER_OR_EQUAL", 1, result=2).passed  # int against int, no tree


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        (("label",), 'result["label"] is "cat" (string); GREATER_OR_EQUAL needs a number'),
        (
            ("metrics", "ok"),
            'result["metrics"]["ok"] is true (boolean); GREATER_OR_EQUAL needs a number (booleans are not numbers)',
        ),
        (("nothing",), 'result["nothing"] is null (null); GREATER_OR_EQUAL needs a number'),
        (
            ("boxes",),
            'result["boxes"] is [{"score": 0.9}, {"score": 0.4}] (array); GREATER_OR_EQUAL needs a number',
        ),
    ],
)
def test_numeric_matchers_reject_non_numbers_without_crashing(
    tree: tuple[TreeStep, ...], reason: str
) -> None:
    assert verdict("GREATER_OR_EQUAL", 0.5, tree) == Verdict(False, reason)


def test_nan_never_passes() -> None:
    v = verdict("LESS_OR_EQUAL", 1, result=float("nan"))
    assert not v.passed
    assert "NaN" in v.reason


# --- NO_EXCEPTION / EXCEPTION ----------------------------------------------------------------------------------


def test_no_exception() -> None:
    assert check_result(case("NO_EXCEPTION"), None) == Verdict(True)
    assert check_result(case("NO_EXCEPTION"), {"anything": 1}) == Verdict(True)
    assert check_error(case("NO_EXCEPTION"), "ValueError: bad input") == Verdict(
        False, "the algorithm raised an error: ValueError: bad input"
    )


def test_exception() -> None:
    assert check_error(case("EXCEPTION"), "ZeroDivisionError: division by zero") == Verdict(
        True, "raised as expected: ZeroDivisionError: division by zero"
    )
    assert check_result(case("EXCEPTION"), {"label": "cat"}) == Verdict(
        False, 'expected the algorithm to raise an error, but it returned {"label": "cat"}'
    )


@pytest.mark.parametrize("kind", ["EXACT_MATCH", "GREATER_OR_EQUAL", "LESS_OR_EQUAL"])
def test_value_matchers_fail_on_an_algorithm_error(kind: str) -> None:
    assert check_error(case(kind, 1), "boom") == Verdict(False, "the algorithm raised an error: boom")


# --- tree walking ----------------------------------------------------------------------------------------------


def test_walk_tree_through_objects_and_arrays() -> None:
    assert walk_tree(RESULT, ()) is RESULT
    assert walk_tree(RESULT, ("boxes", 0, "score")) == 0.9
    assert walk_tree(RESULT, ("metrics", "loss", -2)) == 0.5
    assert walk_tree([[1, [2, 3]]], (0, 1, 0)) == 2


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        (
            ("metrics", "acuracy"),
            (
                'tree step 2 ("acuracy"): key not found in object with keys ["accuracy", "loss", "ok"] '
                '(did you mean "accuracy"?)'
            ),
        ),
        (
            ("zzz",),
            'tree step 1 ("zzz"): key not found in object with keys ["label", "metrics", "boxes", "nothing"]',
        ),
        (("boxes", 2), "tree step 2 (2): index out of range for an array of 2 items"),
        (("boxes", -3), "tree step 2 (-3): index out of range for an array of 2 items"),
        (
            ("boxes", "0"),
            'tree step 2 ("0"): cannot look up a key in an array of 2 items (write 0 without quotes to index an array)',
        ),
        (("boxes", "score"), 'tree step 2 ("score"): cannot look up a key in an array of 2 items'),
        (
            ("metrics", 0),
            'tree step 2 (0): cannot index an object with keys ["accuracy", "loss", "ok"] with a number',
        ),
        (("label", "x"), 'tree step 2 ("x"): cannot look up a key in a string ("cat")'),
        (("label", 0), 'tree step 2 (0): cannot index a string ("cat") with a number'),
        (("metrics", "accuracy", "value"), 'tree step 3 ("value"): cannot look up a key in a number (0.93)'),
        (("nothing", "x"), 'tree step 2 ("x"): cannot look up a key in a null (null)'),
        (("metrics", "ok", 0), "tree step 3 (0): cannot index a boolean (true) with a number"),
    ],
)
def test_tree_failures_are_verdicts_not_crashes(tree: tuple[TreeStep, ...], reason: str) -> None:
    for kind in ("EXACT_MATCH", "GREATER_OR_EQUAL", "LESS_OR_EQUAL"):
        assert verdict(kind, 1, tree) == Verdict(False, reason)


def test_integer_step_on_object_with_numeric_key_hints_at_quotes() -> None:
    with pytest.raises(TreeError) as info:
        walk_tree({"0": "zero"}, (0,))
    assert str(info.value) == (
        'tree step 1 (0): cannot index an object with keys ["0"] with a number (write "0" in quotes to look up '
        'the key "0")'
    )


def test_many_keys_are_abbreviated() -> None:
    with pytest.raises(TreeError) as info:
        walk_tree({f"k{i}": i for i in range(25)}, ("missing",))
    assert str(info.value).endswith('"k8", "k9", … 15 more]')


# --- display helpers -------------------------------------------------------------------------------------------


def test_format_value() -> None:
    assert format_value({"a": [1, "é"]}) == '{"a": [1, "é"]}'
    assert format_value(b"\x00\x01") == "<2 bytes>"
    assert format_value(object()).startswith("<object object")
    long = format_value("x" * 500, limit=20)
    assert long == '"xxxxxxxxxxxxxxxxxx… (502 characters)'


def test_format_path_and_first_difference_root() -> None:
    assert format_path(("a", 0, 'q"uote')) == 'result["a"][0]["q\\"uote"]'
    assert first_difference(1, 1.0) is None
    assert first_difference(b"a", b"b") == "result is <1 bytes>, expected <1 bytes>"
