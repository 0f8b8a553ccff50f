"""``modelport test``, ``modelport deploy`` and ``modelport deploy-model``: the CI commands.

Exit codes: 0 success, 1 a failure (a case did not pass, the build failed: nothing published), 2 a usage or
configuration error (bad flags, broken TEST_CASES.json, unknown algorithm). Progress and diagnostics go to
stderr; stdout carries the result (the test report, the published version, or ``--json``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from modelport.ci.errors import BuildFailed, ConfigError, DeployError
from modelport.ci.gate import GateOptions, run_gate
from modelport.ci.model_deploy import DEFAULT_EMAIL, DEFAULT_UPLOAD_PATH, ModelOptions, deploy_model
from modelport.ci.pipeline import (
    VERSION_SCHEMAS,
    DeployOptions,
    DeployResult,
    call_instructions,
    deploy,
    read_algorithmia_conf,
)
from modelport.ci.progress import Progress
from modelport.ci.testcases import DEFAULT_SOURCE, TestCasesError, load_test_cases
from modelport.cli.common import api_from, server_options, split_algo
from modelport.cli.http import Api

_SHA = re.compile(r"^[0-9a-f]{40}$")
_VERSION = re.compile(r"^\d+(\.(\d+|\*)){0,2}$|^latest(Private)?$")


class Failure(click.ClickException):
    """An error shown as ``error: …`` then ``hint: …``, ending the command with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1, hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.hint = hint

    def show(self, file: Any = None) -> None:
        text = f"error: {self.message}" + (f"\n\nhint: {self.hint}" if self.hint else "")
        click.echo(text, err=True)


def gate_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--retries", type=click.IntRange(0, 10), default=3, show_default=True,
                      help="Retries of a case after transport errors (connection refused, 5xx); never after "
                           "the algorithm's own error.")(fn)
    fn = click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
                      help="Seconds one call may take.")(fn)
    fn = click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
                      help="Cases run at the same time.")(fn)
    fn = click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
                      help="Write a JUnit XML report here (for Jenkins' junit step, GitLab's reports:junit).")(fn)
    return fn


def deploy_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON line.")(fn)
    fn = click.option("--build-timeout", type=click.FloatRange(min=1), default=1800.0, show_default=True,
                      help="Seconds to wait for the build.")(fn)
    fn = click.option("--release-url", envvar="MODELPORT_RELEASE_URL",
                      help="URL recorded in the release (default: the CI run's URL, when known).")(fn)
    fn = click.option("--require-tests", is_flag=True,
                      help="Fail (exit 2) when there is no TEST_CASES.json instead of skipping the tests.")(fn)
    fn = click.option("--create", is_flag=True, help="Create the algorithm if it does not exist.")(fn)
    fn = click.option("--version-schema", type=click.Choice(VERSION_SCHEMAS), default="minor", show_default=True,
                      help="Which part of the version to bump when publishing.")(fn)
    return gate_options(fn)


# --- modelport test ----------------------------------------------------------------------------------------------


@click.command("test")
@click.option("--algo", "algo_name", metavar="OWNER/ALGO",
              help="Algorithm to test.  [default: from algorithmia.conf beside the cases]")
@click.option("--build", "build_sha", metavar="SHA", help="Test the build of this commit (40 hex digits).")
@click.option("--version", "version", metavar="X.Y.Z", help="Test this published version.")
@click.option("--cases", type=click.Path(dir_okay=False, path_type=Path), default=Path(DEFAULT_SOURCE),
              show_default=True, help="The test cases.")
@gate_options
@server_options
def test(algo_name: str | None, build_sha: str | None, version: str | None, cases: Path, junit: Path | None,
         concurrency: int, timeout: float, retries: int, **conn: str | None) -> None:
    """Run TEST_CASES.json against a build or version of an algorithm.

    Prints each case as it finishes, writes --junit and, on GitHub Actions, the step summary. Exit 0 only if
    every case passed; 1 if one did not; 2 for a usage error or a broken TEST_CASES.json.
    """
    if build_sha and version:
        raise click.UsageError("--build and --version go one at a time")
    if build_sha and not _SHA.match(build_sha):
        raise click.BadParameter(f"expected a full commit sha (40 hex digits), got {build_sha!r}",
                                 param_hint="--build")
    if version and not _VERSION.match(version):
        raise click.BadParameter(f"expected a version like 1.2.0, got {version!r}", param_hint="--version")
    owner, algo = _test_target(algo_name, cases)
    try:
        suite = load_test_cases(cases)
    except TestCasesError as exc:
        _fail(str(exc), 2)
    for warning in suite.warnings:
        click.echo(f"warning: {warning}", err=True)
    api = _api(conn)
    options = GateOptions(concurrency=concurrency, timeout=timeout, retries=retries, junit=junit)
    report = run_gate(api.client, owner, algo, build_sha or version, suite, options, sys.stdout)
    if junit is not None:
        click.echo(f"JUnit report: {junit}", err=True)
    sys.exit(0 if report.ok else 1)


def _test_target(algo_name: str | None, cases: Path) -> tuple[str, str]:
    if algo_name:
        return split_algo(algo_name)
    try:
        conf = read_algorithmia_conf(cases.parent) or read_algorithmia_conf(Path("."))
    except ConfigError as exc:
        _fail(str(exc), 2)
    if conf is None:
        raise click.UsageError("which algorithm? pass --algo OWNER/ALGO (no algorithmia.conf found)")
    return conf


# --- modelport deploy --------------------------------------------------------------------------------------------


@click.command("deploy")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--algo", "algo_name", metavar="OWNER/ALGO",
              help="Algorithm to deploy to.  [default: username/algoname of PATH/algorithmia.conf]")
