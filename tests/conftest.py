from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Algo, ClientEnv, Server, start_server

_names = itertools.count()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the session; tests use unique algorithm and user names."""
    srv = start_server(tmp_path_factory.mktemp("server") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def unique() -> str:
    """A name no other test uses on the shared server."""
    return f"t{next(_names)}"


@pytest.fixture(scope="session")
def algorithmia205() -> ClientEnv:
    return ClientEnv("algorithmia-2.0.5", ["algorithmia==2.0.5"])


@pytest.fixture(scope="session")
def algorithmia121() -> ClientEnv:
    return ClientEnv("algorithmia-1.2.1", ["algorithmia==1.2.1", "algorithmia-api-client==1.1.0"])


@pytest.fixture
def user(server: Server, unique: str) -> tuple[str, str]:
    """A fresh non-admin user with a full-access key: (username, key)."""
    with server.client() as c:
        r = c.post("/v1/users", json={"username": f"u{unique}", "password": "correct horse battery"})
        assert r.status_code == 201, r.text
        r = c.post(f"/v1/users/u{unique}/keys", json={"key_label": "full", "permissions": {
            "allow_algo": True, "algo_acl": ["algo://*"], "allow_data": True, "allow_data_write": True,
            "allow_algo_management": True}})
        assert r.status_code == 201, r.text
        return f"u{unique}", r.json()["api_key"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)




@pytest.fixture
def new_algo(server: Server, tmp_path: Path, unique: str):  # type: ignore[no-untyped-def]
    """Factory: ``new_algo(name_suffix="", key=None, owner="admin")`` creates an algorithm with a clone."""

    def make(suffix: str = "", *, key: str | None = None, owner: str = "admin", **kw: object) -> Algo:
        return Algo(server, owner, f"a{unique}{suffix}", key or server.admin_key, tmp_path, **kw)  # type: ignore[arg-type]

    return make
