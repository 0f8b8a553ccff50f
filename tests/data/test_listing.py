import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelport.data.errors import InvalidMarker
from modelport.data.listing import LAST_MODIFIED_FORMAT, decode_marker, encode_marker, format_last_modified

SECRET = b"s" * 32


@pytest.mark.parametrize("name", ["a", "model.pkl", "", "x" * 255, 'é🙂 "quotes" and.dots', "a%2Fb?c=d&e"])
def test_marker_round_trip(name: str) -> None:
    marker = encode_marker(name, secret=SECRET, scope="alice/models")
    assert decode_marker(marker, secret=SECRET, scope="alice/models") == name


def test_marker_is_opaque_and_url_safe() -> None:
    marker = encode_marker("secret-plan.txt", secret=SECRET)
    assert "secret-plan" not in marker
    assert set(marker) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_marker_from_another_secret_is_rejected() -> None:
    marker = encode_marker("a", secret=b"other secret")
    with pytest.raises(InvalidMarker, match="not issued by this server"):
        decode_marker(marker, secret=SECRET)


def test_forged_marker_is_rejected() -> None:
    marker = encode_marker("a", secret=SECRET)
    _, tag = marker.split(".")
    forged_payload = json.dumps({"v": 1, "after": "zzz", "scope": ""}).encode()
    forged_body = base64.urlsafe_b64encode(forged_payload).rstrip(b"=").decode()
    with pytest.raises(InvalidMarker, match="not issued by this server"):
        decode_marker(f"{forged_body}.{tag}", secret=SECRET)


def test_every_flipped_character_is_detected() -> None:
    marker = encode_marker("model.pkl", secret=SECRET)
    for index, char in enumerate(marker):
        replacement = "A" if char != "A" else "B"
        tampered = marker[:index] + replacement + marker[index + 1 :]
        with pytest.raises(InvalidMarker):
            decode_marker(tampered, secret=SECRET)


def test_marker_is_bound_to_its_listing() -> None:
    marker = encode_marker("a", secret=SECRET, scope="alice/models")
    with pytest.raises(InvalidMarker, match="belongs to another listing"):
        decode_marker(marker, secret=SECRET, scope="bob/models")


@pytest.mark.parametrize("marker", ["", ".", "garbage", "a.b", "!!!.???", "é.é", "abc.def.ghi", "\x00"])
def test_garbage_markers(marker: str) -> None:
    with pytest.raises(InvalidMarker):
        decode_marker(marker, secret=SECRET)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        encode_marker("a", secret=b"")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2016, 1, 6, 0, 52, 34), "2016-01-06T00:52:34.000Z"),
        (datetime(2016, 1, 6, 0, 52, 34, tzinfo=UTC), "2016-01-06T00:52:34.000Z"),
        (datetime(2016, 1, 6, 0, 52, 34, 123999, tzinfo=UTC), "2016-01-06T00:52:34.123Z"),
        (
            datetime(2016, 1, 6, 2, 52, 34, 5000, tzinfo=timezone(timedelta(hours=2))),
            "2016-01-06T00:52:34.005Z",
        ),
        (datetime(999, 12, 31, 23, 59, 59, 999999), "0999-12-31T23:59:59.999Z"),
    ],
)
def test_last_modified_format(moment: datetime, text: str) -> None:
    assert format_last_modified(moment) == text


def test_last_modified_parses_as_the_python_client_does() -> None:
    moment = datetime(2024, 2, 29, 13, 5, 9, 250000, tzinfo=UTC)
    text = format_last_modified(moment)
    # Algorithmia's Python client: datetime.strptime(last_modified, '%Y-%m-%dT%H:%M:%S.%fZ')
    assert datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ") == moment.replace(tzinfo=None)
    assert datetime.strptime(text, LAST_MODIFIED_FORMAT) == moment.replace(tzinfo=None)
    assert datetime.fromisoformat(text) == moment  # RFC 3339, as the Rust client reads it
    now = format_last_modified(datetime.now(UTC))
    datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.%fZ")
