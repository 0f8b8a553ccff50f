"""Jenkins cannot run here (no jenkins.war, no Docker): every Jenkinsfile gets a Groovy syntax check with the
Groovy 2.4 line Jenkins bundles, and the serving example's pipeline runs its `sh` steps in order, as Jenkins
would: in a detached checkout of GIT_COMMIT, with the job's variables, the `environment {}` block, and the
credential bound by `withCredentials`. The freestyle shell step runs the same way."""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.ci.tools import (
    JAVA_HOME,
    ROOT,
    example_repo,
    git,
    new_user,
    notebook_env,
    published_versions,
    tool,
)
from tests.support import Server

JENKINSFILES = [ROOT / "integrations" / "jenkins" / "Jenkinsfile", *sorted((ROOT / "examples").glob("*/Jenkinsfile"))]
PACKAGE = "modelport @ git+https://github.com/modelport/modelport@v1"


def test_jenkinsfiles_pass_a_groovy_syntax_check(tmp_path: Path) -> None:
    groovy = tool("groovy")
    check = ROOT / "integrations" / "jenkins" / "syntaxcheck.groovy"
    bad = tmp_path / "Jenkinsfile.bad"
    bad.write_text(JENKINSFILES[0].read_text().replace("stages {", "stages {{", 1))
    env = {**os.environ, "JAVA_HOME": JAVA_HOME}
    r = subprocess.run([groovy, str(check), *map(str, JENKINSFILES)], capture_output=True, text=True, env=env,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("OK ") == len(JENKINSFILES) == 3
    r = subprocess.run([groovy, str(check), str(bad)], capture_output=True, text=True, env=env, timeout=120,
                       check=False)
    assert r.returncode == 1 and "SYNTAX ERROR" in r.stdout


def sh_steps(jenkinsfile: str) -> list[str]:
    """The scripts of the `sh '''…'''` steps, as Groovy hands them to sh (a backslash-newline joins lines)."""
    return [body.replace("\\\n", "").replace("\\\\", "\\") for body in re.findall(r"sh '''(.*?)'''", jenkinsfile,
                                                                                      re.DOTALL)]


def environment_block(jenkinsfile: str) -> dict[str, str]:
    block = re.search(r"environment \{(.*?)\n    \}", jenkinsfile, re.DOTALL)
    assert block
    return dict(re.findall(r"^\s*(\w+) = '([^']*)'", block.group(1), re.MULTILINE))


def jenkins_workspace(repo: Path, target: Path, tmp: Path) -> dict[str, str]:
    """Clone as the git plugin does (detached at GIT_COMMIT) and return the variables Jenkins sets."""
    subprocess.run(["git", "clone", "-q", str(repo), str(target)], check=True)
    sha = git(target, "rev-parse", "HEAD")
    git(target, "checkout", "-q", "--detach", sha)
    # an agent where the install stage already ran: the venv exists for this MODELPORT_PACKAGE
    venv = tmp / "modelport-venv" / "bin"
    venv.mkdir(parents=True)
    for name in ("modelport", "pip", "python3"):
        (venv / name).symlink_to(notebook_env() / "bin" / name)
    return {"WORKSPACE": str(target), "WORKSPACE_TMP": str(tmp), "GIT_COMMIT": sha, "GIT_BRANCH": "origin/main",
            "GIT_URL": str(repo), "JENKINS_URL": "http://jenkins.example/", "JOB_NAME": "sentiment",
            "BUILD_NUMBER": "7", "BUILD_URL": "http://jenkins.example/job/sentiment/7/"}


def run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-xe", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env}, check=False)


@pytest.fixture
def jenkins_job(server: Server, tmp_path: Path, unique: str) -> tuple[str, str, Path, dict[str, str]]:
    owner, key = new_user(server, f"jk{unique}")
    with server.client(key) as c:
        assert c.post(f"/v1/algorithms/{owner}", json={"name": "sentiment"}).status_code == 201
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment",
                        replace={"https://modelport.example.com": server.url})
    env = jenkins_workspace(repo, tmp_path / "workspace", tmp_path / "workspace@tmp")
    (tmp_path / "workspace@tmp" / "modelport-venv" / ".package").write_text(PACKAGE + "\n")
    return owner, key, tmp_path / "workspace", env


def test_pipeline_sh_steps_deploy(server: Server, jenkins_job: tuple[str, str, Path, dict[str, str]]) -> None:
    owner, key, workspace, env = jenkins_job
    jenkinsfile = (workspace / "Jenkinsfile").read_text()
    env |= environment_block(jenkinsfile)
    assert env["MODELPORT_API"] == server.url and env["MODELPORT_PACKAGE"] == PACKAGE
    install, deploy = sh_steps(jenkinsfile)
    r = run_step(install, workspace, env)
    assert r.returncode == 0, r.stderr
    # withCredentials([string(credentialsId: 'modelport-api-key', variable: 'MODELPORT_API_KEY')])
    assert "credentialsId: 'modelport-api-key', variable: 'MODELPORT_API_KEY'" in jenkinsfile
    r = run_step(deploy, workspace, env | {"MODELPORT_API_KEY": key})
    assert r.returncode == 0, r.stderr
    assert key not in r.stdout + r.stderr
    versions = published_versions(server, key, owner, "sentiment")
    assert [v["version_info"]["semantic_version"] for v in versions] == ["0.1.0"]
    release = versions[0]["release"]
    assert release["commit"] == env["GIT_COMMIT"] and release["ci_run_url"] == env["BUILD_URL"]
    assert release["ci_system"] == "jenkins"
    # post { always { junit testResults: 'reports/modelport-junit.xml' } }
    assert "testResults: 'reports/modelport-junit.xml'" in jenkinsfile
    assert ET.parse(workspace / "reports" / "modelport-junit.xml").getroot().get("tests") == "6"


def test_freestyle_shell_step_deploys(server: Server, jenkins_job: tuple[str, str, Path, dict[str, str]]) -> None:
    owner, key, workspace, env = jenkins_job
    script = (ROOT / "integrations" / "jenkins" / "freestyle.sh").read_text()
    env |= {"MODELPORT_API": server.url, "MODELPORT_API_KEY": key, "VERSION_SCHEMA": "revision",
            "MODELPORT_PACKAGE": PACKAGE}
    r = run_step(script, workspace, env)
    assert r.returncode == 0, r.stderr
    assert [v["version_info"]["semantic_version"] for v in published_versions(server, key, owner, "sentiment")] \
        == ["0.0.1"]
    assert (workspace / "reports" / "modelport-junit.xml").exists()
