"""The GitLab templates, included by the examples' .gitlab-ci.yml, run by gitlab-ci-local with the shell
executor against a live server. Each project is copied to a temporary folder first: gitlab-ci-local runs
shell jobs in the project folder itself and leaves its state there."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.ci.tools import ROOT, commit_all, example_repo, new_user, notebook_env, published_versions, tool
from tests.support import Server

REMOTE = "remote: https://raw.githubusercontent.com/modelport/modelport/v1/integrations/gitlab/"


def gitlab_project(example: str, template: str, target: Path, owner: str, algo: str) -> Path:
    """The example with its remote include pointed at this checkout's template (gitlab.com is out of reach)."""
    repo = example_repo(example, target, owner=owner, algo=algo, replace={REMOTE: "local: "})
    shutil.copy(ROOT / "integrations" / "gitlab" / template, repo / template)
    commit_all(repo, "template")
    return repo


def run_pipeline(repo: Path, variables: dict[str, str], path: str | None = None) -> subprocess.CompletedProcess[str]:
    args = [tool("gitlab-ci-local"), "--force-shell-executor"]
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    env = {**os.environ, "PATH": f"{path}:{os.environ['PATH']}" if path else os.environ["PATH"]}
    return subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=900, env=env, check=False)


def test_serving_template_deploys_and_reports_junit(server: Server, tmp_path: Path, unique: str) -> None:
    tool("rsync")
    owner, key = new_user(server, f"gl{unique}")
    repo = gitlab_project("serving", "modelport.gitlab-ci.yml", tmp_path / "repo", owner, "sentiment")
    r = run_pipeline(repo, {"API_ADDRESS": server.url, "API_KEY": key, "ALGO_PUBLISH_SCHEMA": "major",
                            "MODELPORT_DEPLOY_ARGS": "--create"})
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "PASS  modelport-deploy" in r.stdout
    assert key not in r.stdout + r.stderr
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    versions = published_versions(server, key, owner, "sentiment")
    assert [v["version_info"]["semantic_version"] for v in versions] == ["1.0.0"]
    assert versions[0]["release"]["commit"] == sha and versions[0]["release"]["ci_system"] == "gitlab"
    junit = ET.parse(repo / "modelport-junit.xml").getroot()
    assert junit.get("tests") == "6" and junit.get("failures") == "0"


def test_serving_template_fails_the_job_on_a_failing_case(server: Server, tmp_path: Path, unique: str) -> None:
    tool("rsync")
    owner, key = new_user(server, f"glfail{unique}")
    repo = gitlab_project("serving", "modelport.gitlab-ci.yml", tmp_path / "repo", owner, "sentiment")
    cases = repo / "TEST_CASES.json"
    cases.write_text(cases.read_text().replace('"expected_output": 0.9', '"expected_output": 1.5'))
    commit_all(repo, "too strict")
    r = run_pipeline(repo, {"API_ADDRESS": server.url, "API_KEY": key, "ALGO_USER": owner,
                            "ALGO_NAME": "sentiment", "MODELPORT_DEPLOY_ARGS": "--create"})
    assert r.returncode == 1
    assert "FAIL  modelport-deploy" in r.stdout and "strong praise scores high" in r.stdout
    assert published_versions(server, key, owner, "sentiment") == []
    failures = [c.get("name") for c in ET.parse(repo / "modelport-junit.xml").getroot().iter("testcase")
                if c.find("failure") is not None]
    assert failures == ["strong praise scores high"]


def test_model_template_trains_and_publishes(server: Server, tmp_path: Path, unique: str) -> None:
    tool("rsync")
    venv = notebook_env()
    owner, key = new_user(server, f"glmodel{unique}")
    repo = gitlab_project("model-training", "modelport-model.gitlab-ci.yml", tmp_path / "repo", owner,
                          "iris_classifier")
    r = run_pipeline(repo, {"API_ADDRESS": server.url, "API_KEY": key, "ALGO_USER": owner,
                            "MODELPORT_DEPLOY_ARGS": "--create"}, path=str(venv / "bin"))
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    versions = published_versions(server, key, owner, "iris_classifier")
    assert [v["version_info"]["semantic_version"] for v in versions] == ["0.1.0"]
    assert versions[0]["release"]["tests"]["passed"] == 4
