"""The examples' GitHub workflows, run by `act` on this machine against a live server, with our actions
resolved from this checkout (`--local-repository`). actions/checkout, which would need github.com, is
replaced by a local stand-in (tests/ci/actions/checkout) that fetches the commit shallowly as it does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.ci.tools import (
    CACHE,
    action_checkout,
    example_repo,
    new_user,
    notebook_env,
    published_versions,
    tool,
)
from tests.support import Server

CHECKOUT = Path(__file__).resolve().parents[1] / "ci" / "actions" / "checkout"
# act runs with a throwaway HOME; uv keeps using the machine's cache so installs stay offline-fast
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # each source change installs a new venv there; drop the ones no recent run used
    for old in (CACHE / "ci" / "action").glob("*"):
        used = old / ".complete"
        if old.is_dir() and (not used.exists() or time.time() - used.stat().st_mtime > 3600):
            shutil.rmtree(old, ignore_errors=True)
    return action_checkout(tmp_path_factory.mktemp("modelport-action"))


def run_act(repo: Path, action: Path, home: Path, secrets: dict[str, str],
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    args = [tool("act"), "push", "-P", "ubuntu-latest=-self-hosted", "--no-cache-server",
            "--local-repository", f"modelport/modelport@v1={action}",
            "--local-repository", f"actions/checkout@v2.0.0={CHECKOUT}",
            "--env", f"MODELPORT_TEST_REPO={repo}",
            # one cached install of the action per source version, shared by every run
            "--env", f"MODELPORT_ACTION_VENV={CACHE / 'ci' / 'action'}"]
    for name, value in (env or {}).items():
        args += ["--env", f"{name}={value}"]
    for name, value in secrets.items():
        args += ["-s", f"{name}={value}"]
    home.mkdir(exist_ok=True)
    return subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=900, check=False,
                          env={**os.environ, "HOME": str(home), "UV_CACHE_DIR": UV_CACHE})


def test_serving_workflow_deploys_with_our_action(server: Server, tmp_path: Path, unique: str,
                                                  action_dir: Path) -> None:
    owner, key = new_user(server, f"gha{unique}")
    with server.client(key) as c:
        assert c.post(f"/v1/algorithms/{owner}", json={"name": "sentiment"}).status_code == 201
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment",
                        replace={"https://modelport.example.com": server.url})
    r = run_act(repo, action_dir, tmp_path / "home", {"mgmt_api_key": key})
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "Job succeeded" in r.stdout
    assert key not in r.stdout + r.stderr
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    versions = published_versions(server, key, owner, "sentiment")
    # version_schema: revision in the seed's workflow; the shallow checkout kept its sha (deepened from origin)
    assert [v["version_info"]["semantic_version"] for v in versions] == ["0.0.1"]
    assert versions[0]["version_info"]["git_hash"] == sha
    assert versions[0]["release"]["ci_system"] == "github"


def test_serving_workflow_fails_on_a_failing_case(server: Server, tmp_path: Path, unique: str,
                                                  action_dir: Path) -> None:
    owner, key = new_user(server, f"ghafail{unique}")
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment",
                        replace={"https://modelport.example.com": server.url, '"expected_output": -0.5':
                                 '"expected_output": -2'})
    with server.client(key) as c:
        assert c.post(f"/v1/algorithms/{owner}", json={"name": "sentiment"}).status_code == 201
    r = run_act(repo, action_dir, tmp_path / "home", {"mgmt_api_key": key})
    assert r.returncode == 1
    assert "a complaint scores low" in r.stdout and "nothing published" in r.stdout
    assert published_versions(server, key, owner, "sentiment") == []


def test_model_workflow_trains_uploads_and_publishes(server: Server, tmp_path: Path, unique: str,
                                                     action_dir: Path) -> None:
    notebook_env()  # the action installs into the same cached venv layout; warm uv's cache first
    owner, key = new_user(server, f"ghamodel{unique}")
    with server.client(key) as c:
        assert c.post(f"/v1/algorithms/{owner}", json={"name": "iris_classifier"}).status_code == 201
    repo = example_repo("model-training", tmp_path / "repo", owner=owner, algo="iris_classifier",
                        replace={"git_host: modelport.example.com": f"git_host: {server.url}"})
    secrets = {"ALGORITHMIA_API_KEY": key, "ALGORITHMIA_USERNAME": owner, "ALGORITHMIA_EMAIL": "ml@example.com",
               "ALGORITHMIA_PASSWORD": "correct horse battery"}
    r = run_act(repo, action_dir, tmp_path / "home", secrets)
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]
    assert key not in r.stdout + r.stderr
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    versions = published_versions(server, key, owner, "iris_classifier")
    assert [v["version_info"]["semantic_version"] for v in versions] == ["0.1.0"]
    release = versions[0]["release"]
    assert release["source_commit"] == sha
    assert release["model"]["filepath"] == f"{owner}/iris_classifier/model_{sha}.pkl"
    with server.client(key) as c:
        answer = c.post(f"/v1/algo/{owner}/iris_classifier/0.1.0", json={"features": [[5.1, 3.5, 1.4, 0.2]]})
        assert answer.json()["result"] == {"predictions": ["setosa"], "model_origin_commit": sha}
        listing = c.get(f"/v1/data/{owner}/iris_classifier").json()
    assert [f["filename"] for f in listing["files"]] == [f"model_{sha}.pkl"]
    manifest = json.loads(subprocess.run(
        ["git", "--git-dir", str(server.data_dir / "repos" / owner / "iris_classifier.git"), "show",
         "master:model_manifest.json"], capture_output=True, text=True, check=True).stdout)
    assert manifest["model_origin_commit_SHA"] == sha and manifest["model_origin_commit_msg"] == "model-training example"
