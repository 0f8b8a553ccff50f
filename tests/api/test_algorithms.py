"""Algorithm management API against a real server (reference section 3)."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Server

SETTINGS = {"language": "python3-1", "environment": "cpu", "source_visibility": "closed", "license": "apl",
            "network_access": "full", "pipeline_enabled": True}


def create(c: httpx.Client, owner: str, name: str, **body: object) -> httpx.Response:
    return c.post(f"/v1/algorithms/{owner}", json={"name": name, "settings": SETTINGS, **body})


def test_create_get_update_delete(server: Server, unique: str) -> None:
    with server.client() as c:
        r = create(c, "admin", f"crud_{unique}", details={"label": "CRUD", "summary": "s"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["name"] == f"crud_{unique}"
        assert body["settings"]["algorithm_callability"] == "private"
        assert body["details"] == {"label": "CRUD", "summary": "s"}
        assert body["resource_type"] == "algorithm"
        assert body["source"]["scm"]["provider"] == "internal"
        assert "error" not in body

        got = c.get(f"/v1/algorithms/admin/crud_{unique}").json()
        assert got["id"] == body["id"]
        assert c.get(f"/v1/algorithms/{body['id']}").json()["name"] == f"crud_{unique}"

        r = c.put(f"/v1/algorithms/admin/crud_{unique}",
                  json={"details": {"tagline": "t"}, "settings": {"network_access": "isolated"},
                        "source": {}, "scmsCredentials": {}})  # the extra keys algorithmia 2.0.5 sends
        assert r.status_code == 200, r.text
        assert r.json()["details"] == {"label": "CRUD", "summary": "s", "tagline": "t"}
        assert r.json()["settings"]["network_access"] == "isolated"
        assert r.json()["settings"]["language"] == "python3-1"

        assert c.delete(f"/v1/algorithms/admin/crud_{unique}").status_code == 204
        r = c.get(f"/v1/algorithms/admin/crud_{unique}")
        assert r.status_code == 404
        assert "No such algorithm" in r.json()["error"]["message"]
        assert r.json()["error"]["code"] == 1000


def test_package_set_form_and_defaults(server: Server, unique: str) -> None:
    with server.client() as c:
        r = c.post("/v1/algorithms/admin", json={"name": f"ps_{unique}", "settings": {"package_set": "python38"}})
        assert r.status_code == 201, r.text
        assert r.json()["settings"]["package_set"] == "python38"
        assert "language" not in r.json()["settings"]
        r = c.post("/v1/algorithms/admin", json={"name": f"bare_{unique}"})
        assert r.status_code == 201
        assert r.json()["settings"]["language"] == "python3-1"


def test_duplicate_create_is_1002_and_changes_nothing(server: Server, unique: str) -> None:
    with server.client() as c:
        assert create(c, "admin", f"dup_{unique}", details={"label": "first"}).status_code == 201
        r = create(c, "admin", f"dup_{unique}", details={"label": "second"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == 1002
        assert c.get(f"/v1/algorithms/admin/dup_{unique}").json()["details"]["label"] == "first"


@pytest.mark.parametrize("name,fragment", [
    ("a/b", "invalid algorithm name"),
    ("..", "invalid algorithm name"),
    ("x" * 300, "300 characters"),
    ("1abc", "starting with a letter"),
    ("", '"name" is required'),
])
def test_bad_names(server: Server, name: str, fragment: str) -> None:
    with server.client() as c:
        r = c.post("/v1/algorithms/admin", json={"name": name})
        assert r.status_code == 400
        assert fragment in r.json()["error"]["message"]


def test_bad_bodies(server: Server, unique: str) -> None:
    with server.client() as c:
        r = c.post("/v1/algorithms/admin", content=b'{"name": "x",', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == 2013
        assert "invalid JSON" in r.json()["error"]["message"]
        r = c.post("/v1/algorithms/admin", content=b"name=x", headers={"content-type": "text/csv"})
        assert r.status_code == 415 and "Content-Type" in r.json()["error"]["message"]
        r = c.post("/v1/algorithms/admin", json=["not", "an", "object"])
        assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]
        r = c.post("/v1/algorithms/admin", json={"name": f"wt_{unique}", "settings": {"pipeline_enabled": "yes"}})
        assert r.status_code == 400 and "settings.pipeline_enabled" in r.json()["error"]["message"]
        r = c.post("/v1/algorithms/admin", json={"name": f"wt_{unique}", "details": {"label": 5}})
        assert r.status_code == 400 and "details.label" in r.json()["error"]["message"]
        r = c.post("/v1/algorithms/admin", json={"name": f"wt_{unique}", "settings": {"license": "wtfpl"}})
        assert r.status_code == 400 and "settings.license" in r.json()["error"]["message"]
        assert c.get(f"/v1/algorithms/admin/wt_{unique}").status_code == 404
        # Unknown fields are ignored.
        r = c.post("/v1/algorithms/admin", json={"name": f"wt_{unique}", "scmsCredentials": {}, "nonsense": 1})
        assert r.status_code == 201


def test_form_encoded_update_is_refused_and_changes_nothing(server: Server, unique: str) -> None:
    with server.client() as c:
        assert create(c, "admin", f"form_{unique}", details={"label": "keep"}).status_code == 201
        # What algorithmia 2.0.5's Algorithm.update() puts on the wire (reference 7.3).
        r = c.put(f"/v1/algorithms/admin/form_{unique}", content=b"details=label&settings=license",
                  headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        assert "form-encoded" in r.json()["error"]["message"]
        assert c.get(f"/v1/algorithms/admin/form_{unique}").json()["details"] == {"label": "keep"}


def test_body_over_limit_rejected_early(server: Server, unique: str) -> None:
    big = b"x" * (50 * 1024 * 1024)
    with server.client() as c:
        r = c.post("/v1/algorithms/admin", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert "limit" in r.json()["error"]["message"]

        def chunks():  # no Content-Length: the server must count and stop
            for i in range(0, len(big), 1 << 20):
                yield big[i:i + (1 << 20)]

        r = c.post("/v1/algorithms/admin", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_empty_builds_and_versions_paging(server: Server, unique: str) -> None:
    with server.client() as c:
        create(c, "admin", f"pg_{unique}")
        for what in ("builds", "versions"):
            r = c.get(f"/v1/algorithms/admin/pg_{unique}/{what}")
            assert r.json() == {"marker": None, "next_link": None, "results": []}
        r = c.get(f"/v1/algorithms/admin/pg_{unique}/builds", params={"limit": 0})
        assert r.status_code == 400 and r.json()["error"]["code"] == 5003
        r = c.get(f"/v1/algorithms/admin/pg_{unique}/builds", params={"marker": "forged"})
        assert r.status_code == 400 and r.json()["error"]["code"] == 5002
        r = c.get(f"/v1/algorithms/admin/pg_{unique}/builds/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == 1010


def test_permissions(server: Server, user: tuple[str, str], unique: str) -> None:
    username, key = user
    with server.client() as admin:
        r = admin.post(f"/v1/users/{username}/keys", json={"key_label": "call-only", "permissions": {
            "allow_algo": True, "algo_acl": ["algo://*"]}})
        call_only = r.json()["api_key"]
        r = admin.post("/v1/users/admin/keys", json={"key_label": "adm", "key_type": "PlatformAdminKey"})
        admin_only = r.json()["api_key"]
    with server.client(key) as c:
        assert create(c, username, f"mine_{unique}").status_code == 201
        r = create(c, "admin", f"theirs_{unique}")
        assert r.status_code == 403 and r.json()["error"]["code"] == 2001
    with server.client(call_only) as c:
        r = create(c, username, f"no_{unique}")
        assert r.status_code == 403 and r.json()["error"]["code"] == 2001
        assert "allow_algo_management" in r.json()["error"]["message"]
        r = c.delete(f"/v1/algorithms/{username}/mine_{unique}")
        assert r.status_code == 403
    with server.client(admin_only) as c:
        assert create(c, "admin", f"adm_{unique}").status_code == 403
    with server.client("") as c:
        r = c.get(f"/v1/algorithms/{username}/mine_{unique}")
        assert r.status_code == 401 and r.json()["error"]["code"] == 2002
    with server.client("simnotakey") as c:
        r = c.get(f"/v1/algorithms/{username}/mine_{unique}")
        assert r.status_code == 401 and r.json()["error"]["code"] == 2002
    with server.client() as admin:  # another user's private algorithm looks absent, not forbidden
        assert admin.get(f"/v1/algorithms/{username}/mine_{unique}").status_code == 200
    with server.client(call_only) as c:
        assert c.get(f"/v1/algorithms/{username}/mine_{unique}").status_code == 200


@pytest.mark.parametrize("form", ["Simple {}", "{}", "Bearer {}", "simple {}"])
def test_authorization_header_forms(server: Server, form: str) -> None:
    r = httpx.get(server.url + "/v1/algorithms/admin/nothing_here",
                  headers={"Authorization": form.format(server.admin_key)})
    assert r.status_code == 404  # authenticated, and the algorithm does not exist
