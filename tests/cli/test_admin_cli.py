"""Local administration commands work on a data dir with no server running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import Server


def mp(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True, text=True, input=input,
                          timeout=120)


def test_users_and_keys_offline(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    r = mp("users", "create", "carol", "--password-stdin", "--data-dir", d, input="s3cret-password\n")
    assert r.returncode == 0, r.stderr
    key = r.stdout.split("API key (shown once): ")[1].strip()
    r = mp("keys", "create", "carol", "--label", "ci", "--manage", "--data", "write", "--data-dir", d)
    assert r.returncode == 0 and r.stdout.strip().startswith("sim")
    r = mp("keys", "list", "carol", "--json", "--data-dir", d)
    listed = json.loads(r.stdout)
    assert [k["key_label"] for k in listed] == ["default-key", "ci"]
    assert key not in r.stdout
    r = mp("keys", "revoke", "carol", str(listed[1]["id"]), "--data-dir", d)
    assert r.returncode == 0
    assert [k["key_label"] for k in json.loads(mp("keys", "list", "carol", "--json", "--data-dir", d).stdout)] == [
        "default-key"]
    r = mp("users", "create", "carol", "--data-dir", d)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = mp("keys", "list", "nobody", "--data-dir", d)
    assert r.returncode == 1 and "No such user" in r.stderr


def test_local_revoke_reaches_running_server(server: Server) -> None:
    local = ("--data-dir", str(server.data_dir), "--database-url", server.database_url)
    r = mp("keys", "create", "admin", "--label", "soon-revoked", *local)
    key = r.stdout.strip()
    assert httpx.get(server.url + "/v1/algorithms/admin/none", headers={"Authorization": key}).status_code == 404
    listed = json.loads(mp("keys", "list", "admin", "--json", *local).stdout)
    key_id = next(k["id"] for k in listed if k["key_label"] == "soon-revoked")
    assert mp("keys", "revoke", "admin", str(key_id), *local).returncode == 0
    time.sleep(1.1)  # another process revoked it: the server's key cache holds entries for at most 1 s
    assert httpx.get(server.url + "/v1/algorithms/admin/none", headers={"Authorization": key}).status_code == 401


def test_login_profiles_and_env_override(server: Server, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env.pop("MODELPORT_API_KEY", None)
    env.pop("ALGORITHMIA_API_KEY", None)
    r = subprocess.run([sys.executable, "-m", "modelport", "login", "--api", server.url, "--key", server.admin_key,
                        "--profile", "local"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "xdg" / "modelport" / "config.json"
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    r = subprocess.run([sys.executable, "-m", "modelport", "algo", "info", "admin/none", "--profile", "local"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "No such algorithm" in r.stderr
    r = subprocess.run([sys.executable, "-m", "modelport", "login", "--api", server.url, "--key", "simwrong"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "refused this key" in r.stderr
    env["ALGORITHMIA_API_KEY"] = "simwrong"  # the environment wins over the profile
    r = subprocess.run([sys.executable, "-m", "modelport", "algo", "info", "admin/none", "--profile", "local"],
                       capture_output=True, text=True, env=env)
    assert "unknown or invalid API key" in r.stderr


def test_help_reads_well() -> None:
    for args in (["--help"], ["server", "--help"], ["keys", "create", "--help"], ["algo", "clone", "--help"]):
        r = mp(*args)
        assert r.returncode == 0 and "Usage:" in r.stdout
