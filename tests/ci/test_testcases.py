import json
from pathlib import Path

import pytest

from modelport.ci.testcases import (
    MatchType,
    Problem,
    TestCase,
    TestCasesError,
    load_test_cases,
    parse_test_cases,
)


def problems(text: str) -> list[str]:
    with pytest.raises(TestCasesError) as info:
        parse_test_cases(text)
    return [str(p) for p in info.value.problems]


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def cases_json(*cases: object) -> str:
    return json.dumps(list(cases), indent=2)


# --- valid files -----------------------------------------------------------------------------------------------


def test_valid_file_with_every_field_and_defaults() -> None:
    text = cases_json(
        {"case_name": "hello", "input": "world", "expected_output": "hello world"},
        {
            "case_name": "accuracy",
            "input": {"image": [1, 2]},
            "expected_output": 0.7,
            "type": "GREATER_OR_EQUAL",
            "tree": ["metrics", 0, "accuracy"],
        },
        {"case_name": "raises", "input": None, "type": "EXCEPTION"},
        {"case_name": "null result", "input": 1, "expected_output": None},
    )
    suite = parse_test_cases(text)
    assert suite.warnings == []
    assert [c.name for c in suite.cases] == ["hello", "accuracy", "raises", "null result"]
    assert suite.cases[0] == TestCase(1, "hello", "world", MatchType.EXACT_MATCH, "hello world", (), line=2)
    accuracy = suite.cases[1]
    assert accuracy.type is MatchType.GREATER_OR_EQUAL
    assert accuracy.tree == ("metrics", 0, "accuracy")
    assert accuracy.number == 2
    assert accuracy.line == text.splitlines().index("  {", 6) + 1
    assert suite.cases[2].input is None
    assert suite.cases[3].expected_output is None


def test_load_from_path_tolerates_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "TEST_CASES.json"
    path.write_text("\ufeff" + cases_json({"case_name": "a", "input": 1, "expected_output": 2}), "utf-8")
    suite = load_test_cases(path)
    assert suite.source == str(path)
    assert suite.cases[0].name == "a"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "TEST_CASES.json"
    with pytest.raises(TestCasesError) as info:
        load_test_cases(path)
    assert str(info.value) == f"{path}: file not found"


def test_path_errors_carry_the_path(tmp_path: Path) -> None:
    path = tmp_path / "TEST_CASES.json"
    path.write_text("[]")
    with pytest.raises(TestCasesError) as info:
        load_test_cases(path)
    assert str(info.value) == f"{path}: no test cases: the array is empty"


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.json"
    latin.write_bytes(b'[{"case_name": "caf\xe9", "input": 1, "expected_output": 1}]')
    with pytest.raises(TestCasesError) as info:
        load_test_cases(latin)
    assert str(info.value) == f"{latin}: not valid UTF-8 at byte 19"
    with pytest.raises(TestCasesError) as info:
        load_test_cases(tmp_path)  # a directory
    assert str(info.value).startswith(f"{tmp_path}: cannot read the file: ")


# --- top level -------------------------------------------------------------------------------------------------


def test_not_an_array() -> None:
    assert one_problem('{"cases": []}') == (
        'TEST_CASES.json: must be a JSON array of test cases (got an object {"cases": []})'
    )
    assert one_problem('"hello"') == 'TEST_CASES.json: must be a JSON array of test cases (got "hello")'


def test_single_case_object_gets_a_hint() -> None:
    message = one_problem('{"case_name": "a", "input": 1}')
    assert message.endswith("this looks like a single case: wrap it in [ ]")


def test_empty_array_and_empty_file() -> None:
    assert one_problem("[ ]") == "TEST_CASES.json: no test cases: the array is empty"
    assert one_problem(" \n") == "TEST_CASES.json: the file is empty; expected a JSON array of test cases"


# --- per-case errors -------------------------------------------------------------------------------------------


def test_case_not_an_object() -> None:
    text = '[\n  {"case_name": "a", "input": 1, "expected_output": 1},\n  "b"\n]'
    assert one_problem(text) == (
        'TEST_CASES.json: case 2 (line 3): must be an object with "case_name" and "input" (got "b")'
    )


def test_missing_case_name() -> None:
    assert one_problem('[{"input": 1, "expected_output": 1}]') == (
        'TEST_CASES.json: case 1 (line 1): "case_name" is required (a string naming the case in reports)'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", '"case_name" must be a string (got 3)'),
        ("null", '"case_name" must be a string (got null)'),
        ('"  "', '"case_name" must not be empty'),
    ],
)
def test_bad_case_name(value: str, message: str) -> None:
    text = f'[{{"case_name": {value}, "input": 1, "expected_output": 1}}]'
    assert one_problem(text) == f"TEST_CASES.json: case 1 (line 1): {message}"


