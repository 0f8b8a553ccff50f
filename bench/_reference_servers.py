"""The least an HTTP server can do, for bench/data_transfer.py to measure modelport against.

    python3 bench/_reference_servers.py sink PORT DIR     # PUT: write the body to DIR/sink.bin, nothing else
    python3 bench/_reference_servers.py source PORT FILE  # GET: send FILE with sendfile(2), zero-copy

One connection at a time, Content-Length bodies only, no parsing beyond that: not a server to use, a
ceiling. `sink` is what any Python server can reach on this machine when it receives a file (no
framework, no hashing, no fsync); `source` shows how fast the client can write what it downloads.
"""

import os
import socket
import sys

BUFFER = 1 << 20


def serve(port: int, handle) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        with connection:
            head, rest = _read_head(connection)
            handle(connection, head, rest)


def sink(connection: socket.socket, head: bytes, rest: bytes, folder: str) -> None:
    length = int(_header(head, b"content-length") or 0)
    if b"100-continue" in (_header(head, b"expect") or b"").lower():
        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    fd = os.open(os.path.join(folder, "sink.bin"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, rest)
        received = len(rest)
        while received < length:
            count = connection.recv_into(buffer)
            if not count:
                return
            os.write(fd, view[:count])
            received += count
    finally:
        os.close(fd)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def source(connection: socket.socket, head: bytes, rest: bytes, path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        offset = 0
        while offset < size:
            offset += os.sendfile(connection.fileno(), fd, offset, size - offset)
    finally:
        os.close(fd)


def _read_head(connection: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection before its request head ended")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


if __name__ == "__main__":
    mode, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handlers = {"sink": sink, "source": source}
    serve(port, lambda connection, head, rest: handlers[mode](connection, head, rest, target))
