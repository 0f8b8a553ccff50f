import base64
import socket

import httpx
import pytest

from modelport.ci.calls import PlatformError, algorithm_path, classify, encode_input, http_call
from modelport.ci.runner import AlgorithmError, AlgorithmResult, TransportError


def response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_encode_input_follows_the_python_client() -> None:
    assert encode_input("hi") == (b"hi", "text/plain")
    assert encode_input(b"\x00\x01") == (b"\x00\x01", "application/octet-stream")
    assert encode_input({"a": [1, None]}) == (b'{"a": [1, null]}', "application/json")
    assert encode_input(None) == (b"null", "application/json")


def test_result_and_binary_result() -> None:
    assert classify(response(200, {"result": {"x": 1}, "metadata": {"content_type": "json", "duration": 0.1}})) \
        == AlgorithmResult({"x": 1}, {"content_type": "json", "duration": 0.1})
    raw = base64.b64encode(b"\xffbytes").decode()
    assert classify(response(200, {"result": raw, "metadata": {"content_type": "binary"}})).result == b"\xffbytes"


def test_algorithm_error_is_an_answer_with_either_trace_spelling() -> None:
    body = {"error": {"message": "boom", "error_type": "ValueError", "stacktrace": "Traceback…"}}
    assert classify(response(200, body)) == AlgorithmError("boom", "ValueError", "Traceback…")
    body = {"error": {"message": "boom", "stack_trace": "t"}}
    assert classify(response(200, body)) == AlgorithmError("boom", None, "t")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_trouble_is_a_transport_error(status: int) -> None:
    with pytest.raises(TransportError) as info:
        classify(response(status, {"error": {"message": "busy"}}, {"Retry-After": "3"}))
    assert info.value.retry_after == 3.0 and "busy" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_refusals_are_platform_errors(status: int) -> None:
    with pytest.raises(PlatformError, match=f"HTTP {status}: algorithm algo://a/b not found"):
        classify(response(status, {"error": {"message": "algorithm algo://a/b not found"}}))


def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        call = http_call(client, algorithm_path("a", "b", "1.0.0"))
        with pytest.raises(TransportError, match="ConnectError"):
            call("x", 2.0)


def test_algorithm_path() -> None:
    assert algorithm_path("a", "b") == "/v1/algo/a/b"
    assert algorithm_path("a", "b", "0" * 40) == "/v1/algo/a/b/" + "0" * 40
