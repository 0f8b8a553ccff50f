"""Test support: a real modelport server process, and virtualenvs holding the official clients.

Nothing of modelport is mocked: the server is ``modelport server`` on 127.0.0.1, talked to over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CACHE = Path(os.environ.get("MODELPORT_TEST_CACHE", Path(__file__).resolve().parent.parent / ".cache" / "tests"))
KEY_RE = re.compile(r"^\s+(sim[A-Za-z0-9_-]{20,})\s*$", re.M)
# A PostgreSQL server (SQLAlchemy URL of its maintenance database) to run the servers on instead of
# SQLite: scripts/test sets it for its PostgreSQL pass.
POSTGRES = os.environ.get("MODELPORT_TEST_POSTGRES", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    admin_key: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str

    def stored(self, query: str) -> list[tuple[object, ...]]:
        """Rows of an SQL query run straight on the server's database, behind the API's back."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(sqlalchemy.text(query))]
        finally:
            engine.dispose()

    def stored_bytes(self) -> bytes:
        """All the database holds: SQLite's files (free pages and WAL included), or every row."""
        if self.database_url.startswith("sqlite"):
            return b"".join(p.read_bytes() for p in self.data_dir.glob("modelport.db*"))
        tables = [name for (name,) in self.stored("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return b"".join(repr(self.stored(f'SELECT * FROM "{table}"')).encode() for table in tables)

    def client(self, key: str | None = None, **kw: object) -> httpx.Client:
        key = self.admin_key if key is None else key
        headers = {"Authorization": f"Simple {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]

    def cli(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            key: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run the modelport CLI against this server (addresses through the environment, as CI does)."""
        full_env = {**os.environ, "MODELPORT_API": self.url, "MODELPORT_API_KEY": key or self.admin_key,
                    "XDG_CONFIG_HOME": str(self.data_dir.parent / "xdg"), **(env or {})}
        return subprocess.run([sys.executable, "-m", "modelport", *args], input=input, text=True,
                              capture_output=True, env=full_env, timeout=600, cwd=cwd)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None, port: int | None = None,
                 expect_key: bool = True) -> Server:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    let_accounts_through(data_dir)
    log_path = data_dir.parent / f"server-{port}.log"
    out = open(log_path, "wb")
    full_env = {**os.environ, "MODELPORT_WORKER_IDLE_SECONDS": "60", **(env or {})}
    if POSTGRES and "MODELPORT_DATABASE_URL" not in full_env:
        full_env["MODELPORT_DATABASE_URL"] = postgres_database(data_dir)
    database_url = full_env.get("MODELPORT_DATABASE_URL") or f"sqlite:///{data_dir.resolve() / 'modelport.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "modelport", "server", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdout=out, stderr=subprocess.STDOUT, env=full_env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()}")
    key = ""
    if expect_key:
        match = KEY_RE.search(log_path.read_text())
        assert match, log_path.read_text()
        key = match.group(1)
    return Server(url, key, data_dir, process, log_path, database_url)


def let_accounts_through(data_dir: Path) -> None:
    """pytest's temp folders are closed to other accounts (0700); a server running as root gives each
    algorithm an account of its own, which must get through to the data dir (o+x, no listing)."""
    if os.geteuid() != 0:
        return
    for path in data_dir.resolve().parents:
        mode = path.stat().st_mode
        if not mode & 0o001:
            path.chmod((mode & 0o7777) | 0o001)


def postgres_database(data_dir: Path) -> str:
    """The database of `data_dir` on the POSTGRES server, made on first use (a restart finds it again).

    Its collation is ICU's en-US, where 'a' sorts before 'B': code that relies on the database's
    own order for names (paging markers) shows it here, not on SQLite.
    """
    import psycopg

    name = "mp_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:20]
    with psycopg.connect(POSTGRES.replace("+psycopg", ""), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8 '
                         "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    return f"{POSTGRES.rsplit('/', 1)[0]}/{name}"


class ClientEnv:
    """A virtualenv with one of the official Algorithmia clients; runs scripts against a server."""

    def __init__(self, name: str, requirements: list[str]) -> None:
        self.path = CACHE / "clients" / name
        self.python = self.path / "bin" / "python"
        marker = self.path / ".complete"
        if not marker.exists() or marker.read_text() != " ".join(requirements):
            import uv

            uv_bin = uv.find_uv_bin()
            subprocess.run([uv_bin, "venv", "-q", "--clear", "-p", sys.executable, str(self.path)], check=True)
            subprocess.run([uv_bin, "pip", "install", "-q", "-p", str(self.python), *requirements], check=True)
            marker.write_text(" ".join(requirements))

    def run(self, server: Server, code: str, key: str | None = None, check: bool = True,
            **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
                    "ALGORITHMIA_API": server.url, "ALGORITHMIA_API_KEY": key or server.admin_key, **env}
        result = subprocess.run([str(self.python), "-c", textwrap.dedent(code)], capture_output=True, text=True,
                                env=full_env, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"client script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def json(self, server: Server, code: str, key: str | None = None, **env: str) -> object:
        """Run a script whose last stdout line is JSON, and return it parsed."""
        out = self.run(server, code, key=key, **env).stdout.strip().splitlines()
        return json.loads(out[-1])


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{result.stderr}")
    return result


def remote(server: Server, owner: str, name: str, user: str, secret: str) -> str:
    from urllib.parse import quote

    return server.url.replace("http://", f"http://{quote(user, safe='')}:{quote(secret, safe='')}@") + \
        f"/git/{owner}/{name}.git"


class Algo:
    """An algorithm on a test server with a local clone to commit and push from."""

    def __init__(self, server: Server, owner: str, name: str, key: str, workdir: Path,
                 create: bool = True, settings: dict | None = None) -> None:  # type: ignore[type-arg]
        self.server, self.owner, self.name, self.key = server, owner, name, key
        if create:
            with server.client(key) as c:
                r = c.post(f"/v1/algorithms/{owner}", json={"name": name, "settings": settings or {}})
                assert r.status_code == 201, r.text
        self.dir = workdir / name
        git(workdir, "clone", "-q", remote(server, owner, name, owner, key), str(self.dir))

    def push(self, files: dict[str, str], *, message: str = "change", branch: str = "master",
             force: bool = False) -> str:
        for rel, text in files.items():
            path = self.dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.dir, "add", "-A")
        git(self.dir, "commit", "-q", "--allow-empty", "-m", message)
        git(self.dir, "push", "-q", *(["-f"] if force else []), "origin", f"HEAD:{branch}")
        return git(self.dir, "rev-parse", "HEAD").stdout.strip()

    def source(self, code: str, requirements: str = "") -> str:
        """Push ``code`` as src/<name>.py (and requirements), return the commit."""
        return self.push({f"src/{self.name}.py": textwrap.dedent(code), "requirements.txt": requirements})

    def builds(self) -> list[dict]:  # type: ignore[type-arg]
        with self.server.client(self.key) as c:
            return c.get(f"/v1/algorithms/{self.owner}/{self.name}/builds").json()["results"]

    def wait_build(self, sha: str, timeout: float = 300) -> dict:  # type: ignore[type-arg]
        def finished():  # type: ignore[no-untyped-def]
            for b in self.builds():
                if b["commit_sha"] == sha and b["status"] != "in-progress":
                    return b
            return None

        return wait_until(finished, timeout=timeout, interval=0.05)

    def deploy(self, code: str, requirements: str = "") -> str:
        sha = self.source(code, requirements)
        build = self.wait_build(sha)
        assert build["status"] == "succeeded", self.log(build["build_id"])
        return sha

    def log(self, build_id: str) -> str:
        with self.server.client(self.key) as c:
            return c.get(f"/v1/algorithms/{self.owner}/{self.name}/builds/{build_id}/logs").json()["logs"]

    def publish(self, version_type: str = "minor", notes: str | None = None, **body: object) -> httpx.Response:
        info = {"version_type": version_type} | ({"release_notes": notes} if notes else {})
        with self.server.client(self.key) as c:
            return c.post(f"/v1/algorithms/{self.owner}/{self.name}/versions", json={"version_info": info, **body})

    def call(self, data: object = None, version: str | None = None, key: str | None = None,
             params: dict | None = None, **kw: object) -> httpx.Response:  # type: ignore[type-arg]
        path = f"/v1/algo/{self.owner}/{self.name}" + (f"/{version}" if version else "")
        with self.server.client(key or self.key) as c:
            if "content" in kw or "json" in kw:
                return c.post(path, params=params, **kw)  # type: ignore[arg-type]
            return c.post(path, json=data, params=params, **kw)  # type: ignore[arg-type]
