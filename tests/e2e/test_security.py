"""Authorization edges found in review: keys held by algorithms, admin-only keys, owners' build data."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

from tests.support import Algo, Server, git, remote

MINTER = """
import json, os, urllib.request

def apply(input):
    api, key = os.environ["ALGORITHMIA_API"], os.environ["ALGORITHMIA_API_KEY"]
    req = urllib.request.Request(api + "/v1/users/" + input + "/keys", method="POST", data=b'{"key_label": "x"}',
                                 headers={"Authorization": key, "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
"""


def test_algorithms_cannot_mint_keys_for_their_caller(server: Server, new_algo, user: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    username, key = user
    algo: Algo = new_algo()
    algo.deploy(MINTER)
    algo.publish(settings={"algorithm_callability": "public"})
    assert algo.call(username, key=key).json()["result"] == 403  # acting for the caller: no key management
    assert algo.call("admin").json()["result"] == 403  # not even when an administrator calls


def test_only_administrators_create_admin_keys(server: Server) -> None:
    with server.client() as c:
        weak = c.post("/v1/users/admin/keys", json={"permissions": {"allow_algo": True}}).json()["api_key"]
    r = httpx.post(f"{server.url}/v1/users/admin/keys", json={"key_type": "PlatformAdminKey",
                                                              "permissions": {"allow_data": False}},
                   headers={"Authorization": weak})
    assert r.status_code == 403


def test_builds_and_logs_are_the_owners(server: Server, new_algo, user: tuple[str, str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    username, key = user
    algo: Algo = new_algo()
    sha = algo.deploy("def apply(input):\n    return 1\n")
    algo.publish(settings={"algorithm_callability": "public"})
    build_id = algo.builds()[0]["build_id"]
    with server.client(key) as c:
        assert c.get(f"/v1/algorithms/admin/{algo.name}").status_code == 200  # public: visible
        assert "build" not in c.get(f"/v1/algorithms/admin/{algo.name}").json()
        assert c.get(f"/v1/algorithms/admin/{algo.name}/builds").status_code == 403
        assert c.get(f"/v1/algorithms/admin/{algo.name}/builds/{build_id}/logs").status_code == 403
    clone = git(tmp_path, "clone", "-q", remote(server, "admin", algo.name, username, key), str(tmp_path / "c"),
                check=False)
    assert clone.returncode != 0
    with server.client() as c:
        algo_id = c.get(f"/v1/algorithms/admin/{algo.name}").json()["id"]
        r = c.get(f"/v1/algorithms/{algo_id}/builds")  # by id, not shadowed by /{user}/{algo}
        assert r.status_code == 200 and r.json()["results"][0]["commit_sha"] == sha
        assert c.get(f"/v1/algorithms/{algo_id}/versions").json()["results"][0]["version_info"]["git_hash"] == sha


def test_bad_publish_bodies_and_release_records(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    algo.deploy("def apply(input):\n    return 1\n")
    with server.client() as c:
        r = c.post(f"/v1/algorithms/admin/{algo.name}/versions", json={"settings": "x"})
        assert r.status_code == 400 and "settings" in r.json()["error"]["message"]
        r = c.post(f"/v1/algorithms/admin/{algo.name}/versions",
                   json={"release": {"published_by": "someone-else", "commit": "0" * 40, "ci_run_url": "u"}})
        assert r.status_code == 200
        release = r.json()["release"]
        assert release["published_by"] == "admin" and release["commit"] != "0" * 40 and release["ci_run_url"] == "u"


def test_bad_base64_input(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    sha = algo.deploy("def apply(input):\n    return len(input)\n")
    headers = {"Content-Type": "application/octet-stream", "Content-Encoding": "base64"}
    r = algo.call(version=sha, content=b"abc", headers=headers)
    assert r.status_code == 400 and "base64" in r.json()["error"]["message"]
    r = algo.call(version=sha, content=base64.b64encode(b"four"), headers=headers)
    assert r.json()["result"] == 4


def test_workers_do_not_get_the_servers_home(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    import os

    algo: Algo = new_algo()
    sha = algo.deploy("import os\ndef apply(input):\n    return os.environ['HOME']\n")
    home = algo.call(version=sha, json="x").json()["result"]
    assert home != os.environ.get("HOME") and str(server.data_dir) in home
