"""``modelport data``: list, copy, print, create and delete hosted data (data://owner/collection/file)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import click
import httpx

from modelport.cli.common import api_from, server_options
from modelport.cli.http import Api, ApiError, error_message

CHUNK = 1 << 20
# Files at least this large get a progress bar (on stderr, and only on a terminal).
PROGRESS_BYTES = 8 << 20
ACLS = {"private": [], "my-algos": ["algo://.my/*"], "public": ["user://*"]}


@click.group()
def data() -> None:
    """Hosted data: collections of files under data://OWNER/COLLECTION (data://.my is you)."""


@data.command("ls")
@click.argument("path", default="data://.my")
@click.option("-l", "--long", "long_format", is_flag=True, help="Show size and last-modified time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print {folders, files} as JSON, all pages merged.")
@server_options
def ls(path: str, long_format: bool, as_json: bool, **conn: str | None) -> None:
    """List your collections, a user's collections, or the files of a collection.  [default: data://.my]"""
    api = _api(conn)
    parts = _parts(path)
    if len(parts) == 3:
        response = _checked(api.request("HEAD", _url(path)))
        modified = parsedate_to_datetime(response.headers["last-modified"])
        entries: dict[str, Any] = {"files": [{"filename": parts[2], "size": int(response.headers["content-length"]),
                                              "last_modified": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z")}]}
    else:
        entries = {"folders": [], "files": []}
        marker = None
        while True:
            page = api.json("GET", _url(path), params={"marker": marker} if marker else None)
            entries["folders"] += page.get("folders", [])
            entries["files"] += page.get("files", [])
            marker = page.get("marker")
            if not marker:
                break
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for folder in entries.get("folders", []):
        click.echo(f"{'':>12}  {'':24}  {folder['name']}/" if long_format else f"{folder['name']}/")
    for f in entries["files"]:
        click.echo(f"{f['size']:>12}  {f['last_modified'] or '':24}  {f['filename']}" if long_format
                   else f["filename"])


@data.command("cp")
@click.argument("source")
@click.argument("destination")
@click.option("--no-progress", is_flag=True, envvar="MODELPORT_NO_PROGRESS",
              help="No progress bar.  [env MODELPORT_NO_PROGRESS]")
@server_options
def cp(source: str, destination: str, no_progress: bool, **conn: str | None) -> None:
    """Upload a local file to data://OWNER/COLLECTION[/FILE], or download a data:// file.

    '-' is stdin or stdout. Uploads replace the file atomically; downloads are written to a temp
    file beside the destination and renamed into place once complete and checked against the md5.
    """
    remote_src, remote_dst = source.startswith("data://"), destination.startswith("data://")
    if remote_src == remote_dst:
        raise click.UsageError("one of SOURCE and DESTINATION must be a data:// path, the other a local path or '-'")
    api = _api(conn, timeout=300)
    if remote_dst:
        _upload(api, source, destination, not no_progress)
    else:
        _download(api, source, destination, not no_progress)


@data.command("cat")
@click.argument("path")
@server_options
def cat(path: str, **conn: str | None) -> None:
    """Write a data:// file to stdout."""
    if len(_parts(path)) != 3:
        raise click.UsageError(f"{path} is not a file path: expected data://OWNER/COLLECTION/FILE")
    api = _api(conn, timeout=300)
    with _get(api, path) as response:
        for chunk in response.iter_bytes(CHUNK):
            sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


@data.command("mkdir")
@click.argument("path")
@click.option("--acl", type=click.Choice(list(ACLS)), default="my-algos", show_default=True,
              help="Who may read: only you, you and your algorithms (whoever calls them), or every user.")
@click.option("-p", "--parents", "exist_ok", is_flag=True, help="No error if the collection exists.")
@server_options
def mkdir(path: str, acl: str, exist_ok: bool, **conn: str | None) -> None:
    """Create the collection data://OWNER/COLLECTION (collections hold files, not folders)."""
    parts = _parts(path)
    if len(parts) != 2:
        raise click.UsageError(f"{path} is not a collection path: expected data://OWNER/COLLECTION "
                               "(collections sit directly under their owner)")
    api = _api(conn)
    try:
        api.json("POST", _url(parts[0]), json={"name": parts[1], "acl": {"read": ACLS[acl]}})
    except ApiError as exc:
        if not (exist_ok and exc.status == 409):
            raise
    click.echo(f"data://{'/'.join(parts)}", err=True)


@data.command("rm")
@click.argument("path")
@click.option("-f", "--force", is_flag=True, help="Delete a collection even if it holds files.")
@server_options
def rm(path: str, force: bool, **conn: str | None) -> None:
    """Delete a file, or a collection (only if empty, unless --force)."""
    api = _api(conn)
    try:
        result = api.json("DELETE", _url(path), params={"force": "true"} if force else None)
    except ApiError as exc:
        if exc.status == 409:
            raise click.ClickException(f"{exc.message}\n\nhint: `modelport data rm --force {path}` deletes it "
                                       "with its files") from None
        raise
    deleted = result["result"]["deleted"]
    click.echo(f"deleted {path} ({deleted} file{'' if deleted == 1 else 's'})", err=True)


def _upload(api: Api, source: str, destination: str, progress: bool) -> None:
    parts = _parts(destination)
    if len(parts) == 2 or destination.endswith("/"):
        if source == "-":
            raise click.UsageError("uploading stdin needs a file name: data://OWNER/COLLECTION/FILE")
        parts = [*parts[:2], Path(source).name]
    if len(parts) != 3:
        raise click.UsageError(f"{destination} is not a file or collection path")
    target = "data://" + "/".join(parts)
    with _open_source(source) as (stream, size):
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        md5 = BackgroundMd5()
        with _progress(size, f"uploading {target}", progress) as advance:
            response = api.request("PUT", _url(target), content=_chunks(stream, advance, md5), headers=headers,
                                   retries=0)
        _checked(response)
    stored, sent = response.headers.get("etag", "").strip('"'), md5.hexdigest()
    if stored and stored != sent:
        raise click.ClickException(f"{target}: the server stored md5 {stored}, the bytes sent have md5 "
                                   f"{sent}; upload again")
    click.echo(response.json()["result"], err=True)


def _download(api: Api, source: str, destination: str, progress: bool) -> None:
    parts = _parts(source)
    if len(parts) != 3:
        raise click.UsageError(f"{source} is not a file path: expected data://OWNER/COLLECTION/FILE")
    with _get(api, source) as response:
        size = int(response.headers["content-length"]) if "content-length" in response.headers else None
        expected = response.headers.get("etag", "").strip('"')
        md5 = BackgroundMd5()
        with _open_target(destination, parts[2]) as out, _progress(size, f"downloading {source}", progress) as advance:
            for chunk in response.iter_bytes(CHUNK):
                md5.update(chunk)
                out.write(chunk)
                advance(len(chunk))
            received = md5.hexdigest()
            if expected and received != expected:
                raise click.ClickException(f"{source}: downloaded bytes have md5 {received}, the server "
                                           f"says {expected}; nothing was written, try again")


@contextmanager
def _get(api: Api, path: str) -> Iterator[httpx.Response]:
    try:
        with api.client.stream("GET", _url(path)) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response.status_code, error_message(response))
            yield response
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach {api.endpoint.api}: {exc}") from None


@contextmanager
def _open_source(source: str) -> Iterator[tuple[IO[bytes], int | None]]:
    if source == "-":
        yield sys.stdin.buffer, None
        return
    path = Path(source)
    if not path.is_file():
        raise click.ClickException(f"{source}: no such file")
    with path.open("rb") as stream:
        yield stream, path.stat().st_size


@contextmanager
def _open_target(destination: str, name: str) -> Iterator[IO[bytes]]:
    if destination == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(destination)
    if target.is_dir():
        target = target / name
    elif destination.endswith(("/", os.sep)):
        raise click.ClickException(f"{destination}: no such folder")
    if not target.parent.is_dir():
        raise click.ClickException(f"{destination}: folder {target.parent} does not exist")
    # mkstemp makes the file 0600: keep the mode of the file it replaces, or give a new file the usual one.
    mode = target.stat().st_mode & 0o7777 if target.is_file() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _progress(size: int | None, label: str, enabled: bool) -> Iterator[Any]:
    if not enabled or size is None or size < PROGRESS_BYTES or not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=size, label=label, file=sys.stderr, show_eta=True) as bar:
        yield bar.update


def _chunks(stream: IO[bytes], advance: Any, md5: Any) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        md5.update(chunk)
        advance(len(chunk))
        yield chunk


class BackgroundMd5:
    """md5 of a byte stream, computed on another thread while this one moves the bytes (hashlib
    releases the GIL): a transfer takes about as long as the slower of the two, not their sum."""

    PENDING = 4  # chunks held for hashing at most

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="md5")  # one thread keeps the order
        self._pending: deque[Future[None]] = deque()

    def update(self, chunk: bytes) -> None:
        self._pending.append(self._pool.submit(self._md5.update, chunk))
        while len(self._pending) > self.PENDING:
            self._pending.popleft().result()

    def hexdigest(self) -> str:
        while self._pending:
            self._pending.popleft().result()
        self._pool.shutdown()
        return self._md5.hexdigest()


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        message = response.headers.get("x-error-message") if response.request.method == "HEAD" else None
        raise ApiError(response.status_code, message or error_message(response))
    return response


def _api(conn: dict[str, str | None], timeout: float = 60.0) -> Api:
    return api_from(conn.get("profile"), conn.get("api"), conn.get("api_key"), timeout=timeout)


def _parts(path: str) -> list[str]:
    return [p for p in path.removeprefix("data://").split("/") if p]


def _url(path: str) -> str:
    return "/v1/data/" + quote(path.removeprefix("data://").strip("/"), safe="/.")
