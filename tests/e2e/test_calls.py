"""The call API on warm workers: content types, options, faults, limits (issue 4)."""

from __future__ import annotations

import base64
import concurrent.futures
import json

import httpx
import pytest

from tests.support import Algo, ClientEnv, Server

KITCHEN_SINK = '''
import os, sys, time

def apply(input):
    if isinstance(input, bytes):
        return input[::-1]
    if isinstance(input, dict):
        op = input.get("op")
        if op == "env":
            return sorted(os.environ)
        if op == "env_value":
            return os.environ.get(input["name"])
        if op == "raise":
            raise ValueError("bad value: " + str(input.get("why")))
        if op == "exit":
            os._exit(3)
        if op == "segfault":
            import ctypes
            ctypes.string_at(0)
        if op == "sleep":
            time.sleep(input["seconds"])
            return "slept"
        if op == "alloc":
            chunks = []
            while True:
                chunks.append(bytearray(64 * 1024 * 1024))
        if op == "print":
            print("line printed by the algorithm")
            return "printed"
        if op == "flood":
            sys.stdout.write("x" * (100 * 1024 * 1024))
            return "flooded"
        if op == "object":
            return object()
        if op == "pid":
            return os.getpid()
        return input
    if isinstance(input, str):
        return "text:" + input
    return input
'''


