"""`modelport deploy` and `modelport test` against a real server: the gate, version bumps, release records,
build failures and configuration errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.ci.tools import commit_all, example_repo, new_user, published_versions
from tests.support import Server

GITHUB_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/sa",
              "GITHUB_RUN_ID": "77", "GITHUB_REF": "refs/heads/main"}


def set_case(repo: Path, number: int, **fields: object) -> None:
    path = repo / "TEST_CASES.json"
    cases = json.loads(path.read_text())
    cases[number - 1].update(fields)
    path.write_text(json.dumps(cases, indent=4) + "\n")


def test_gate_blocks_a_failing_case_then_publishes_and_bumps(server: Server, tmp_path: Path, unique: str) -> None:
    owner, key = new_user(server, f"gate{unique}")
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment")
    set_case(repo, 1, expected_output="negative")
    sha = commit_all(repo, "a wrong expectation")
    junit = tmp_path / "reports" / "junit.xml"

    r = server.cli("deploy", str(repo), "--create", "--junit", str(junit), key=key,
                   env={**GITHUB_ENV, "GITHUB_SHA": sha})
    assert r.returncode == 1, r.stderr
    assert "1 of 6 test cases did not pass (a happy review is positive); nothing published" in r.stderr
    assert 'result["label"] is "positive", expected "negative"' in r.stderr
    assert r.stdout == ""
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("6", "1")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["a happy review is positive"]
    assert published_versions(server, key, owner, "sentiment") == []

    set_case(repo, 1, expected_output="positive")
    sha = commit_all(repo, "fixed")
    r = server.cli("deploy", str(repo), key=key, env={**GITHUB_ENV, "GITHUB_SHA": sha})
    assert r.returncode == 0, r.stderr
    assert key not in r.stdout + r.stderr
    assert r.stdout.startswith(f"published {owner}/sentiment 0.1.0 (commit {sha[:12]}, build ")
    assert f"{server.url}/v1/algo/{owner}/sentiment/0.1.0" in r.stdout
    release = published_versions(server, key, owner, "sentiment")[0]["release"]
    assert release["commit"] == sha and release["ci_run_url"] == "https://github.example/acme/sa/actions/runs/77"
    assert (release["tests"]["passed"], release["tests"]["failed"], release["tests"]["total"]) == (6, 0, 6)

    for schema, expected in (("revision", "0.1.1"), ("major", "1.0.0")):
        (repo / "CHANGES").write_text(schema)
        commit_all(repo, schema)
        r = server.cli("deploy", str(repo), "--version-schema", schema, "--json", key=key)
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        assert result["version"] == expected and set(result["timings"]) == {"push", "build", "tests", "publish"}

    with server.client(key) as c:
        answer = c.post(f"/v1/algo/{owner}/sentiment/1.0.0", json={"texts": ["great"]}).json()
    assert answer["result"] == {"results": [{"label": "positive", "score": 1.0, "words": 1}]}

    # the same commit again: tested, not published twice
    r = server.cli("deploy", str(repo), key=key)
    assert r.returncode == 0 and "was already published" in r.stdout
    assert [v["version_info"]["semantic_version"] for v in published_versions(server, key, owner, "sentiment")] \
        == ["1.0.0", "0.1.1", "0.1.0"]


def test_modelport_test_against_a_build_and_a_version(server: Server, tmp_path: Path, unique: str) -> None:
    owner, key = new_user(server, f"tester{unique}")
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment")
    r = server.cli("deploy", str(repo), "--create", "--json", key=key)
    assert r.returncode == 0, r.stderr
    sha = json.loads(r.stdout)["commit"]
    summary = tmp_path / "summary.md"

    r = server.cli("test", "--algo", f"{owner}/sentiment", "--build", sha, "--junit", str(tmp_path / "j.xml"),
                   cwd=repo, key=key, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("PASS ") == 6
    assert r.stdout.endswith("test cases: 6 passed, 0 failed, 0 errors in " + r.stdout.rsplit(" in ", 1)[1])
    assert summary.read_text().startswith(f"### ✅ {owner}/sentiment/{sha} test cases: 6 passed")

    # algorithm from algorithmia.conf; a version instead of a build; EXCEPTION passes when the algorithm raises
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([
        {"case_name": "raises", "input": "", "type": "EXCEPTION"},
        {"case_name": "no words", "input": "", "expected_output": "x"},
        {"case_name": "missing key", "input": "good", "expected_output": 1, "tree": ["nope"]},
    ]))
    r = server.cli("test", "--version", "0.1.0", "--cases", str(broken), cwd=repo, key=key)
    assert r.returncode == 1
    assert "PASS  raises" in r.stdout
    assert "FAIL  no words" in r.stdout and "the algorithm raised an error: " in r.stdout
    assert 'tree step 1 ("nope"): key not found in object with keys ["label", "score", "words"]' in r.stdout

    r = server.cli("test", "--algo", f"{owner}/nothere", "--build", sha, cwd=repo, key=key)
    assert r.returncode == 1 and "ERROR" in r.stdout and "HTTP 404" in r.stdout


def test_build_failure_shows_the_log_and_publishes_nothing(server: Server, tmp_path: Path, unique: str) -> None:
    owner, key = new_user(server, f"broken{unique}")
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment")
    (repo / "requirements.txt").write_text("this is not a requirement !!\n")
    commit_all(repo, "bad requirements")
    r = server.cli("deploy", str(repo), "--create", key=key)
    assert r.returncode == 1, r.stderr
    assert "[build log]" in r.stderr and "[end of build log]" in r.stderr
    assert "error: build " in r.stderr and " failed" in r.stderr
    assert published_versions(server, key, owner, "sentiment") == []


def test_configuration_errors_and_missing_cases(server: Server, tmp_path: Path, unique: str) -> None:
    owner, key = new_user(server, f"config{unique}")
    repo = example_repo("serving", tmp_path / "repo", owner=owner, algo="sentiment")
    r = server.cli("deploy", str(repo), key=key)
    assert r.returncode == 2 and f"algorithm {owner}/sentiment does not exist" in r.stderr
    assert "hint: pass --create to create it" in r.stderr
    r = server.cli("deploy", str(repo), "--create", key="simWRONGKEY0123456789abcdef")
    assert r.returncode == 2, r.stderr

    (repo / "TEST_CASES.json").unlink()
    commit_all(repo, "no cases")
    r = server.cli("deploy", str(repo), "--create", "--require-tests", key=key)
    assert r.returncode == 2 and "TEST_CASES.json: file not found" in r.stderr
    r = server.cli("deploy", str(repo), "--create", key=key)
    assert r.returncode == 0, r.stderr
    assert "warning: no TEST_CASES.json" in r.stderr and f"published {owner}/sentiment 0.1.0" in r.stdout
    release = published_versions(server, key, owner, "sentiment")[0]["release"]
    assert release["tests"] == {"skipped": True}
