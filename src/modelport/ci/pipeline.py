"""``modelport deploy``: push a checkout's commit, wait for its build, test that build, publish a version.

Each step is a small function taking what it needs; ``deploy`` strings them together. Progress goes to the
``Progress`` stream (stderr); nothing is published unless every step before it succeeded. Exit codes come from
the exceptions in ``modelport.ci.errors``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.ci import builds, gitremote
from modelport.ci.context import CIContext, ci_context
from modelport.ci.errors import ConfigError, TestsFailed
from modelport.ci.gate import GateOptions, run_gate, tests_summary
from modelport.ci.progress import Progress
from modelport.ci.runner import Report
from modelport.ci.testcases import DEFAULT_SOURCE, TestCasesError, TestSuite, load_test_cases
from modelport.cli.http import Api, ApiError

VERSION_SCHEMAS = ("major", "minor", "revision")
CONF_FILE = "algorithmia.conf"


@dataclass(frozen=True)
class DeployOptions:
    checkout: Path
    algo: str | None = None  # OWNER/ALGO; None reads algorithmia.conf
    version_schema: str = "minor"
    create: bool = False
    require_tests: bool = False
    cases: Path | None = None  # default: TEST_CASES.json in the checkout
    release_url: str | None = None
    build_timeout: float = 1800.0
    gate: GateOptions = field(default_factory=GateOptions)
    release_extra: dict[str, Any] = field(default_factory=dict)  # e.g. the model a model deploy uploaded


@dataclass
class DeployResult:
    owner: str
    algo: str
    commit: str
    build_id: str | None = None
    version: str | None = None
    already_published: bool = False
    report: Report | None = None
    first_input: Any = "world"
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": f"{self.owner}/{self.algo}",
            "version": self.version,
            "commit": self.commit,
            "build_id": self.build_id,
            "already_published": self.already_published,
            "tests": tests_summary(self.report) if self.report else None,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


# --- configuration -----------------------------------------------------------------------------------------------


def read_algorithmia_conf(checkout: Path) -> tuple[str, str] | None:
    """(username, algoname) from the checkout's ``algorithmia.conf``, as Algorithmia's CI action read it."""
    path = checkout / CONF_FILE
    if not path.is_file():
        return None
    try:
        conf = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    user, name = (conf.get("username"), conf.get("algoname")) if isinstance(conf, dict) else (None, None)
    if not (isinstance(user, str) and user and isinstance(name, str) and name):
        raise ConfigError(f'{path}: needs "username" and "algoname" strings')
    return user, name


def resolve_algorithm(options: DeployOptions) -> tuple[str, str]:
    if options.algo:
        parts = options.algo.removeprefix("algo://").strip("/").split("/")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"--algo: expected OWNER/ALGO, got {options.algo!r}")
        return parts[0], parts[1]
    conf = read_algorithmia_conf(options.checkout)
    if conf is None:
        raise ConfigError(f"no algorithm given and no {CONF_FILE} in {options.checkout}",
                          hint=f"pass --algo OWNER/ALGO, or add {CONF_FILE} with username and algoname")
    return conf


def load_suite(options: DeployOptions, progress: Progress) -> TestSuite | None:
    """The validated test cases, or None to skip testing (no file, and tests not required)."""
    path = options.cases or options.checkout / DEFAULT_SOURCE
    if not path.exists():
        if options.require_tests or options.cases is not None:
            raise ConfigError(f"{path}: file not found", hint="add test cases, or drop --require-tests")
        progress.warn(f"no {DEFAULT_SOURCE} in {options.checkout}: testing skipped "
                      "(pass --require-tests to make this an error)")
        return None
    try:
        suite = load_test_cases(path)
    except TestCasesError as exc:
        raise ConfigError(str(exc)) from None
    for warning in suite.warnings:
        progress.warn(str(warning))
    return suite


# --- steps -------------------------------------------------------------------------------------------------------


def ensure_algorithm(api: Api, owner: str, algo: str, create: bool, progress: Progress) -> None:
    try:
        api.json("GET", f"/v1/algorithms/{owner}/{algo}")
        return
    except ApiError as exc:
        if exc.status in (401, 403):
            raise ConfigError(f"{api.endpoint.api} refused the API key for {owner}/{algo}: {exc.message}",
                              hint="the key must belong to the owner and allow algorithm management") from None
        if exc.status != 404:
            raise
    if not create:
        raise ConfigError(f"algorithm {owner}/{algo} does not exist on {api.endpoint.api}",
                          hint="pass --create to create it")
    api.json("POST", f"/v1/algorithms/{owner}", json={"name": algo, "details": {"label": algo}, "settings": {}})
    progress.info(f"created algorithm {owner}/{algo}")


def push_commit(api: Api, owner: str, algo: str, checkout: Path, sha: str,
                progress: Progress) -> tuple[gitremote.PushResult, set[str]]:
    """Push ``sha``; returns the push and the ids of the builds that existed before it."""
    before = {b["build_id"] for b in builds.recent_builds(api, owner, algo)}
    user = key_owner(api) or owner
    remote = gitremote.Remote(gitremote.remote_url(api.endpoint.api, owner, algo), user, api.endpoint.key or "")
    if gitremote.is_dirty(checkout):
        progress.warn(f"{checkout} has uncommitted changes; they are not deployed (only commit {sha[:12]} is)")
    result = gitremote.push(checkout, remote, sha)
    if result.rewritten:
        progress.warn(f"the checkout is shallow and the server refused a shallow push: pushed {result.sha[:12]}, "
                      f"a copy of {sha[:12]} without its history (check out with full history, e.g. "
                      "actions/checkout's fetch-depth: 0, to keep the sha)")
    progress.info(f"pushed {result.sha[:12]} to {remote.url} (master)" + (" (already there)"
                                                                           if result.up_to_date else ""))
    return result, before


def find_and_wait(api: Api, owner: str, algo: str, pushed: gitremote.PushResult, before: set[str],
                  timeout: float, progress: Progress) -> builds.Build:
    if pushed.up_to_date:
        # the server saw no new push; reuse the commit's last build, or ask for one
        existing = [b for b in builds.recent_builds(api, owner, algo) if b.get("commit_sha") == pushed.sha]
        if existing:
            build = existing[0]
        else:
            api.json("POST", f"/v1/algorithms/{owner}/{algo}/compile", json={})
            build = builds.find_build(api, owner, algo, pushed.sha, ignore=before, progress=progress)
    else:
        build = builds.find_build(api, owner, algo, pushed.sha, ignore=before, progress=progress)
    progress.info(f"build {build['build_id']} of {pushed.sha[:12]}: {build.get('status')}")
    build = builds.wait_for_build(api, owner, algo, build, timeout=timeout, progress=progress)
    progress.info(f"build {build['build_id']} succeeded")
    return build


def run_tests(api: Api, owner: str, algo: str, sha: str, suite: TestSuite, options: GateOptions,
               progress: Progress) -> Report:
    report = run_gate(api.client, owner, algo, sha, suite, options, progress.stream)
    if options.junit is not None:
        progress.info(f"JUnit report: {options.junit}")
    if not report.ok:
        failed = [r.case.name for r in report.results if r.status != "passed"]
        raise TestsFailed(f"{len(failed)} of {len(report.results)} test cases did not pass "
                          f"({', '.join(failed[:5])}{', …' if len(failed) > 5 else ''}); nothing published",
                          hint="fix the algorithm or TEST_CASES.json, commit and push again")
    return report


def publish(api: Api, owner: str, algo: str, build: builds.Build, schema: str,
            release: dict[str, Any]) -> dict[str, Any]:
    """Publish exactly ``build``, the one that was tested (modelport's ``build_id`` extension; Algorithmia
    always published the most recent successful build, which could be another commit)."""
    notes = f"Deployed by modelport from commit {build['commit_sha'][:12]}"
    if release.get("ci_run_url"):
        notes += f" ({release['ci_run_url']})"
    body = {"version_info": {"version_type": schema, "release_notes": notes}, "release": release,
            "build_id": build["build_id"]}
    return dict(api.json("POST", f"/v1/algorithms/{owner}/{algo}/versions", json=body))


def release_record(context: CIContext, sha: str, release_url: str | None, report: Report | None,
                   extra: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {**context.release_fields(), "commit": sha,
                              "tests": tests_summary(report) if report else {"skipped": True}}
    if release_url:
        record["ci_run_url"] = release_url
    if context.commit and context.commit != sha:
        record["source_commit"] = context.commit
    return record | extra


# --- the pipeline ------------------------------------------------------------------------------------------------


def deploy(api: Api, options: DeployOptions, progress: Progress, context: CIContext | None = None) -> DeployResult:
    context = context or ci_context()
    if options.version_schema not in VERSION_SCHEMAS:
        raise ConfigError(f"--version-schema must be one of {', '.join(VERSION_SCHEMAS)} "
                          f"(got {options.version_schema!r})")
    owner, algo = resolve_algorithm(options)
    sha = gitremote.head_commit(options.checkout)
    suite = load_suite(options, progress)
    result = DeployResult(owner, algo, sha, timings=progress.timings)
    if suite and suite.cases:
        result.first_input = suite.cases[0].input
    progress.info(f"deploying {options.checkout} (commit {sha[:12]}) to {owner}/{algo} on {api.endpoint.api}")

    with progress.step("push", f"push {sha[:12]}"):
        ensure_algorithm(api, owner, algo, options.create, progress)
        pushed, before = push_commit(api, owner, algo, options.checkout, sha, progress)
        result.commit = pushed.sha
    with progress.step("build", "build"):
        build = find_and_wait(api, owner, algo, pushed, before, options.build_timeout, progress)
        result.build_id = build["build_id"]
    if suite is not None:
        with progress.step("tests", f"test {len(suite.cases)} cases against {owner}/{algo}/{pushed.sha[:12]}"):
            result.report = run_tests(api, owner, algo, pushed.sha, suite, options.gate, progress)
    existing = (build.get("version_info") or {}).get("semantic_version")
    if existing:
        progress.info(f"commit {pushed.sha[:12]} is already published as {existing}; nothing to do")
        result.version, result.already_published = existing, True
        return result
    with progress.step("publish", f"publish ({options.version_schema})"):
        release = release_record(context, pushed.sha, options.release_url, result.report, options.release_extra)
        version = publish(api, owner, algo, build, options.version_schema, release)
        result.version = (version.get("version_info") or {}).get("semantic_version")
    return result


def call_instructions(api_url: str, result: DeployResult) -> str:
    """How to call the new version: curl, and the official Python client."""
    target = f"{result.owner}/{result.algo}/{result.version}"
    value = result.first_input
    if isinstance(value, str):
        content_type, body = "text/plain", value
    else:
        content_type, body = "application/json", json.dumps(value)
    curl = (f'curl -X POST -H "Authorization: Simple $MODELPORT_API_KEY" '
            f"-H {shlex.quote('Content-Type: ' + content_type)} -d {shlex.quote(body)} {api_url}/v1/algo/{target}")
    return "\n".join([
        "call it with curl:",
        f"  {curl}",
        "or with the Python client (pip install algorithmia):",
        "  import Algorithmia, os",
        f'  client = Algorithmia.client(os.environ["MODELPORT_API_KEY"], {json.dumps(api_url)})',
        f"  print(client.algo({json.dumps(target)}).pipe({value!r}).result)",
    ])


def key_owner(api: Api) -> str | None:
    try:
        return str(api.json("GET", "/v1/whoami").get("username") or "") or None
    except ApiError:
        return None
