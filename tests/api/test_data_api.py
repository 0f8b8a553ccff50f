"""The data API over HTTP (reference section 4): shapes, both route families, ACLs, and every bad input."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from modelport.data.listing import encode_marker
from tests.support import Server

LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def new_user(server: Server, name: str, *, read: bool = True, write: bool = True) -> tuple[str, str]:
    """Create user `name` with one key of the given data scopes; returns (username, key)."""
    with server.client() as admin:
        r = admin.post("/v1/users", json={"username": name})
        assert r.status_code in (201, 409), r.text
        r = admin.post(f"/v1/users/{name}/keys", json={"key_label": "data", "permissions": {
            "allow_algo": True, "algo_acl": ["algo://*"], "allow_data": read, "allow_data_write": write}})
        assert r.status_code == 201, r.text
        return name, r.json()["api_key"]


def make_collection(c: httpx.Client, name: str, read: list[str] | None = None) -> None:
    body: dict[str, object] = {"name": name}
    if read is not None:
        body["acl"] = {"read": read}
    r = c.post("/v1/data/.my", json=body)
    assert r.status_code == 200, r.text


def blob_files(server: Server) -> int:
    return sum(len(files) for _, _, files in os.walk(server.data_dir / "data" / "blobs"))


def raw_request(server: Server, key: str, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send `target` exactly as written (httpx would normalise '..' and encode characters)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, target, body=body, headers={"Authorization": key})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def alice(server: Server, unique: str) -> tuple[str, str]:
    return new_user(server, f"alice{unique}")


@pytest.fixture
def bob(server: Server, unique: str) -> tuple[str, str]:
    return new_user(server, f"bob{unique}")


def test_collection_and_file_lifecycle_with_exact_shapes(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    payload = os.urandom(3000)
    with server.client(key) as c:
        r = c.post("/v1/data/.my", json={"name": "models"})
        assert (r.status_code, r.json()) == (200, {"result": f"data://{name}/models"})
        r = c.get(f"/v1/data/{name}/models")
        assert (r.status_code, r.headers["x-data-type"], r.json()) == (200, "directory", {})

        r = c.put("/v1/data/.my/models/model.bin", content=payload)
        assert (r.status_code, r.json()) == (200, {"result": f"data://{name}/models/model.bin"})
        r = c.head(f"/v1/data/{name}/models/model.bin")
        assert r.status_code == 200 and r.headers["x-data-type"] == "file"
        assert r.headers["etag"] == f'"{hashlib.md5(payload).hexdigest()}"'
        assert r.headers["content-length"] == "3000"
        r = c.get(f"/v1/data/{name}/models/model.bin")
        assert r.status_code == 200 and r.content == payload and r.headers["x-data-type"] == "file"

        listing = c.get(f"/v1/data/{name}/models").json()
        assert list(listing) == ["files"]
        [entry] = listing["files"]
        assert set(entry) == {"filename", "last_modified", "size"}
        assert (entry["filename"], entry["size"]) == ("model.bin", 3000)
        assert LAST_MODIFIED.match(entry["last_modified"])
        datetime.strptime(entry["last_modified"], "%Y-%m-%dT%H:%M:%S.%fZ")  # what the Python client does

        assert c.get(f"/v1/data/{name}/models?acl=true").json()["acl"] == {"read": ["algo://.my/*"]}
        r = c.patch(f"/v1/data/{name}/models", json={"acl": {"read": ["user://*"]}})
        assert (r.status_code, r.content) == (200, b"")
        assert c.get(f"/v1/data/{name}/models?acl=true").json()["acl"] == {"read": ["user://*"]}
        assert c.get(f"/v1/data/{name}").json() == {"folders": [{"name": "models"}]}

        r = c.delete(f"/v1/data/{name}/models")
        assert r.status_code == 409 and "not empty" in r.json()["error"]["message"]
        assert c.head(f"/v1/data/{name}/models/model.bin").status_code == 200
        r = c.delete(f"/v1/data/{name}/models/model.bin")
        assert (r.status_code, r.json()) == (200, {"result": {"deleted": 1}})
        r = c.head(f"/v1/data/{name}/models/model.bin")
        assert r.status_code == 404 and "does not exist" in r.headers["x-error-message"]
        assert c.delete(f"/v1/data/{name}/models").json() == {"result": {"deleted": 0}}
        assert c.get(f"/v1/data/{name}/models").status_code == 404


def test_force_delete_removes_files_and_blobs(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    with server.client(key) as c:
        make_collection(c, "full")
        before = blob_files(server)
        for i in range(3):
            assert c.put(f"/v1/data/.my/full/f{i}", content=b"x" * i).status_code == 200
        assert blob_files(server) == before + 3
        r = c.delete(f"/v1/data/{name}/full", params={"force": "false"})  # Java sends force=false
        assert r.status_code == 409
        assert c.delete(f"/v1/data/{name}/full?force=true").json() == {"result": {"deleted": 3}}
        assert blob_files(server) == before
        assert c.get(f"/v1/data/{name}/full").status_code == 404


def test_both_route_families_and_percent_encoded_paths(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    odd = "model v2 (ü)#1?.bin"
    with server.client(key) as c:
        r = c.post("/v1/connector/data/.my", json={"name": "both"})
        assert r.json() == {"result": f"data://{name}/both"}
        assert c.put(f"/v1/connector/data/{name}/both/{quote(odd)}", content=b"odd").status_code == 200
        # Java encodes the whole path, slashes included.
        assert c.get("/v1/data/" + quote(f".my/both/{odd}", safe="")).content == b"odd"
        assert c.get("/v1/data/" + quote(f"data://{name}/both/{odd}", safe="")).content == b"odd"
        assert c.get(f"/v1/connector/data/{name}/both").json()["files"][0]["filename"] == odd
        r = c.get("/v1/connector/s3/bucket/key")
        assert r.status_code == 400 and "connector s3 is not supported" in r.json()["error"]["message"]
        r = c.get("/v1/data/s3://bucket/key")  # what the Python client sends for other connectors
        assert r.status_code == 400 and "only hosts data://" in r.json()["error"]["message"]


def test_replace_keeps_one_version(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    with server.client(key) as c:
        make_collection(c, "versions")
        before = blob_files(server)
        assert c.put("/v1/data/.my/versions/m", content=b"one").status_code == 200
        first = c.head(f"/v1/data/{name}/versions/m").headers["etag"]
        assert c.put("/v1/data/.my/versions/m", content=b"second").status_code == 200
        r = c.get(f"/v1/data/{name}/versions/m")
        assert r.content == b"second" and r.headers["etag"] != first
        assert blob_files(server) == before + 1
        assert c.get(f"/v1/data/{name}/versions").json()["files"][0]["size"] == 6


def test_ranges_and_conditional_requests(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    with server.client(key) as c:
        make_collection(c, "ranges")
        c.put("/v1/data/.my/ranges/f", content=b"0123456789")
        url = f"/v1/data/{name}/ranges/f"
        etag = c.head(url).headers["etag"]
        r = c.get(url, headers={"Range": "bytes=2-4"})
        assert (r.status_code, r.content, r.headers["content-range"]) == (206, b"234", "bytes 2-4/10")
        assert c.get(url, headers={"Range": "bytes=-3"}).content == b"789"
        assert c.get(url, headers={"Range": "bytes=7-"}).content == b"789"
        assert c.get(url, headers={"Range": "bytes=8-100"}).content == b"89"
        r = c.get(url, headers={"Range": "bytes=10-20"})
        assert (r.status_code, r.headers["content-range"]) == (416, "bytes */10")
        assert r.json()["error"]["message"]
        r = c.get(url, headers={"Range": "bytes=0-1,4-5"})  # several ranges: the whole file
        assert (r.status_code, r.content) == (200, b"0123456789")
        r = c.get(url, headers={"Range": "bytes=0-1", "If-Range": '"other"'})
        assert (r.status_code, r.content) == (200, b"0123456789")
        assert c.get(url, headers={"Range": "bytes=0-1", "If-Range": etag}).status_code == 206
        r = c.get(url, headers={"If-None-Match": etag})
        assert (r.status_code, r.content, r.headers["etag"]) == (304, b"", etag)


def test_root_lists_the_caller_first_then_owners_it_may_read(server: Server, alice: tuple[str, str],
                                                              bob: tuple[str, str], unique: str) -> None:
    with server.client(bob[1]) as c:
        make_collection(c, "pub", ["user://*"])
        make_collection(c, "algos")
        make_collection(c, "priv", [])
    carol, carol_key = new_user(server, f"carol{unique}")
    with server.client(carol_key) as c:
        folders = [f["name"] for f in c.get("/v1/data/").json()["folders"]]
        assert folders[0] == carol and bob[0] in folders
        assert folders[1:] == sorted(folders[1:])
        assert c.get(f"/v1/data/{bob[0]}").json() == {"folders": [{"name": "pub"}]}
        assert c.get("/v1/data").json()["folders"][0] == {"name": carol}
    with server.client(bob[1]) as c:
        assert c.get("/v1/data/").json()["folders"][0] == {"name": bob[0]}
        assert [f["name"] for f in c.get("/v1/data/.my").json()["folders"]] == ["algos", "priv", "pub"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target, expected", [
    ("/v1/data/.my/col/..", "'..' segment"),
    ("/v1/data/.my/../admin/col/f", "'..' segment"),
    ("/v1/data/.my/col/%2E%2E", "'..' segment"),
    ("/v1/data/.my%2F..%2F..%2Fetc%2Fpasswd", "'..' segment"),
    ("/v1/data///etc/passwd", "is absolute"),
    ("/v1/data/data:%2F%2F%2Fetc%2Fpasswd", "is absolute"),
    ("/v1/data/.my/col/a%00b", "control character (U+0000)"),
    ("/v1/data/.my/col/" + "a" * 1000, "names are limited to 255 bytes"),
    ("/v1/data/.my/" + "c" * 1000 + "/f", "names are limited to 255 bytes"),
    ("/v1/data/.my/col/a\\b", "backslash"),
])
def test_path_traversal_and_bad_names_are_refused(server: Server, alice: tuple[str, str], target: str,
                                                  expected: str) -> None:
    name, key = alice
    with server.client(key) as c:
        make_collection(c, "col")
    before = blob_files(server)
    for method in ("GET", "PUT", "DELETE"):
        status, body = raw_request(server, key, method, target, b"payload" if method == "PUT" else b"")
        assert status == 400, (method, body)
        assert expected in body.decode(), body
    assert blob_files(server) == before
    assert not list(Path(server.data_dir).rglob("passwd"))
    with server.client(key) as c:
        assert "files" not in c.get(f"/v1/data/{name}/col").json()


def test_deeper_paths_are_a_precise_400(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    with server.client(key) as c:
        make_collection(c, "deep")
        for method in ("PUT", "GET", "HEAD", "DELETE"):
            r = c.request(method, f"/v1/data/{name}/deep/sub/model.bin", content=b"x" if method == "PUT" else None)
            assert r.status_code == 400
            message = r.headers["x-error-message"] if method == "HEAD" else r.json()["error"]["message"]
            assert "is too deep" in message and "folders inside a collection are not supported" in message
        r = c.post(f"/v1/data/{name}/deep", json={"name": "sub"})
        assert r.status_code == 400 and "folders inside a collection are not supported" in r.json()["error"]["message"]
        r = c.put(f"/v1/data/{name}/deep", content=b"x")
        assert r.status_code == 400 and "PUT takes a file path" in r.json()["error"]["message"]
        assert c.get(f"/v1/data/{name}/deep").json() == {}


def test_upload_to_someone_elses_collection_is_forbidden(server: Server, alice: tuple[str, str],
                                                         bob: tuple[str, str]) -> None:
    with server.client(bob[1]) as c:
        make_collection(c, "shared", ["user://*"])
        c.put("/v1/data/.my/shared/f", content=b"bob's")
    url = f"/v1/data/{bob[0]}/shared"
    with server.client(alice[1]) as c:
        r = c.put(f"{url}/f", content=b"alice's")
        assert r.status_code == 403 and f"only {bob[0]} writes there" in r.json()["error"]["message"]
        assert c.put(f"{url}/new", content=b"x").status_code == 403
        assert c.delete(f"{url}/f").status_code == 403
        assert c.delete(url, params={"force": "true"}).status_code == 403
        assert c.patch(url, json={"acl": {"read": []}}).status_code == 403
        assert c.post(f"/v1/data/{bob[0]}", json={"name": "mine"}).status_code == 403
        assert c.get(f"{url}/f").content == b"bob's"
        assert [f["filename"] for f in c.get(url).json()["files"]] == ["f"]


def test_private_files_are_not_readable_by_other_users(server: Server, alice: tuple[str, str],
                                                       bob: tuple[str, str]) -> None:
    with server.client(bob[1]) as c:
        make_collection(c, "secret", [])
        make_collection(c, "algos", ["algo://.my/*"])
        make_collection(c, "open", ["user://*"])
        for col in ("secret", "algos", "open"):
            c.put(f"/v1/data/.my/{col}/f", content=col.encode())
    with server.client(alice[1]) as c:
        # Unreadable answers exactly as missing does, so not even a collection's name leaks (and HEAD
        # stays 200/404, which Java's exists() needs).
        missing = c.get(f"/v1/data/{bob[0]}/nothing/f")
        assert missing.status_code == 404
        for col in ("secret", "algos"):
            r = c.get(f"/v1/data/{bob[0]}/{col}/f")
            assert r.status_code == 404
            assert r.json()["error"] == {
                **missing.json()["error"],
                "message": missing.json()["error"]["message"].replace("/nothing", f"/{col}")}
            assert f"does not exist, or {alice[0]} may not read it" in r.json()["error"]["message"]
            head, missing_head = c.head(f"/v1/data/{bob[0]}/{col}/f"), c.head(f"/v1/data/{bob[0]}/nothing/f")
            assert head.status_code == missing_head.status_code == 404
            assert head.headers["X-Error-Message"] == missing_head.headers["X-Error-Message"].replace(
                "/nothing", f"/{col}")
            assert c.get(f"/v1/data/{bob[0]}/{col}").status_code == 404
            assert c.get(f"/v1/data/{bob[0]}/{col}/missing").status_code == 404
        assert c.get(f"/v1/data/{bob[0]}/open/f").content == b"open"
        assert c.get(f"/v1/data/{bob[0]}").json() == {"folders": [{"name": "open"}]}
    with server.client(bob[1]) as c:
        assert c.get(f"/v1/data/{bob[0]}/secret/f").content == b"secret"


def test_key_scopes_are_enforced(server: Server, unique: str) -> None:
    name, full = new_user(server, f"scoped{unique}")
    _, read_only = new_user(server, name, write=False)
    _, no_data = new_user(server, name, read=False, write=False)
    with server.client(full) as c:
        make_collection(c, "c")
        c.put("/v1/data/.my/c/f", content=b"data")
    with server.client(read_only) as c:
        assert c.get(f"/v1/data/{name}/c/f").content == b"data"
        r = c.put(f"/v1/data/{name}/c/f", content=b"changed")
        assert r.status_code == 403 and "allow_data_write" in r.json()["error"]["message"]
        assert c.post("/v1/data/.my", json={"name": "d"}).status_code == 403
    with server.client(no_data) as c:
        r = c.get(f"/v1/data/{name}/c/f")
        assert r.status_code == 403 and "allow_data" in r.json()["error"]["message"]
        assert c.get("/v1/data/").status_code == 403
    with server.client("") as c:
        assert c.get(f"/v1/data/{name}/c/f").status_code == 401


def test_forged_markers_are_refused(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    secret = bytes.fromhex((server.data_dir / "secret.key").read_text().strip())
    with server.client(key) as c:
        make_collection(c, "paged")
        c.put("/v1/data/.my/paged/f", content=b"")
        url = f"/v1/data/{name}/paged"
        for marker, reason in [
            ("forged", "not issued"),
                ("not~ascii~é", "malformed"),
            (encode_marker("a", secret=b"not the server's secret", scope=f"data://{name}/paged"), "not issued"),
            (encode_marker("a", secret=secret, scope=f"data://{name}/other"), "another listing"),
        ]:
            r = c.get(url, params={"marker": marker})
            assert r.status_code == 400 and r.json()["error"]["code"] == 5002
            assert reason in r.json()["error"]["message"]
        good = encode_marker("", secret=secret, scope=f"data://{name}/paged")
        assert c.get(url, params={"marker": good}).json()["files"][0]["filename"] == "f"


def test_bad_collection_requests(server: Server, alice: tuple[str, str]) -> None:
    name, key = alice
    with server.client(key) as c:
        for body, expected in [
            ({"name": ".hidden"}, "must not start with '.'"),
            ({"name": "a/b"}, "is not valid"),
            ({"name": 5}, "must be a string"),
            ({}, "must be a string"),
            ({"name": "ok", "acl": {"read": ["user://bob"]}}, "is not supported"),
            ({"name": "ok", "acl": []}, '"acl" must be an object'),
        ]:
            r = c.post("/v1/data/.my", json=body)
            assert r.status_code == 400 and expected in r.json()["error"]["message"], (body, r.text)
        make_collection(c, "ok")
        r = c.post("/v1/data/.my", json={"name": "ok"})
        assert r.status_code == 409 and "already exists" in r.json()["error"]["message"]
        r = c.patch(f"/v1/data/{name}/ok", json={"acl": {"read": ["user://*", "algo://.my/*"]}})
        assert r.status_code == 400 and "at most one entry" in r.json()["error"]["message"]
        r = c.patch(f"/v1/data/{name}/ok/f", json={"acl": {"read": []}})
        assert r.status_code == 400
        assert c.delete("/v1/data/.my").status_code == 400
        assert c.post("/v1/data/", json={"name": "x"}).status_code == 400
        r = c.put(f"/v1/data/{name}/missing/f", content=b"x")
        assert r.status_code == 404 and "modelport data mkdir" in r.json()["error"]["message"]
        assert c.get(f"/v1/data/nobody{name}").status_code == 404


def test_json_sent_as_a_form_is_taken_as_json(server: Server, alice: tuple[str, str]) -> None:
    """Algorithmia's curl samples (`curl -X POST -d '{"name": ...}'`) label the JSON as a form."""
    name, key = alice
    form = {"content-type": "application/x-www-form-urlencoded"}
    with server.client(key) as c:
        r = c.post("/v1/data/.my", content=b'{"name": "curled"}', headers=form)
        assert r.status_code == 200 and r.json() == {"result": f"data://{name}/curled"}
        r = c.patch(f"/v1/data/{name}/curled", content=b'{"acl": {"read": []}}', headers=form)
        assert r.status_code == 200
        assert c.get(f"/v1/data/{name}/curled", params={"acl": "true"}).json()["acl"] == {"read": []}
        for body in (b"name=curled2", b'["curled2"]'):
            r = c.post("/v1/data/.my", content=body, headers=form)
            assert r.status_code == 415 and "form-encoded" in r.json()["error"]["message"], body
        r = c.post("/v1/data/.my", content=b'{"name": ', headers={"content-type": "application/json"})
        assert r.status_code == 400 and "invalid JSON" in r.json()["error"]["message"]
        deep = b"[" * 200_000
        r = c.post("/v1/data/.my", content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "nested too deeply" in r.json()["error"]["message"]
        assert c.post("/v1/data/.my", content=deep, headers=form).status_code == 415
        assert c.head(f"/v1/data/{name}/curled2").status_code == 404


def test_paging_is_code_point_order_on_every_database(server: Server, alice: tuple[str, str]) -> None:
    """A page ends at "B0999"; "C" and "a" sort after it in code point order, but before it ("a") in
    PostgreSQL's en-US collation: a marker compared in the database's own order would lose "a"."""
    name, key = alice
    names = [f"B{i:04d}" for i in range(1000)] + ["a", "C"]
    with server.client(key) as c:
        make_collection(c, "order")
        with ThreadPoolExecutor(8) as pool:
            statuses = set(pool.map(
                lambda n: c.put(f"/v1/data/.my/order/{n}", content=n.encode()).status_code, names))
        assert statuses == {200}
        first = c.get(f"/v1/data/{name}/order").json()
        assert [f["filename"] for f in first["files"]] == sorted(names)[:1000]
        second = c.get(f"/v1/data/{name}/order", params={"marker": first["marker"]}).json()
        assert [f["filename"] for f in second["files"]] == ["C", "a"] and "marker" not in second


def test_form_uploads_as_in_algorithmias_curl_sample(server: Server, alice: tuple[str, str],
                                                     tmp_path: Path) -> None:
    """`curl -X PUT -F 'file=@filename.csv' …/v1/data/.my/newCollection` stores filename.csv there."""
    name, key = alice
    local = tmp_path / "filename.csv"
    local.write_bytes(b"a,b\r\n1,2\r\n--not-a-boundary\r\n" * 1000)
    with server.client(key) as c:
        make_collection(c, "forms")
        done = subprocess.run(["curl", "-sS", "-X", "PUT", "-F", f"file=@{local}", "-H", f"Authorization: Simple {key}",
                               f"{server.url}/v1/data/.my/forms"], capture_output=True, text=True, check=True)
        assert json.loads(done.stdout) == {"result": f"data://{name}/forms/filename.csv"}
        assert c.get(f"/v1/data/{name}/forms/filename.csv").content == local.read_bytes()
        # To a file path, the form's file is stored under that path's name.
        r = c.put(f"/v1/data/{name}/forms/renamed.csv", files={"file": ("x.csv", b"renamed")},
                  data={"note": "fields are skipped"})
        assert r.status_code == 200 and r.json() == {"result": f"data://{name}/forms/renamed.csv"}
        assert c.get(f"/v1/data/{name}/forms/renamed.csv").content == b"renamed"

        for files, expected in [
            ([("a", ("one.csv", b"1")), ("b", ("two.csv", b"2"))], "more than one file"),
            ([("a", ("", b"1"))], "holds no file"),  # httpx sends no filename for an empty one
        ]:
            r = c.put(f"/v1/data/{name}/forms", files=files)
            assert r.status_code == 400 and expected in r.json()["error"]["message"], r.text
        cut = b'--B\r\nContent-Disposition: form-data; name="f"; filename="cut.csv"\r\n\r\npartial'
        r = c.put(f"/v1/data/{name}/forms", content=cut,
                  headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 400 and "ended before its closing boundary" in r.json()["error"]["message"]
        r = c.put(f"/v1/data/{name}/forms", content=b"x", headers={"content-type": "multipart/form-data"})
        assert r.status_code == 400 and "without a boundary" in r.json()["error"]["message"]
        r = c.put(f"/v1/data/{name}/forms", content=b"x",
                  headers={"content-type": "multipart/form-data; boundary=" + "b" * 300})
        assert r.status_code == 400 and "boundary is over 70 characters" in r.json()["error"]["message"]
        r = c.put(f"/v1/data/{name}/forms", content=b"raw bytes")
        assert r.status_code == 400 and "curl -F" in r.json()["error"]["message"]
        # RFC 2231 names (filename*=UTF-8''...), as some clients send non-ASCII ones.
        utf8 = (b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''na%C3%AFve.csv\r\n\r\n"
                b"naive\r\n--B--\r\n")
        r = c.put(f"/v1/data/{name}/forms", content=utf8, headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 200 and r.json() == {"result": f"data://{name}/forms/naïve.csv"}
        c.delete(f"/v1/data/{name}/forms/naïve.csv").raise_for_status()
        # Write rights and the collection are checked before any of the form is read.
        form = {"files": {"file": ("big.bin", b"x" * (4 << 20))}}
        assert c.put(f"/v1/data/{name}/nowhere", **form).status_code == 404
    _, read_only = new_user(server, name, write=False)
    with server.client(read_only) as c:
        r = c.put(f"/v1/data/{name}/forms", **form)
        assert r.status_code == 403 and "allow_data_write" in r.json()["error"]["message"]
    with server.client(key) as c:
        for missing in ("one.csv", "two.csv", "cut.csv"):
            assert c.head(f"/v1/data/{name}/forms/{missing}").status_code == 404
        assert sorted(f["filename"] for f in c.get(f"/v1/data/{name}/forms").json()["files"]) == [
            "filename.csv", "renamed.csv"]