def test_missing_input() -> None:
    assert one_problem('[{"case_name": "a", "expected_output": 1}]') == (
        'TEST_CASES.json: case 1 ("a", line 1): "input" is required '
        "(the value passed to the algorithm; use null for no input)"
    )


def test_bad_type_matches_the_documented_message() -> None:
    text = cases_json(
        {"case_name": "one", "input": 1, "expected_output": 1},
        {"case_name": "two", "input": 1, "expected_output": 1},
        {"case_name": "accuracy", "input": 1, "expected_output": 1, "type": "EQUALS"},
    )
    assert one_problem(text) == (
        'TEST_CASES.json: case 3 ("accuracy", line 12): "type" must be one of EXACT_MATCH, GREATER_OR_EQUAL, '
        'LESS_OR_EQUAL, NO_EXCEPTION, EXCEPTION (got "EQUALS")'
    )


def test_lower_case_type_suggests_the_spelling() -> None:
    message = one_problem('[{"case_name": "a", "input": 1, "expected_output": 1, "type": "exact_match"}]')
    assert message.endswith('(got "exact_match"; did you mean "EXACT_MATCH"? types are upper case)')


def test_non_string_type() -> None:
    message = one_problem('[{"case_name": "a", "input": 1, "expected_output": 1, "type": null}]')
    assert message.endswith("(got null)")


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ('"accuracy"', '"tree" must be a list of object keys and array indexes (got "accuracy")'),
        ('{"a": 1}', '"tree" must be a list of object keys and array indexes (got an object {"a": 1})'),
        (
            '["a", true]',
            '"tree" item 2 must be a string (object key) or an integer (array index) (got true)',
        ),
        ("[1.5]", '"tree" item 1 must be a string (object key) or an integer (array index) (got 1.5)'),
        ("[null]", '"tree" item 1 must be a string (object key) or an integer (array index) (got null)'),
    ],
)
def test_bad_tree(tree: str, message: str) -> None:
    text = f'[{{"case_name": "a", "input": 1, "expected_output": 1, "tree": {tree}}}]'
    assert one_problem(text) == f'TEST_CASES.json: case 1 ("a", line 1): {message}'


def test_expected_output_required_for_exact_match() -> None:
    assert one_problem('[{"case_name": "a", "input": 1}]') == (
        'TEST_CASES.json: case 1 ("a", line 1): "expected_output" is required for type EXACT_MATCH '
        "(the value the result must equal)"
    )


@pytest.mark.parametrize("kind", ["GREATER_OR_EQUAL", "LESS_OR_EQUAL"])
def test_numeric_types_need_a_number(kind: str) -> None:
    base = f'"case_name": "a", "input": 1, "type": "{kind}"'
    assert one_problem(f"[{{{base}}}]").endswith(f'"expected_output" is required for type {kind} (a number)')
    for value, shown in [('"0.7"', '"0.7"'), ("true", "true"), ("null", "null"), ("[1]", "an array [1]")]:
        message = one_problem(f'[{{{base}, "expected_output": {value}}}]')
        assert message.endswith(f'"expected_output" must be a number for type {kind} (got {shown})')
    assert parse_test_cases(f'[{{{base}, "expected_output": 3}}]').cases[0].expected_output == 3


@pytest.mark.parametrize("kind", ["NO_EXCEPTION", "EXCEPTION"])
def test_outcome_types_do_not_need_expected_output(kind: str) -> None:
    suite = parse_test_cases(f'[{{"case_name": "a", "input": 1, "type": "{kind}"}}]')
    assert suite.cases[0].type == kind
    assert suite.warnings == []
    suite = parse_test_cases(
        f'[{{"case_name": "a", "input": 1, "type": "{kind}", "expected_output": 1, "tree": ["x"]}}]'
    )
    assert [str(w) for w in suite.warnings] == [
        f'TEST_CASES.json: case 1 ("a", line 1): "expected_output" is ignored for type {kind}',
        f'TEST_CASES.json: case 1 ("a", line 1): "tree" is ignored for type {kind}',
    ]


# --- JSON syntax -----------------------------------------------------------------------------------------------

SEED_EXAMPLE = """[
    {
      "case_name": "image_classifier_accuracy",
      "input": {"image_data":  [0, 1]},
      "expected_output": 0.7,
      "type": "GREATER_OR_EQUAL",
      "tree": ["accuracy"],
    }
]
"""


