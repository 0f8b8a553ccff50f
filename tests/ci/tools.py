"""Helpers for the CI tests: the external tools (act, gitlab-ci-local, groovy), one cached virtualenv for
notebooks and model deploys, and throwaway git repositories made from the examples.

``scripts/test`` installs the tools; run directly without them, the tests that need one are skipped and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import CACHE, Server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# Debian's groovy needs JAVA_HOME; derive it from the java on PATH when it is not set
JAVA_HOME = os.environ.get("JAVA_HOME") or str(Path(os.path.realpath(shutil.which("java") or "/usr/bin/java")).parents[1])
NOTEBOOK_REQUIREMENTS = ["scikit-learn==1.9.1"]
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
                "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}


def tool(name: str) -> str:
    found = shutil.which(name)
    if name == "gitlab-ci-local":
        local = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "gitlab-ci-local"
        found = str(local) if local.exists() else found
    if not found:
        pytest.skip(f"{name} is not installed (scripts/test installs it)")
    return found


def notebook_env() -> Path:
    """A virtualenv with modelport (editable, so never stale), nbclient, ipykernel, scikit-learn and pip."""
    path = CACHE / "ci" / "notebook"
    spec = " ".join(["--seed", f"-e {ROOT}[notebook]", *NOTEBOOK_REQUIREMENTS])
    marker = path / ".complete"
    if not marker.exists() or marker.read_text() != spec:
        import uv

        uv_bin = uv.find_uv_bin()
        # --seed: pip too, as templates run `python3 -m pip install -r requirements.txt`
        subprocess.run([uv_bin, "venv", "-q", "--clear", "--seed", "-p", sys.executable, str(path)], check=True)
        subprocess.run([uv_bin, "pip", "install", "-q", "-p", str(path / "bin" / "python"), "-e",
                        f"{ROOT}[notebook]", *NOTEBOOK_REQUIREMENTS], check=True)
        marker.write_text(spec)
    return path


def action_checkout(target: Path) -> Path:
    """What `uses: modelport/modelport@v1` fetches, without caches and virtualenvs: action.yml, actions/, the
    package source."""
    if not (target / "action.yml").exists():
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        for name in ("action.yml", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, target / name)
        shutil.copytree(ROOT / "actions", target / "actions", ignore=ignore)
        shutil.copytree(ROOT / "src", target / "src", ignore=ignore)
    return target


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_IDENTITY})
    return proc.stdout.strip()


def example_repo(name: str, target: Path, *, owner: str, algo: str, replace: dict[str, str] | None = None) -> Path:
    """Copy ``examples/<name>`` to ``target`` as a fresh git repository on ``main`` with one commit; the
    algorithm in algorithmia.conf becomes ``owner/algo`` and each ``replace`` pair is applied to every file."""
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__", "model.pkl"))
    conf = target / "algorithmia.conf"
    if conf.exists():
        conf.write_text(json.dumps({"username": owner, "algoname": algo, "language": "python3"}, indent=4) + "\n")
    for path in target.rglob("*"):
        if path.is_file() and replace:
            text = path.read_text()
            for old, new in replace.items():
                text = text.replace(old, new)
            path.write_text(text)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", f"{name} example")
    return target


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_user(server: Server, name: str) -> tuple[str, str]:
    """A user with a full-access key (call, manage, read and write data): (username, key)."""
    with server.client() as c:
        r = c.post("/v1/users", json={"username": name, "password": "correct horse battery"})
        assert r.status_code == 201, r.text
        r = c.post(f"/v1/users/{name}/keys", json={"key_label": "ci", "permissions": {
            "allow_algo": True, "algo_acl": ["algo://*"], "allow_data": True, "allow_data_write": True,
            "allow_algo_management": True}})
        assert r.status_code == 201, r.text
        return name, r.json()["api_key"]


def published_versions(server: Server, key: str, owner: str, algo: str) -> list[dict[str, Any]]:
    with server.client(key) as c:
        r = c.get(f"/v1/algorithms/{owner}/{algo}/versions", params={"published": "true", "limit": 50})
        assert r.status_code == 200, r.text
        return list(r.json()["results"])
