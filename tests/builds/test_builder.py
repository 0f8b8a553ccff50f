from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelport.builds.builder import BuildOutcome, run_build
from modelport.builds.envs import EnvCache
from modelport.source.repos import Identity, RepoStore
from modelport.source.template import template_files

AUTHOR = Identity("Builder Test", "builder@example.com")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


@pytest.fixture
def repos(tmp_path: Path) -> RepoStore:
    return RepoStore(tmp_path / "repos")


def build(
    repos: RepoStore, envs: EnvCache, tmp_path: Path, changes: dict[str, str | None], algo: str = "hello"
) -> tuple[BuildOutcome, list[str]]:
    """Create alice/<algo> from the template with `changes` (None deletes a file) and build it."""
    files: dict[str, str | bytes] = dict(template_files("alice", algo))
    for path, text in changes.items():
        if text is None:
            files.pop(path, None)
        else:
            files[path] = text
    sha = repos.create("alice", algo, files, AUTHOR)
    lines: list[str] = []
    outcome = run_build(
        repos, envs, "alice", algo, sha, tmp_path / "build", lines.append, env_user=f"alice/{algo}/b1"
    )
    return outcome, lines


def test_template_builds(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    outcome, lines = build(repos, shared_envs, tmp_path, {})
    assert outcome.succeeded, lines
    assert outcome.error is None
    assert outcome.entry == "src.hello" and outcome.algoname == "hello" and outcome.style == "apply"
    assert outcome.env_key == shared_envs.key("")
    assert outcome.src_dir == tmp_path / "build" / "src"
    assert (tmp_path / "build" / "src" / "src" / "hello.py").is_file()
    assert outcome.python is not None and outcome.python.is_file()
    assert "alice/hello/b1" in shared_envs.users(outcome.env_key)
    assert all(STAMP.match(line) for line in lines)
    assert lines[-1].split(" ", 1)[1].startswith("build succeeded in ")


def test_syntax_error_names_file_and_line(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    source = "import os\n\ndef apply(input)\n    return input\n"
    outcome, lines = build(repos, shared_envs, tmp_path, {"src/hello.py": source})
    assert not outcome.succeeded
    assert outcome.error is not None
    assert 'File "src/hello.py", line 3' in outcome.error and "SyntaxError" in outcome.error
    log = "\n".join(lines)
    assert 'File "src/hello.py", line 3' in log and "SyntaxError" in log
    assert "build failed" in lines[-1]


def test_missing_apply(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    source = (
        "def run(input):\n    return input\n\n"
        "class Model:\n    def apply(self, input):\n        return input\n"
    )
    outcome, lines = build(repos, shared_envs, tmp_path, {"src/hello.py": source})
    assert not outcome.succeeded
    assert outcome.error == (
        "src/hello.py defines no apply(input) at module level and calls neither Algorithmia.handler(...) "
        "nor ADK(...): add `def apply(input):` to it"
    )
    assert lines[-2].endswith("error: " + outcome.error)


def test_missing_entry_module(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    conf = json.dumps({"username": "alice", "algoname": "other", "language": "python3"})
    outcome, _ = build(repos, shared_envs, tmp_path, {"algorithmia.conf": conf})
    assert not outcome.succeeded and outcome.error is not None
    assert outcome.error.startswith("entry module src/other.py not found")
    assert "algoname 'other' from algorithmia.conf" in outcome.error
    assert "(src/ has: __init__.py, hello.py, hello_test.py)" in outcome.error


def test_no_conf_falls_back_to_algorithm_name(
    repos: RepoStore, shared_envs: EnvCache, tmp_path: Path
) -> None:
    outcome, lines = build(repos, shared_envs, tmp_path, {"algorithmia.conf": None})
    assert outcome.succeeded and outcome.entry == "src.hello"
    assert any("no algorithmia.conf: using the algorithm name 'hello'" in line for line in lines)


def test_invalid_conf(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    outcome, _ = build(repos, shared_envs, tmp_path, {"algorithmia.conf": "{'algoname': 'x'}"})
    assert not outcome.succeeded and outcome.error is not None
    assert outcome.error.startswith("algorithmia.conf is not valid JSON")


@pytest.mark.parametrize(
    ("source", "style"),
    [
        (
            "import Algorithmia\n\ndef run(input):\n    return input\n\nAlgorithmia.handler(run).serve()\n",
            "handler",
        ),
        (
            (
                "from Algorithmia import ADK\n\ndef run(input):\n    return input\n\n"
                "if __name__ == '__main__':\n    ADK(run).init('x')\n"
            ),
            "adk",
        ),
        (
            (
                "try:\n    import json\nexcept ImportError:\n    pass\n"
                "else:\n    def apply(input):\n        return 1\n"
            ),
            "apply",
        ),
        ("from json import dumps as apply\n", "apply"),
        ("apply = lambda input: input\n", "apply"),
    ],
)
def test_entry_styles(
    repos: RepoStore, shared_envs: EnvCache, tmp_path: Path, source: str, style: str
) -> None:
    outcome, lines = build(repos, shared_envs, tmp_path, {"src/hello.py": source})
    assert outcome.succeeded, lines
    assert outcome.style == style


def test_requirements_installed(
    repos: RepoStore, shared_envs: EnvCache, tmp_path: Path, six_env: object
) -> None:
    outcome, lines = build(repos, shared_envs, tmp_path, {"requirements.txt": "six\n"})
    assert outcome.succeeded, lines
    assert outcome.env_key == shared_envs.key("six")


def test_requirements_failure(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    outcome, _ = build(repos, shared_envs, tmp_path, {"requirements.txt": "-r base.txt\n"})
    assert not outcome.succeeded and outcome.error is not None
    assert "requirements.txt line 1: '-r base.txt' is not supported" in outcome.error


def test_unknown_commit(repos: RepoStore, shared_envs: EnvCache, tmp_path: Path) -> None:
    repos.create("alice", "hello", template_files("alice", "hello"), AUTHOR)
    lines: list[str] = []
    outcome = run_build(repos, shared_envs, "alice", "hello", "a" * 40, tmp_path / "b", lines.append)
    assert not outcome.succeeded and outcome.error is not None
    assert outcome.error.startswith(f"checkout of {'a' * 40} failed")
