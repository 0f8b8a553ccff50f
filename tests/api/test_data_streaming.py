"""Uploads and downloads stream: size limits, dropped connections, crashes, bounded memory."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_data_api import make_collection
from tests.support import Server, start_server, wait_until

MIB = 1 << 20
LIMIT = MIB


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose upload limit is 1 MiB."""
    srv = start_server(tmp_path_factory.mktemp("limits") / "data", env={"MODELPORT_MAX_UPLOAD_BYTES": str(LIMIT)})
    with srv.client() as c:
        make_collection(c, "lim")
    yield srv
    srv.stop()


def temp_uploads(server: Server) -> list[Path]:
    return list((server.data_dir / "data" / "tmp").glob("upload-*"))


def send_raw(server: Server, head: str, body: bytes = b"") -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < content_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def content_length(data: bytes) -> int:
    match = re.search(rb"(?i)content-length: (\d+)", data.split(b"\r\n\r\n", 1)[0])
    return int(match.group(1)) if match else 0


def put_head(key: str, path: str, length: int, *extra: str) -> str:
    lines = [f"PUT {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: {key}", f"Content-Length: {length}", *extra]
    return "\n".join(lines) + "\n"


def test_declared_size_over_the_limit_is_refused_before_any_byte_is_sent(small_server: Server) -> None:
    with small_server.client() as c:
        c.put("/v1/data/.my/lim/f", content=b"previous")
    started = time.monotonic()
    sock = send_raw(small_server, put_head(small_server.admin_key, "/v1/data/.my/lim/f", 10 << 30,
                                           "Expect: 100-continue"))
    with sock:
        status, body = read_response(sock)
    assert status == 413 and time.monotonic() - started < 2
    assert b"the file is 10737418240 bytes; the upload limit is 1048576 bytes" in body
    assert b"100 Continue" not in body
    assert temp_uploads(small_server) == []
    with small_server.client() as c:
        assert c.get("/v1/data/.my/lim/f").content == b"previous"


def test_declared_body_over_the_limit_gets_a_clear_413(small_server: Server) -> None:
    with small_server.client() as c:
        r = c.put("/v1/data/.my/lim/g", content=b"x" * (3 * MIB))
        assert r.status_code == 413 and "upload limit is 1048576 bytes" in r.json()["error"]["message"]
        assert c.head("/v1/data/.my/lim/g").status_code == 404
        assert c.put("/v1/data/.my/lim/g", content=b"x" * LIMIT).status_code == 200  # the limit itself is fine


def test_chunked_body_stops_once_past_the_limit(small_server: Server) -> None:
    sent = []

    def body() -> Iterator[bytes]:
        for _ in range(3 * 16):
            sent.append(64 * 1024)
            yield b"y" * (64 * 1024)

    with small_server.client() as c:
        c.put("/v1/data/.my/lim/h", content=b"previous")
        r = c.put("/v1/data/.my/lim/h", content=body())
        assert r.status_code == 413 and "over the upload limit" in r.json()["error"]["message"]
        assert c.get("/v1/data/.my/lim/h").content == b"previous"
    assert temp_uploads(small_server) == []


def test_client_gone_mid_upload_leaves_the_previous_version(server: Server, user: tuple[str, str]) -> None:
    name, key = user
    with server.client(key) as c:
        make_collection(c, "drop")
        c.put("/v1/data/.my/drop/model", content=b"version one")
    sock = send_raw(server, put_head(key, "/v1/data/.my/drop/model", 64 * MIB), os.urandom(8 * MIB))
    wait_until(lambda: temp_uploads(server), timeout=10)
    sock.close()
    wait_until(lambda: not temp_uploads(server), timeout=10)
    with server.client(key) as c:
        assert c.get(f"/v1/data/{name}/drop/model").content == b"version one"
        assert c.get(f"/v1/data/{name}/drop").json()["files"][0]["size"] == len(b"version one")


def test_server_crash_mid_upload_leaves_the_previous_version(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        with srv.client() as c:
            make_collection(c, "crash")
            c.put("/v1/data/.my/crash/model", content=b"version one")
        sock = send_raw(srv, put_head(srv.admin_key, "/v1/data/.my/crash/model", 64 * MIB), os.urandom(8 * MIB))
        wait_until(lambda: temp_uploads(srv), timeout=10)
        srv.process.kill()
        srv.process.wait()
        sock.close()
        assert temp_uploads(srv)  # the partial upload is still on disk...
    finally:
        srv.stop()
    again = start_server(tmp_path / "data", port=int(srv.url.rsplit(":", 1)[1]), expect_key=False)
    try:
        assert temp_uploads(again) == []  # ...until the next start removes it
        with httpx.Client(base_url=again.url, headers={"Authorization": srv.admin_key}) as c:
            assert c.get("/v1/data/.my/crash/model").content == b"version one"
    finally:
        again.stop()


def test_readers_keep_their_version_while_it_is_replaced(server: Server, user: tuple[str, str]) -> None:
    name, key = user
    first, second = os.urandom(24 * MIB), os.urandom(2 * MIB)
    with server.client(key) as c, server.client(key) as writer:
        make_collection(c, "swap")
        c.put("/v1/data/.my/swap/model", content=first)
        with c.stream("GET", f"/v1/data/{name}/swap/model") as r:
            chunks = r.iter_bytes(MIB)
            head = next(chunks)
            assert writer.put("/v1/data/.my/swap/model", content=second).status_code == 200
            assert head + b"".join(chunks) == first
        assert c.get(f"/v1/data/{name}/swap/model").content == second


def test_server_memory_stays_bounded_during_large_transfers(server: Server, user: tuple[str, str]) -> None:
    name, key = user
    size = 256 * MIB
    block = os.urandom(MIB)

    def body() -> Iterator[bytes]:
        for i in range(size // MIB):
            yield i.to_bytes(8, "little") + block[8:]

    status = Path(f"/proc/{server.process.pid}/status")

    def rss() -> int:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read_text()).group(1)) * 1024  # type: ignore[union-attr]

    peak = [rss()]
    baseline = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with server.client(key) as c:
            make_collection(c, "big")
            r = c.put("/v1/data/.my/big/model", content=body())
            assert r.status_code == 200, r.text
            received = 0
            with c.stream("GET", f"/v1/data/{name}/big/model") as r:
                for chunk in r.iter_raw(MIB):
                    received += len(chunk)
            assert received == size
    finally:
        done.set()
        sampler.join()
    assert peak[0] - baseline < 64 * MIB, f"server RSS grew by {(peak[0] - baseline) / MIB:.1f} MiB"
