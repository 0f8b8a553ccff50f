"""What the CI system tells a job about itself, read from its environment.

Each system names the same facts differently: GitHub Actions (``GITHUB_SHA``, ``GITHUB_SERVER_URL`` +
``GITHUB_REPOSITORY`` + ``GITHUB_RUN_ID``), GitLab CI/CD (``CI_COMMIT_SHA``, ``CI_JOB_URL``) and Jenkins with the
git plugin (``GIT_COMMIT``, ``BUILD_URL``). Outside CI every field is None and callers fall back to git.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CIContext:
    system: str | None = None  # "github", "gitlab", "jenkins"
    commit: str | None = None
    run_url: str | None = None
    repository: str | None = None
    ref: str | None = None
    commit_message: str | None = None

    def release_fields(self) -> dict[str, str]:
        """The parts worth keeping in a release record; empty values left out."""
        fields = {
            "ci_system": self.system,
            "ci_run_url": self.run_url,
            "source_repository": self.repository,
            "source_ref": self.ref,
        }
        return {k: v for k, v in fields.items() if v}


def ci_context(environ: Mapping[str, str] | None = None) -> CIContext:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        return env.get(name) or None

    if get("GITHUB_ACTIONS") or get("GITHUB_SHA"):
        server, repo, run = get("GITHUB_SERVER_URL"), get("GITHUB_REPOSITORY"), get("GITHUB_RUN_ID")
        url = f"{server.rstrip('/')}/{repo}/actions/runs/{run}" if server and repo and run else None
        # HEAD_COMMIT_MSG is what Algorithmia's model action asked workflows to pass
        return CIContext("github", get("GITHUB_SHA"), url, repo, get("GITHUB_REF"), get("HEAD_COMMIT_MSG"))
    if get("GITLAB_CI") or get("CI_COMMIT_SHA"):
        return CIContext("gitlab", get("CI_COMMIT_SHA"), get("CI_JOB_URL") or get("CI_PIPELINE_URL"),
                         get("CI_PROJECT_URL") or get("CI_PROJECT_PATH"),
                         get("CI_COMMIT_REF_NAME"), get("CI_COMMIT_MESSAGE"))
    if get("JENKINS_URL") or get("BUILD_URL") or get("GIT_COMMIT"):
        return CIContext("jenkins", get("GIT_COMMIT"), get("BUILD_URL"), get("GIT_URL"), get("GIT_BRANCH"), None)
    return CIContext()