@pytest.fixture(scope="module")
def sink(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Algo:
    algo = Algo(server, "admin", "sink", server.admin_key, tmp_path_factory.mktemp("sink"))
    algo.deploy(KITCHEN_SINK)
    assert algo.publish(settings={"algorithm_callability": "public"}).status_code == 200
    return algo


def test_content_types(sink: Algo) -> None:
    r = sink.call({"a": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["result"] == {"a": 1} and body["metadata"]["content_type"] == "json"
    assert isinstance(body["metadata"]["duration"], float)
    r = sink.call(content=b"plain", headers={"Content-Type": "text/plain; charset=UTF-8"})
    assert r.json()["result"] == "text:plain" and r.json()["metadata"]["content_type"] == "text"
    r = sink.call(content=b"doc", headers={"Content-Type": "application/text"})
    assert r.json()["result"] == "text:doc"
    r = sink.call(content=b"\x00\x01\xff", headers={"Content-Type": "application/octet-stream"})
    assert r.json()["metadata"]["content_type"] == "binary"
    assert base64.b64decode(r.json()["result"]) == b"\xff\x01\x00"
    r = sink.call(content=b"null", headers={"Content-Type": "application/json"})
    assert r.json()["result"] is None


def test_bad_input(sink: Algo) -> None:
    r = sink.call(content=b'{"a": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = sink.call(content=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]["message"]
    r = sink.call(content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415 and "unsupported Content-Type" in r.json()["error"]["message"]
    r = sink.call(content=b"x" * (10 * 1024 * 1024 + 1), headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
    r = sink.call("x", params={"timeout": "5000"})
    assert r.status_code == 400 and "3000" in r.json()["error"]["message"]


def test_algorithm_errors_are_200_with_details(sink: Algo, user: tuple[str, str]) -> None:
    r = sink.call({"op": "raise", "why": "test"})
    assert r.status_code == 200
    err = r.json()["error"]
    assert err["message"] == "bad value: test" and err["error_type"] == "AlgorithmError"
    assert "ValueError" in err["stacktrace"] and err["stack_trace"] == err["stacktrace"]
    assert "result" not in r.json()
    _, key = user
    other = sink.call({"op": "raise", "why": "x"}, key=key).json()["error"]  # not the owner: no trace
    assert other["message"] == "bad value: x" and "stacktrace" not in other
    r = sink.call({"op": "object"})
    assert r.status_code == 200 and "serial" in r.json()["error"]["message"]


def test_crashes_are_contained(sink: Algo) -> None:
    r = sink.call({"op": "exit"})
    assert r.json()["error"]["error_type"] == "SystemExit"
    assert sink.call({"a": 2}).json()["result"] == {"a": 2}
    r = sink.call({"op": "segfault"})
    assert r.json()["error"]["error_type"] == "SystemExit"
    assert sink.call({"a": 3}).json()["result"] == {"a": 3}
    r = sink.call({"op": "sleep", "seconds": 30}, params={"timeout": "1"})
    assert r.json()["error"]["error_type"] == "TimeoutError"
    assert sink.call({"a": 4}).json()["result"] == {"a": 4}
    r = sink.call({"op": "alloc"})
    assert r.json()["error"]["error_type"] == "OutOfMemoryError"
    assert sink.call({"a": 5}).json()["result"] == {"a": 5}


def test_stdout_option_owner_only(sink: Algo, user: tuple[str, str]) -> None:
    r = sink.call({"op": "print"}, params={"stdout": "True"})  # Python 2.0.5 sends capitalised booleans
    assert r.json()["metadata"]["stdout"].strip() == "line printed by the algorithm"
    assert "stdout" not in sink.call({"op": "print"}).json()["metadata"]
    _, key = user
    assert "stdout" not in sink.call({"op": "print"}, key=key, params={"stdout": "true"}).json()["metadata"]
    r = sink.call({"op": "flood"}, params={"stdout": "true"})
    assert r.json()["result"] == "flooded"
    assert len(r.json()["metadata"]["stdout"]) <= 2 * 1024 * 1024


def test_output_raw_and_void(sink: Algo) -> None:
    r = sink.call(content=b"abc", headers={"Content-Type": "text/plain"}, params={"output": "raw"})
    assert r.text == "text:abc"
    r = sink.call({"k": [1]}, params={"output": "raw"})
    assert r.json() == {"k": [1]}
    r = sink.call({"op": "raise", "why": "raw"}, params={"output": "raw"})
    assert r.status_code == 400 and r.json()["error"]["message"] == "bad value: raw"
    r = sink.call({"a": 1}, params={"output": "void"})
    assert r.status_code == 200 and r.json()["async"] and r.json()["request_id"].startswith("req-")


def test_worker_environment_holds_no_server_secret(sink: Algo) -> None:
    names = sink.call({"op": "env"}).json()["result"]
    assert "ALGORITHMIA_API" in names and "ALGORITHMIA_API_KEY" in names
    assert not [n for n in names if n.startswith("MODELPORT_") and n != "MODELPORT_ALGORITHM"]
    assert "MODELPORT_WORKER_IDLE_SECONDS" not in names  # set in the server's environment by the tests
    key = sink.call({"op": "env_value", "name": "ALGORITHMIA_API_KEY"}).json()["result"]
    assert key != sink.server.admin_key


def test_permissions_on_calls(server: Server, new_algo, user: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    username, key = user
    private: Algo = new_algo()
    sha = private.deploy("def apply(input):\n    return 1\n")
    private.publish()  # private by default
    r = private.call("x", key=key)
    assert r.status_code == 404  # no public version
    assert private.call("x", version="0.1.0", key=key).status_code == 403
    assert private.call("x", version=sha, key=key).status_code == 403  # hash calls: owner only
    with server.client() as c:
        admin_only = c.post("/v1/users/admin/keys", json={"key_type": "PlatformAdminKey"}).json()["api_key"]
        acl_key = c.post(f"/v1/users/{username}/keys", json={"permissions": {
            "allow_algo": True, "algo_acl": ["algo://someoneelse/*"]}}).json()["api_key"]
    r = private.call("x", version="0.1.0", key=admin_only)
    assert r.status_code == 403 and "admin keys" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/v1/algo/admin/sink", json="x", headers={"Authorization": acl_key})
    assert r.status_code == 403 and "algo_acl" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/v1/algo/admin/sink", json="x")
    assert r.status_code == 401
    r = httpx.post(f"{server.url}/v1/algo/admin/nope", json="x", headers={"Authorization": key})
    assert r.status_code == 404


def test_many_concurrent_calls_to_two_workers(sink: Algo) -> None:
    def one(i: int) -> object:
        return sink.call({"i": i}).json()

    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(one, range(200)))
    assert [a["result"] for a in answers] == [{"i": i} for i in range(200)]  # type: ignore[index]
    pids = {sink.call({"op": "pid"}).json()["result"] for _ in range(20)}
    assert 1 <= len(pids) <= 2


STYLES = {
    "handler": """
import Algorithmia

def load():
    return {"greeting": "hello"}

def apply(input, state):  # Algorithmia's handler passes load()'s result when it is truthy
    return state["greeting"] + " " + input

Algorithmia.handler(apply, load).serve()
""",
    "adk": """
from Algorithmia import ADK

def load():
    return {"greeting": "hey"}

def apply(input, globals):
    return globals["greeting"] + " " + input

ADK(apply, load).init()
""",
    "loading_error": """
raise RuntimeError("model file missing")

def apply(input):
    return input
""",
}


@pytest.mark.parametrize("style,expected", [("handler", "hello you"), ("adk", "hey you")])
def test_algorithmia_styles_run_unchanged(new_algo, style: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo(style)
    sha = algo.deploy(STYLES[style], requirements="algorithmia==2.0.5\nalgorithmia-adk==1.2.4\n")
    assert algo.call(content=b"you", version=sha, headers={"Content-Type": "text/plain"}).json()["result"] == expected


def test_loading_error_on_each_call(new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    sha = algo.deploy(STYLES["loading_error"])
    for _ in range(2):
        err = algo.call("x", version=sha).json()["error"]
        assert err["error_type"] == "LoadingError" and "model file missing" in err["message"]


def test_algorithm_calls_another_as_the_caller(server: Server, new_algo, sink: Algo,
                                               algorithmia205: ClientEnv) -> None:  # type: ignore[no-untyped-def]
    caller: Algo = new_algo("pipe")
    sha = caller.deploy("""
import Algorithmia

client = Algorithmia.client()

def apply(input):
    return client.algo("admin/sink").pipe({"via": input}).result
""", requirements="algorithmia==2.0.5\nalgorithmia-adk==1.2.4\n")
    r = caller.call("x", version=sha)
    assert r.json()["result"] == {"via": "x"}, r.text
    out = algorithmia205.json(server, f"""
        import json, Algorithmia
        print(json.dumps(Algorithmia.client().algo("admin/{caller.name}/{sha}").pipe("y").result))
    """)
    assert out == {"via": "y"}
    assert json.dumps(out)
