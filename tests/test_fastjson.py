"""The call path's JSON helpers agree with the standard library where it matters."""

from __future__ import annotations

import json

import pytest

from modelport import fastjson


@pytest.mark.parametrize("value", [
    None, True, 0, -1, 1.5, "é ☃", [1, [2, {"a": None}]], {"k": "v", "n": 3},
    2**64 + 1, -(2**70), {"big": 123456789012345678901234567890},
])
def test_round_trip_exact(value: object) -> None:
    assert fastjson.loads(fastjson.dumps(value)) == value
    assert json.loads(fastjson.dumps(value)) == value


def test_big_integers_in_input_stay_exact() -> None:
    assert fastjson.loads(b'{"id": 123456789012345678901234567890}') == {"id": 123456789012345678901234567890}


def test_invalid_input_gets_the_standard_message() -> None:
    with pytest.raises(ValueError, match="line 1 column"):
        fastjson.loads(b'{"a": ')


def test_output_is_compact_utf8() -> None:
    assert fastjson.dumps({"a": "é"}) == '{"a":"é"}'.encode()
