"""Algorithms read hosted data with the key they are given: their own while they load (the owner's
`algo://.my/*` and public collections, never private ones), their caller's during a call."""

from __future__ import annotations

from tests.api.test_data_api import make_collection, new_user
from tests.support import Algo, Server

READER = """
import json, os, urllib.error, urllib.request


def read(path, key=None):
    request = urllib.request.Request(os.environ["ALGORITHMIA_API"] + "/v1/data/" + path,
                                     headers={"Authorization": key or os.environ["ALGORITHMIA_API_KEY"]})
    try:
        with urllib.request.urlopen(request) as response:
            return [response.status, response.read().decode()]
    except urllib.error.HTTPError as error:
        return [error.code, json.loads(error.read())["error"]["message"]]


LOAD_KEY = os.environ["ALGORITHMIA_API_KEY"]  # kept, as a client made at module level keeps it
AT_LOAD = {path: read(path) for path in ("OWNER/models/f", "OWNER/secret/f")}


def apply(paths):
    return {"load": AT_LOAD, "call": {path: read(path) for path in paths},
            "load_key": {path: read(path, LOAD_KEY) for path in paths}}
"""


def test_algorithm_reads_its_owners_data_for_any_caller(server: Server, new_algo, user: tuple[str, str],  # type: ignore[no-untyped-def]
                                                        unique: str) -> None:
    owner, owner_key = user
    _, caller_key = new_user(server, f"caller{unique}")
    with server.client(owner_key) as c:
        make_collection(c, "models")  # default ACL: algo://.my/*
        make_collection(c, "secret", [])
        c.put("/v1/data/.my/models/f", content=b"model for algorithms")
        c.put("/v1/data/.my/secret/f", content=b"owner only")
    with server.client(caller_key) as c:
        make_collection(c, "mine", [])
        c.put("/v1/data/.my/mine/f", content=b"the caller's own")
        assert c.get(f"/v1/data/{owner}/models/f").status_code == 404  # not directly

    algo: Algo = new_algo(key=owner_key, owner=owner)
    algo.deploy(READER.replace("OWNER", owner))
    assert algo.publish(settings={"algorithm_callability": "public"}).status_code in (200, 201)

    paths = [f"{owner}/models/f", f"{owner}/secret/f", ".my/mine/f"]
    r = algo.call(paths, key=caller_key)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["load"][f"{owner}/models/f"] == [200, "model for algorithms"]
    # Private means the owner only: not the owner's algorithms, not even while they load.
    status, message = result["load"][f"{owner}/secret/f"]
    assert status == 403 and "while it loads: a private collection" in message and "algo://.my/*" in message
    models, secret, mine = (result["call"][p] for p in paths)
    assert models == [200, "model for algorithms"]
    assert secret[0] == 404 and "does not exist, or" in secret[1]  # the caller learns nothing of it
    assert mine == [200, "the caller's own"]  # .my inside an algorithm is the caller
    # The load-time key kept for later calls is no way round the ACL for a caller.
    assert result["load_key"][f"{owner}/models/f"] == [200, "model for algorithms"]
    assert result["load_key"][f"{owner}/secret/f"][0] == 403
    assert result["load_key"][".my/mine/f"][0] == 404  # .my of the load key is the owner


def test_algorithm_reads_its_owners_data_when_the_callers_key_has_no_data_scope(  # type: ignore[no-untyped-def]
        server: Server, new_algo, user: tuple[str, str], unique: str) -> None:
    owner, owner_key = user
    caller, _ = new_user(server, f"nodata{unique}")
    _, call_only = new_user(server, caller, read=False, write=False)  # Algorithmia's default for new keys
    with server.client(owner_key) as c:
        make_collection(c, "models")
        make_collection(c, "secret", [])
        c.put("/v1/data/.my/models/f", content=b"model for algorithms")
        c.put("/v1/data/.my/secret/f", content=b"owner only")
    algo: Algo = new_algo(key=owner_key, owner=owner)
    algo.deploy(READER.replace("OWNER", owner))
    assert algo.publish(settings={"algorithm_callability": "public"}).status_code in (200, 201)

    for key in (call_only, owner_key):
        r = algo.call([f"{owner}/models/f", f"{owner}/secret/f"], key=key)
        assert r.status_code == 200, r.text
        assert r.json()["result"]["call"][f"{owner}/models/f"] == [200, "model for algorithms"]
    r = algo.call([f"{owner}/secret/f"], key=call_only)
    assert r.json()["result"]["call"][f"{owner}/secret/f"][0] == 404
    # The caller's own collections, read through someone else's algorithm with a key that may not read
    # data: missing and unreadable answer alike, so the algorithm's author learns no names.
    _, caller_full = new_user(server, caller)
    with server.client(caller_full) as c:
        make_collection(c, "hidden", [])
    r = algo.call([f"{caller}/hidden/f", f"{caller}/absent/f"], key=call_only)
    hidden, absent = (r.json()["result"]["call"][p] for p in (f"{caller}/hidden/f", f"{caller}/absent/f"))
    assert hidden[0] == absent[0] == 404 and hidden[1] == absent[1].replace("/absent", "/hidden")
    # The owner's own call carries the owner's rights, private collections included.
    r = algo.call([f"{owner}/secret/f"], key=owner_key)
    assert r.json()["result"]["call"][f"{owner}/secret/f"] == [200, "owner only"]
