"""The official Algorithmia clients (2.0.5 and 1.2.1), unchanged, on the data API of a real server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.test_data_api import make_collection, new_user
from tests.support import ClientEnv, Server

MANY = 1005  # more than one listing page (1000)


@pytest.fixture(scope="module")
def many_files(server: Server) -> str:
    """A public collection holding MANY files, uploaded over HTTP in parallel; returns its data:// URI."""
    owner, key = new_user(server, "manyfilesowner")
    with server.client(key) as c:
        make_collection(c, "many", ["user://*"])

    with server.client(key) as c, ThreadPoolExecutor(8) as pool:
        def put(i: int) -> int:
            return c.put(f"/v1/data/.my/many/file{i:05d}.txt", content=str(i).encode()).status_code

        assert set(pool.map(put, range(MANY))) == {200}
    return f"data://{owner}/many"


SCRIPT = """
import json, os, tempfile, Algorithmia
from Algorithmia.acl import ReadAcl
from Algorithmia.errors import DataApiError

client = Algorithmia.client()
out = {{}}
if hasattr(client, "username"):
    out["username"] = client.username()
d = client.dir("data://.my/{collection}")
out["exists_before"] = d.exists()
d.create()
out["exists_after"] = d.exists()
out["acl_default"] = d.get_permissions().read_acl.pseudonym
missing = client.file("data://.my/{collection}/nope.txt")
try:
    missing.getString()
    out["missing"] = "no error"
except DataApiError as e:
    out["missing"] = str(e)

model = d.file("model.bin")
out["file_exists_before"] = model.exists()
local = os.path.join(tempfile.mkdtemp(), "model.bin")
with open(local, "wb") as f:
    f.write(bytes(range(256)) * 4000)
model.putFile(local)
out["file_exists_after"] = model.exists()
downloaded = model.getFile()
path = downloaded.name
downloaded.close()
out["file_roundtrip"] = open(path, "rb").read() == open(local, "rb").read()
out["bytes_roundtrip"] = model.getBytes() == open(local, "rb").read()
os.unlink(path)  # getFile() leaves its temp file behind
os.unlink(local)
os.rmdir(os.path.dirname(local))

d.file("greeting.txt").put("h\\u00e9llo w\\u00f6rld")
out["string"] = d.file("greeting.txt").getString()
# Short non-ASCII text: requests guesses a charset when the server names none, and guessed wrong.
out["short_strings"] = []
for text in ("\u00a1Hola!", "\u20ac5", "\u00e9"):
    d.file("short.txt").put(text)
    out["short_strings"].append(d.file("short.txt").getString() == text)
d.file("short.txt").delete()
d.file("config.json").putJson({{"layers": [1, 2, 3], "name": "net"}})
out["json"] = d.file("config.json").getJson()

listed = list(d.files())
out["listing"] = sorted((f.getName(), f.size) for f in listed)
out["last_modified_type"] = type(listed[0].last_modified).__name__
out["dirs_of_my"] = [x.getName() for x in client.dir("data://.my").dirs()]

d.update_permissions(ReadAcl.public)
out["acl_updated"] = d.get_permissions().read_acl.pseudonym
d.update_permissions(ReadAcl.private)
out["acl_private"] = d.get_permissions().read_acl.pseudonym

out["delete_file"] = d.file("greeting.txt").delete()
out["deleted_exists"] = d.file("greeting.txt").exists()
try:
    d.delete()
    out["delete_nonempty"] = "deleted"
except DataApiError as e:
    out["delete_nonempty"] = str(e)
out["still_exists"] = d.exists()
out["delete_forced"] = d.delete(force=True)
out["exists_at_end"] = d.exists()


many = [f.getName() for f in client.dir("{many}").files()]
out["many_count"] = len(many)
out["many_sorted"] = many == sorted(many)
out["many_unique"] = len(set(many)) == len(many)
out["many_content"] = client.file("{many}/file01004.txt").getString()
print(json.dumps(out))
"""


def check(out: dict[str, object], collection: str) -> None:
    assert (out["exists_before"], out["exists_after"]) == (False, True)
    assert out["acl_default"] == "my_algos"
    assert (out["file_exists_before"], out["file_exists_after"]) == (False, True)
    assert out["file_roundtrip"] is True and out["bytes_roundtrip"] is True
    assert out["string"] == "héllo wörld"
    assert out["short_strings"] == [True, True, True]
    assert out["json"] == {"layers": [1, 2, 3], "name": "net"}
    assert out["listing"] == [["config.json", 36], ["greeting.txt", 13], ["model.bin", 1024000]]
    assert out["last_modified_type"] == "datetime"
    assert collection in out["dirs_of_my"]  # type: ignore[operator]
    assert (out["acl_updated"], out["acl_private"]) == ("public", "private")
    assert (out["delete_file"], out["deleted_exists"]) == (True, False)
    assert "is not empty" in out["delete_nonempty"]  # type: ignore[operator]
    assert out["still_exists"] is True
    assert (out["delete_forced"], out["exists_at_end"]) == (True, False)
    assert "nope.txt does not exist" in out["missing"]  # type: ignore[operator]
    assert (out["many_count"], out["many_sorted"], out["many_unique"]) == (MANY, True, True)
    assert out["many_content"] == "1004"


def test_algorithmia_205_data(server: Server, algorithmia205: ClientEnv, user: tuple[str, str],
                              many_files: str) -> None:
    username, key = user
    out = algorithmia205.json(server, SCRIPT.format(collection="c205", many=many_files), key=key)
    assert isinstance(out, dict)
    assert out["username"] == username  # the first folder of GET /v1/data/
    check(out, "c205")


def test_algorithmia_121_data(server: Server, algorithmia121: ClientEnv, user: tuple[str, str],
                              many_files: str) -> None:
    _, key = user
    out = algorithmia121.json(server, SCRIPT.format(collection="c121", many=many_files), key=key)
    assert isinstance(out, dict)
    assert "username" not in out  # 1.2.1 has no client.username()
    check(out, "c121")


def test_listing_pages_over_http(server: Server, many_files: str) -> None:
    with server.client() as c:
        url = "/v1/data/" + many_files.removeprefix("data://")
        first = c.get(url).json()
        assert len(first["files"]) == 1000 and first["marker"]
        second = c.get(url, params={"marker": first["marker"]}).json()
        assert "marker" not in second and len(second["files"]) == MANY - 1000
        names = [f["filename"] for f in first["files"] + second["files"]]
        assert names == sorted(names) and len(set(names)) == MANY
