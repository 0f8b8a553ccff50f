"""Users and API keys over HTTP: hashed, shown once, scoped, revocable at once."""

from __future__ import annotations


from tests.support import Server


def test_key_shown_once_and_stored_hashed(server: Server, user: tuple[str, str]) -> None:
    username, key = user
    assert key.startswith("sim") and len(key) >= 3 + 22  # >= 128 bits of randomness
    with server.client(key) as c:
        listed = c.get(f"/v1/users/{username}/keys").json()["results"]
        assert listed and all("api_key" not in k for k in listed)
        assert all(key not in str(k) for k in listed)
    stored = [row[0] for row in server.stored("select key_hash from api_keys")]
    assert key not in stored and all(len(h) == 64 for h in stored)


def test_revoked_key_stops_at_once(server: Server, user: tuple[str, str]) -> None:
    username, key = user
    with server.client(key) as c:
        r = c.post(f"/v1/users/{username}/keys", json={"key_label": "temp", "permissions": {"allow_algo": True}})
        assert r.status_code == 201
        temp, temp_id = r.json()["api_key"], r.json()["id"]
    with server.client(temp) as t:
        assert t.get("/v1/algorithms/admin/x").status_code == 404  # warm the cache
        with server.client(key) as c:
            assert c.delete(f"/v1/users/{username}/keys/{temp_id}").status_code == 204
        r = t.get("/v1/algorithms/admin/x")
        assert r.status_code == 401 and r.json()["error"]["code"] == 2002


def test_only_admins_create_users_and_keys_cannot_escalate(server: Server, user: tuple[str, str]) -> None:
    username, key = user
    with server.client(key) as c:
        r = c.post("/v1/users", json={"username": "mallory"})
        assert r.status_code == 403 and r.json()["error"]["code"] == 2001
        assert c.get("/v1/users/admin/keys").status_code == 403
        r = c.post(f"/v1/users/{username}/keys", json={"permissions": {"allow_algo": False}})
        assert r.status_code == 201
        weak = r.json()["api_key"]
    with server.client(weak) as w:
        r = w.post(f"/v1/users/{username}/keys", json={"permissions": {"allow_algo": False, "allow_data_write": True}})
        assert r.status_code == 403 and "allow_data_write" in r.json()["error"]["message"]
    with server.client() as admin:
        r = admin.post("/v1/users", json={"username": username})
        assert r.status_code == 409
        r = admin.post("/v1/users", json={"username": "bad name!"})
        assert r.status_code == 400


def test_bad_permissions_rejected(server: Server, user: tuple[str, str]) -> None:
    username, key = user
    with server.client(key) as c:
        r = c.post(f"/v1/users/{username}/keys", json={"permissions": {"algo_acl": "algo://*"}})
        assert r.status_code == 400 and "algo_acl" in r.json()["error"]["message"]
        r = c.post(f"/v1/users/{username}/keys", json={"permissions": {"allow_data": "yes"}})
        assert r.status_code == 400 and "allow_data" in r.json()["error"]["message"]
