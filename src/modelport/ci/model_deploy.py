"""``modelport deploy-model``: Algorithmia's model-deployment action (reference 6.2), finished.

From a model-training repository: execute the notebook, check the model file, upload it to a data collection as
``<stem>_<sha><ext>``, clone the algorithm's repository, copy the repository's ``<algoname>/`` folder into it,
write ``model_manifest.json`` (Algorithmia's keys) at its root, commit, and run the deploy pipeline on that
commit: build, test, publish. Unlike the original, any failing step stops the job with exit 1 before anything
is pushed, and a passing job ends with a published version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelport.ci import gitremote
from modelport.ci.context import CIContext, ci_context
from modelport.ci.errors import ConfigError, DeployError
from modelport.ci.notebook import execute_notebook
from modelport.ci.pipeline import DeployOptions, DeployResult, deploy, ensure_algorithm, key_owner
from modelport.ci.progress import Progress
from modelport.ci.upload import ensure_folder, md5_of, split_data_uri, upload_file
from modelport.cli.http import Api

MANIFEST = "model_manifest.json"
DEFAULT_UPLOAD_PATH = "data://$ALGORITHMIA_USERNAME/$ALGORITHMIA_ALGONAME"
DEFAULT_EMAIL = "githubactions@placeholder.email"


@dataclass(frozen=True)
class ModelOptions:
    workspace: Path
    owner: str
    algo: str
    model_path: Path  # relative to the workspace unless absolute
    notebook_path: Path | None = Path("model_training.ipynb")
    upload_path: str = DEFAULT_UPLOAD_PATH
    algo_dir: Path | None = None  # default: <workspace>/<algo>
    email: str = DEFAULT_EMAIL
    notebook_timeout: float = 1800.0
    # checkout and algo are filled in by deploy_model
    deploy: DeployOptions = field(default_factory=lambda: DeployOptions(checkout=Path(".")))


@dataclass(frozen=True)
class UploadedModel:
    filepath: str  # owner/collection/name, without data:// as Algorithmia's manifest has it
    md5: str
    size: int


def model_file_name(model: Path, sha: str) -> str:
    """``model.pkl`` + sha → ``model_<sha>.pkl``."""
    return f"{model.stem}_{sha}{model.suffix}"


def expand_upload_path(template: str, owner: str, algo: str) -> str:
    return template.replace("$ALGORITHMIA_USERNAME", owner).replace("$ALGORITHMIA_ALGONAME", algo)


def manifest(model: UploadedModel, sha: str, context: CIContext, message: str | None) -> dict[str, Any]:
    """The keys Algorithmia's action wrote, with the same meanings (reference 6.2, "Manifest")."""
    return {
        "model_filepath": model.filepath,
        "model_md5_hash": model.md5,
        "model_origin_commit_SHA": sha,
        "model_origin_commit_msg": message,
        "model_origin_repo": context.repository,
        "model_origin_ref": context.ref,
        "model_uploaded_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }


def run_notebook(options: ModelOptions, progress: Progress) -> None:
    if options.notebook_path is None:
        return
    path = _in_workspace(options, options.notebook_path)
    if not path.is_file():
        progress.info(f"no notebook at {path}: skipping notebook execution")
        return
    with progress.step("notebook", f"execute {path.name}"):
        cells = execute_notebook(path, path.parent, timeout=options.notebook_timeout)
        progress.info(f"executed {cells} code cells")


def upload_model(api: Api, options: ModelOptions, sha: str, progress: Progress) -> UploadedModel:
    model = _in_workspace(options, options.model_path)
    if not model.is_file():
        raise DeployError(f"model file not found at {model}",
                          hint="the notebook must write it there, or commit it to the repository")
    parts = split_data_uri(expand_upload_path(options.upload_path, options.owner, options.algo))
    with progress.step("upload", f"upload {model.name}"):
        digest = md5_of(model)
        ensure_folder(api, parts)
        filepath = upload_file(api, model, parts, model_file_name(model, sha))
        progress.info(f"uploaded data://{filepath} ({model.stat().st_size} bytes, md5 {digest})")
    return UploadedModel(filepath, digest, model.stat().st_size)


def prepare_source(api: Api, options: ModelOptions, target: Path, model_manifest: dict[str, Any],
                   context: CIContext, sha: str, progress: Progress) -> None:
    """Clone the algorithm into ``target``, copy the serving code in, write the manifest, commit."""
    with progress.step("source", f"prepare {options.owner}/{options.algo} source"):
        ensure_algorithm(api, options.owner, options.algo, options.deploy.create, progress)
        remote = gitremote.Remote(gitremote.remote_url(api.endpoint.api, options.owner, options.algo),
                                  key_owner(api) or options.owner, api.endpoint.key or "")
        gitremote.clone(remote, target)
        folder = options.algo_dir or options.workspace / options.algo
        if folder.is_dir():
            shutil.copytree(folder, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
            progress.info(f"copied {folder} into the algorithm's source")
        else:
            progress.warn(f"no folder {folder}: only the manifest changes in the algorithm's source")
        path = target / MANIFEST
        existing = _read_json(path)
        path.write_text(json.dumps(existing | model_manifest, indent=2) + "\n", encoding="utf-8")
        origin = f"{context.repository}@{sha[:12]}" if context.repository else sha[:12]
        gitremote.commit_all(target, f"Automated deployment via modelport: model from {origin}",
                             options.owner, options.email)


def deploy_model(api: Api, options: ModelOptions, progress: Progress,
                 context: CIContext | None = None) -> DeployResult:
    context = context or ci_context()
    sha = context.commit or _git_head(options.workspace)
    if sha is None:
        raise ConfigError(f"cannot tell which commit {options.workspace} is",
                          hint="run in a git checkout, or set GITHUB_SHA / CI_COMMIT_SHA / GIT_COMMIT")
    message = context.commit_message or _git_message(options.workspace)
    run_notebook(options, progress)
    model = upload_model(api, options, sha, progress)
    with tempfile.TemporaryDirectory(prefix="modelport-") as tmp:
        checkout = Path(tmp) / f"{options.algo}_CI"
        prepare_source(api, options, checkout, manifest(model, sha, context, message), context, sha, progress)
        extra = {**options.deploy.release_extra,
                 "model": {"filepath": model.filepath, "md5": model.md5, "size": model.size}}
        deploy_options = replace(options.deploy, checkout=checkout, algo=f"{options.owner}/{options.algo}",
                                 release_extra=extra)
        return deploy(api, deploy_options, progress, context=replace(context, commit=sha))


def _in_workspace(options: ModelOptions, path: Path) -> Path:
    return path if path.is_absolute() else options.workspace / path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _git_head(workspace: Path) -> str | None:
    try:
        return gitremote.head_commit(workspace)
    except ConfigError:
        return None


def _git_message(workspace: Path) -> str | None:
    proc = subprocess.run(["git", "-C", str(workspace), "log", "-1", "--format=%B"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None
