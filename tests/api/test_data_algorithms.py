"""Algorithms read hosted data with the key they are given: their owner's at load, their caller's per call."""

from __future__ import annotations

from tests.api.test_data_api import make_collection, new_user
from tests.support import Algo, Server

READER = """
import json, os, urllib.error, urllib.request


def read(path):
    request = urllib.request.Request(os.environ["ALGORITHMIA_API"] + "/v1/data/" + path,
                                     headers={"Authorization": os.environ["ALGORITHMIA_API_KEY"]})
    try:
        with urllib.request.urlopen(request) as response:
            return [response.status, response.read().decode()]
    except urllib.error.HTTPError as error:
        return [error.code, json.loads(error.read())["error"]["message"]]


AT_LOAD = read("OWNER/secret/f")  # loading runs as the owner: a model file in a private collection


def apply(paths):
    return {"load": AT_LOAD, "call": {path: read(path) for path in paths}}
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
        assert c.get(f"/v1/data/{owner}/models/f").status_code == 403  # not directly

    algo: Algo = new_algo(key=owner_key, owner=owner)
    algo.deploy(READER.replace("OWNER", owner))
    assert algo.publish(settings={"algorithm_callability": "public"}).status_code in (200, 201)

    r = algo.call([f"{owner}/models/f", f"{owner}/secret/f", ".my/mine/f"], key=caller_key)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["load"] == [200, "owner only"]
    models, secret, mine = (result["call"][p] for p in (f"{owner}/models/f", f"{owner}/secret/f", ".my/mine/f"))
    assert models == [200, "model for algorithms"]
    assert secret[0] == 403 and f"only {owner} may read it" in secret[1]
    assert mine == [200, "the caller's own"]  # .my inside an algorithm is the caller
