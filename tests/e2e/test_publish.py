"""Publishing semantic versions and resolving every version form Algorithmia accepts (issue 4)."""

from __future__ import annotations

import threading

from tests.support import Algo, ClientEnv, Server

ECHO = "def apply(input):\n    return {'v': VERSION, 'input': input}\n"


def code(version: str) -> str:
    return ECHO.replace("VERSION", repr(version))


def test_semver_bumps_and_resolution(server: Server, new_algo, user: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    algo.deploy(code("a"))
    r = algo.publish("minor", settings={"algorithm_callability": "public"}, notes="first")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version_info"]["semantic_version"] == "0.1.0"
    assert body["version_info"]["release_notes"] == "first"
    assert body["build"]["status"] == "succeeded" and body["build"]["version_info"]["semantic_version"] == "0.1.0"
    assert body["release"]["published_by"] == "admin" and body["release"]["commit"] == body["version_info"]["git_hash"]

    again = algo.publish("minor")
    assert again.status_code == 400 and again.json()["error"]["code"] == 1007

    algo.deploy(code("b"))
    assert algo.publish("patch").json()["version_info"]["semantic_version"] == "0.1.1"  # patch = revision
    algo.deploy(code("c"))
    r = algo.publish("major", settings={"algorithm_callability": "private"})
    assert r.json()["version_info"]["semantic_version"] == "1.0.0"
    algo.deploy(code("d"))
    r = algo.publish()  # default minor; callability kept from 1.0.0 (private)
    assert r.json()["version_info"]["semantic_version"] == "1.1.0"
    assert r.json()["settings"]["algorithm_callability"] == "private"

    def v(version: str | None, key: str | None = None):  # type: ignore[no-untyped-def]
        return algo.call("x", version=version, key=key)

    assert v(None).json()["result"]["v"] == "b"  # latest public is 0.1.1
    assert v("latest").json()["result"]["v"] == "b"
    assert v("0.1.0").json()["result"]["v"] == "a"
    assert v("0.1.*").json()["result"]["v"] == "b"
    assert v("0.1").json()["result"]["v"] == "b"
    assert v("0.*").json()["result"]["v"] == "b"
    assert v("1.*").status_code == 404  # partial versions never resolve to private ones
    assert v("1.0.0").json()["result"]["v"] == "c"  # exact private version: the owner may
    assert v("latestPrivate").json()["result"]["v"] == "d"
    with server.client() as c:
        assert c.post(f"/v1/algo/admin/{algo.name}/", json="x").json()["result"]["v"] == "b"  # trailing slash
        assert c.post(f"/v1/algo/admin/{algo.name}/0.1.0/", json="x").json()["result"]["v"] == "a"
        algo_id = c.get(f"/v1/algorithms/admin/{algo.name}").json()["id"]
        assert c.post(f"/v1/algo/{algo_id}", json="x").json()["result"]["v"] == "b"  # by id
        assert c.post(f"/v1/algo/{algo_id}/0.1.0", json="x").json()["result"]["v"] == "a"

    username, key = user
    assert v(None, key=key).json()["result"]["v"] == "b"  # public versions: anyone with a key
    r = v("1.0.0", key=key)
    assert r.status_code == 403 and "private" in r.json()["error"]["message"]
    assert v("latestPrivate", key=key).status_code == 403
    for bad in ("1.x.y", "..", "1.2.3.4"):
        r = v(bad)
        assert r.status_code in (400, 404), (bad, r.text)

    with server.client() as c:
        listed = c.get(f"/v1/algorithms/admin/{algo.name}/versions").json()["results"]
        assert [x["version_info"]["semantic_version"] for x in listed] == ["1.1.0", "1.0.0", "0.1.1", "0.1.0"]
        public = c.get(f"/v1/algorithms/admin/{algo.name}/versions", params={"callable": "true"}).json()
        assert [x["version_info"]["semantic_version"] for x in public["results"]] == ["0.1.1", "0.1.0"]
        one = c.get(f"/v1/algorithms/admin/{algo.name}/versions", params={"limit": 1, "published": "true"}).json()
        assert one["results"][0]["version_info"]["semantic_version"] == "1.1.0" and one["marker"]
        nxt = c.get(f"/v1/algorithms/admin/{algo.name}/versions", params={"limit": 1, "marker": one["marker"]})
        assert nxt.status_code == 200, nxt.text  # (a rare failure on PostgreSQL: keep what it said)
        assert nxt.json()["results"][0]["version_info"]["semantic_version"] == "1.0.0"
        info = c.get(f"/v1/algorithms/admin/{algo.name}").json()
        assert info["version_info"]["semantic_version"] == "1.1.0"


def test_first_publish_major_and_revision(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    for kind, expected in (("major", "1.0.0"), ("revision", "0.0.1")):
        algo: Algo = new_algo(kind)
        algo.deploy(code(kind))
        assert algo.publish(kind).json()["version_info"]["semantic_version"] == expected


def test_publish_without_build_and_bad_type(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    r = algo.publish()
    assert r.status_code == 400 and "no successful build" in r.json()["error"]["message"]
    algo.deploy(code("x"))
    r = algo.publish("huge")
    assert r.status_code == 400 and "version_type" in r.json()["error"]["message"]


def test_concurrent_publishes_never_duplicate(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    algo.deploy(code("x"))
    results: list = []  # type: ignore[type-arg]

    def go() -> None:
        results.append(algo.publish())

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r.json()["version_info"]["semantic_version"] for r in results if r.status_code == 200]
    refused = [r for r in results if r.status_code != 200]
    assert ok == ["0.1.0"]
    assert all(r.json()["error"]["code"] == 1007 for r in refused)


def test_algorithmia_ci_flow_with_official_clients(server: Server, new_algo, algorithmia121: ClientEnv,
                                                   algorithmia205: ClientEnv) -> None:  # type: ignore[no-untyped-def]
    algo: Algo = new_algo()
    sha = algo.deploy("def apply(input):\n    if input == 'boom':\n        raise ValueError('no boom')\n"
                      "    return input if isinstance(input, (dict, list)) else 'hello ' + str(input)\n")
    # What algorithmia-ci-action 1.2.4 does: test on the hash with 1.2.1, publish with api-client 1.1.0.
    out = algorithmia121.json(server, f"""
        import json, Algorithmia
        client = Algorithmia.client()
        algo = client.algo("admin/{algo.name}/{sha}")
        text = algo.pipe("world").result
        data = algo.pipe({{"a": [1, 2]}}).result
        try:
            algo.pipe("boom")
            err = None
        except Exception as e:
            err = str(e)
        from algorithmia_api_client import ApiClient, Configuration, DefaultApi, VersionRequest
        from algorithmia_api_client.models import Details, SettingsPublish, VersionInfoPublish
        cfg = Configuration(); cfg.host = client.apiAddress + "/v1"
        cfg.api_key["Authorization"] = client.apiKey
        api = DefaultApi(ApiClient(cfg))
        before = api.get_algorithm_versions("admin", "{algo.name}", limit=1, published="true")
        req = VersionRequest(details=Details(label="CICD"), settings=SettingsPublish(royalty_microcredits=0),
                             version_info=VersionInfoPublish(version_type="revision",
                                                             release_notes="automatically deployed by CI"))
        published = api.publish_algorithm("admin", "{algo.name}", req)
        after = api.get_algorithm_versions("admin", "{algo.name}", limit=1, published="true")
        print(json.dumps([text, data, err, before.results, published.version_info.semantic_version,
                          published.build.status, after.results[0]["version_info"]["semantic_version"]]))
    """)
    assert "no boom" in out[2]  # type: ignore[index,operator]
    assert out[:2] + out[3:] == ["hello world", {"a": [1, 2]}, [], "0.0.1", "succeeded", "0.0.1"]  # type: ignore[operator]

    out = algorithmia205.json(server, f"""
        import json, Algorithmia
        from Algorithmia.errors import AlgorithmException
        client = Algorithmia.client()
        algo = client.algo("admin/{algo.name}/0.0.1")
        algo.set_options(timeout=20, stdout=True)
        text = algo.pipe("there").result
        raw = client.algo("admin/{algo.name}/{sha}").pipe(b"\\x00\\x01").result
        try:
            algo.pipe("boom")
            err = None
        except AlgorithmException as e:
            err = [e.message, e.error_type, bool(e.stack_trace)]
        compiled = client.algo("admin/{algo.name}").compile()
        pub = client.algo("admin/{algo.name}").publish(version_info={{"version_type": "minor"}})
        versions = client.algo("admin/{algo.name}").versions()
        print(json.dumps([text, raw, err, compiled["version_info"]["git_hash"], pub["version_info"]["semantic_version"],
                          [v["version_info"].get("semantic_version") for v in versions["results"]]]))
    """)
    assert out[0] == "hello there"
    assert out[1].startswith("hello ")  # bytes in: the algorithm saw the bytes (str() of them)
    assert out[2] == ["no boom", "ValueError", True] or out[2][0] == "no boom"
    assert out[3] == sha
    assert out[4] == "0.1.0" and out[5] == ["0.1.0", "0.0.1"]


def test_publish_a_named_build(server: Server, new_algo) -> None:  # type: ignore[no-untyped-def]
    """modelport extension: ``build_id`` publishes the build a CI gate tested, not the newest one."""
    algo: Algo = new_algo()
    tested = algo.deploy(code("tested"))
    algo.deploy(code("newer"))
    build_id = next(b["build_id"] for b in algo.builds() if b["commit_sha"] == tested)
    r = algo.publish(build_id=build_id)
    assert r.status_code == 200, r.text
    assert r.json()["version_info"]["git_hash"] == tested
    assert algo.call("x", version="0.1.0").json()["result"]["v"] == "tested"
    assert algo.publish(build_id=build_id).json()["error"]["code"] == 1007
    r = algo.publish(build_id="00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == 1010
    broken = algo.source("def apply(input):\n    return (\n")
    failed = algo.wait_build(broken)
    r = algo.publish(build_id=failed["build_id"])
    assert r.status_code == 400 and "failed" in r.json()["error"]["message"]