@click.option("--cases", type=click.Path(dir_okay=False, path_type=Path),
              help="Test cases.  [default: PATH/TEST_CASES.json]")
@deploy_options
@server_options
def deploy_cmd(path: Path, algo_name: str | None, cases: Path | None, **flags: Any) -> None:
    """Push PATH's commit, wait for its build, run its TEST_CASES.json, publish a version.

    Nothing is published unless the build succeeds and every case passes. Exit 0 published, 1 build or test
    failure, 2 usage or configuration error. CI context (commit, run URL) is read from GitHub Actions,
    GitLab CI/CD and Jenkins variables.
    """
    conn, as_json = _connection(flags), flags.pop("as_json")
    options = DeployOptions(checkout=path, algo=algo_name, cases=cases, **_deploy_fields(flags))
    api = _api(conn)
    _finish(api.endpoint.api, _run(lambda progress: deploy(api, options, progress)), as_json)


# --- modelport deploy-model --------------------------------------------------------------------------------------


@click.command("deploy-model")
@click.option("--workspace", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The model repository's checkout.  [default: $GITHUB_WORKSPACE, else .]")
@click.option("--algo", "algo_name", metavar="OWNER/ALGO", help="Algorithm serving the model.")
@click.option("--username", help="Algorithm owner (with --algoname, as Algorithmia's action takes them).")
@click.option("--algoname", help="Algorithm name; also the folder of serving code in the workspace.")
@click.option("--model-path", type=click.Path(path_type=Path), default=Path("model.pkl"), show_default=True,
              help="Model file, relative to the workspace; the notebook should write it.")
@click.option("--notebook-path", type=click.Path(path_type=Path), default=Path("model_training.ipynb"),
              show_default=True, help="Notebook to execute first (skipped if absent).")
@click.option("--upload-path", default=DEFAULT_UPLOAD_PATH, show_default=True,
              help="Data collection for the model file.")
@click.option("--algo-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Serving code to copy into the algorithm.  [default: WORKSPACE/ALGONAME]")
@click.option("--email", default=DEFAULT_EMAIL, show_default=True, help="Committer email of the deploy commit.")
@deploy_options
@server_options
def deploy_model_cmd(workspace: Path | None, algo_name: str | None, username: str | None, algoname: str | None,
                     model_path: Path, notebook_path: Path, upload_path: str, algo_dir: Path | None, email: str,
                     **flags: Any) -> None:
    """Train, upload and serve a model: execute the notebook, upload the model file, write the manifest into
    the algorithm's source with the serving code, then build, test and publish as `deploy` does."""
    if algo_name:
        owner, algo = split_algo(algo_name)
    elif username and algoname:
        owner, algo = username, algoname
    else:
        raise click.UsageError("pass --algo OWNER/ALGO, or --username and --algoname")
    conn, as_json = _connection(flags), flags.pop("as_json")
    workspace = workspace or Path(os.environ.get("GITHUB_WORKSPACE") or ".")
    options = ModelOptions(workspace=workspace, owner=owner, algo=algo, model_path=model_path,
                           notebook_path=notebook_path, upload_path=upload_path, algo_dir=algo_dir, email=email,
                           deploy=DeployOptions(checkout=workspace, **_deploy_fields(flags)))
    api = _api(conn)
    _finish(api.endpoint.api, _run(lambda progress: deploy_model(api, options, progress)), as_json)


# --- shared ------------------------------------------------------------------------------------------------------


def _api(conn: dict[str, str | None]) -> Api:
    return api_from(conn.get("profile"), conn.get("api"), conn.get("api_key"))


def _connection(flags: dict[str, Any]) -> dict[str, str | None]:
    return {name: flags.pop(name) for name in ("profile", "api", "api_key")}


def _deploy_fields(flags: dict[str, Any]) -> dict[str, Any]:
    gate = GateOptions(concurrency=flags["concurrency"], timeout=flags["timeout"], retries=flags["retries"],
                       junit=flags["junit"])
    return {"version_schema": flags["version_schema"], "create": flags["create"],
            "require_tests": flags["require_tests"], "release_url": flags["release_url"],
            "build_timeout": flags["build_timeout"], "gate": gate}


def _run(pipeline: Callable[[Progress], DeployResult]) -> DeployResult:
    progress = Progress()
    try:
        return pipeline(progress)
    except BuildFailed as exc:
        progress.info(f"[build log]\n{exc.log.rstrip()}\n[end of build log]")
        _fail(str(exc), exc.exit_code, exc.hint)
    except DeployError as exc:
        _fail(str(exc), exc.exit_code, exc.hint)
    except Failure:
        raise
    except click.UsageError:
        raise
    # the server refused a request (ApiError) or could not be reached: a failure, shown like the others
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)


def _finish(api_url: str, result: DeployResult, as_json: bool) -> None:
    _github_outputs(result)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    if result.already_published:
        click.echo(f"{result.owner}/{result.algo} {result.version} (commit {result.commit[:12]}) was already "
                   "published")
    else:
        click.echo(f"published {result.owner}/{result.algo} {result.version} "
                   f"(commit {result.commit[:12]}, build {result.build_id})")
    click.echo(call_instructions(api_url, result))


def _github_outputs(result: DeployResult) -> None:
    """Step outputs for a GitHub Actions workflow (``steps.<id>.outputs.version`` …)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as f:
        f.write(f"version={result.version or ''}\ncommit={result.commit}\nbuild_id={result.build_id or ''}\n")


def _fail(message: str, exit_code: int, hint: str | None = None) -> NoReturn:
    raise Failure(message, exit_code, hint)


__all__ = ["deploy_cmd", "deploy_model_cmd", "test"]