def test_trailing_comma_from_the_seed_readme() -> None:
    with pytest.raises(TestCasesError) as info:
        parse_test_cases(SEED_EXAMPLE)
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (7, 27)  # the comma itself, not the brace after it
    assert str(problem) == (
        'TEST_CASES.json: line 7, column 27: invalid JSON: JSON does not allow a trailing comma before "}"; '
        "remove this comma\n"
        '          "tree": ["accuracy"],\n'
        "                              ^"
    )
    fixed = parse_test_cases(SEED_EXAMPLE.replace('["accuracy"],', '["accuracy"]'))
    assert fixed.cases[0].tree == ("accuracy",)


def test_trailing_comma_in_an_array() -> None:
    message = one_problem('[\n  {"case_name": "a", "input": [1, 2,\n  ], "expected_output": 1}\n]')
    assert message.startswith(
        'TEST_CASES.json: line 2, column 36: invalid JSON: JSON does not allow a trailing comma before "]"'
    )


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('[\n  {"case_name" "a"}\n]', "line 2, column 16", 'expected ":" after the key'),
        ('[{"case_name": "a" "input": 1}]', "line 1, column 20", 'expected "," between items'),
        ('[{"case_name": }]', "line 1, column 16", "expected a value"),
        ('[{"case_name": "a\\q"}]', "line 1, column 18", "invalid backslash escape"),
        ('[{"case_name": "a\tb"}]', "line 1, column 18", "raw control character in a string"),
        ("[{'case_name': 'a'}]", "line 1, column 3", "JSON strings and keys need double quotes"),
        ('[\n  // a comment\n  {"case_name": "a"}\n]', "line 2, column 3", "JSON does not allow comments"),
        ('[{"input": [...]}]', "line 1, column 13", "found a ... placeholder; replace it with real data"),
        ("[]\n[]", "line 2, column 1", "unexpected text after the end of the JSON array"),
        ('[{"case_name": "a}]', "line 1, column 16", 'this string is never closed (missing ")'),
    ],
)
def test_syntax_errors_give_line_and_column(text: str, where: str, message: str) -> None:
    found = one_problem(text)
    assert found.startswith(f"TEST_CASES.json: {where}: invalid JSON: {message}")
    assert found.count("\n") == 2  # the offending line and a caret under it


# --- several problems and warnings -----------------------------------------------------------------------------


def test_all_problems_are_reported_together() -> None:
    text = cases_json(
        {"case_name": "fine", "input": 1, "expected_output": 1},
        {"case_name": "accuracy", "input": 1, "type": "EQUALS"},
        {"case_name": 7, "expected_output": 1, "tree": "x"},
        [],
        {"case_name": "le", "input": 1, "type": "LESS_OR_EQUAL", "expected_output": "high"},
    )
    with pytest.raises(TestCasesError) as info:
        parse_test_cases(text)
    error = info.value
    assert [(p.case, p.field) for p in error.problems] == [
        (2, "type"),
        (3, "case_name"),
        (3, "input"),
        (3, "tree"),
        (4, None),
        (5, "expected_output"),
    ]
    assert error.problems[0].case_name == "accuracy"
    assert error.problems[1].case_name is None
    assert str(error).count("\n") == len(error.problems) - 1  # one line each, in file order


def test_unknown_keys_are_warnings_with_suggestions() -> None:
    suite = parse_test_cases(
        '[{"case_name": "a", "input": 1, "expected_output": 1, "expected": 2, "zzz": 0}]'
    )
    assert [str(w) for w in suite.warnings] == [
        (
            'TEST_CASES.json: case 1 ("a", line 1): unknown key "expected" is ignored '
            '(did you mean "expected_output"?)'
        ),
        'TEST_CASES.json: case 1 ("a", line 1): unknown key "zzz" is ignored',
    ]
    assert suite.warnings[0].field == "expected"


def test_duplicate_names_are_warnings() -> None:
    suite = parse_test_cases(
        cases_json(*({"case_name": "same", "input": i, "expected_output": i} for i in range(3)))
    )
    assert len(suite.cases) == 3
    assert [(w.case, w.message) for w in suite.warnings] == [
        (2, 'duplicate "case_name" (also case 1); reports will list both'),
        (3, 'duplicate "case_name" (also case 1); reports will list both'),
    ]


def test_warnings_travel_with_errors() -> None:
    with pytest.raises(TestCasesError) as info:
        parse_test_cases('[{"case_name": "a", "inptu": 1, "expected_output": 1}]')
    assert [p.field for p in info.value.problems] == ["input"]
    assert [w.field for w in info.value.warnings] == ["inptu"]


def test_problem_without_case_or_line() -> None:
    assert str(Problem("boom", "x.json")) == "x.json: boom"
    assert str(Problem("boom", case=2)) == "TEST_CASES.json: case 2: boom"
