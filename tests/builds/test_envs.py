from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import modelport
from modelport.builds.envs import Env, EnvBuildError, EnvCache, EnvNotFoundError, normalize_requirements


def test_normalize_requirements() -> None:
    text = """
    # a comment
    Six >= 1.16 , <2   # trailing comment
    Flask_SQLAlchemy[Async, dev]==3.0
    numpy==1.26.4 ; python_version   <  "3.13"
    pkg @ https://example.com/Pkg-1.0.whl#egg=Pkg
    --index-url   https://example.com/simple
    six>=1.16,<2
    """
    assert normalize_requirements(text) == [
        "--index-url https://example.com/simple",
        "flask-sqlalchemy[Async,dev]==3.0",
        'numpy==1.26.4; python_version<"3.13"',
        "pkg @ https://example.com/Pkg-1.0.whl#egg=Pkg",
        "six>=1.16,<2",
    ]
    assert normalize_requirements("\n# only comments\n\n") == []


@pytest.mark.parametrize(
    "line",
    [
        "-r other.txt",
        "-rother.txt",
        "-c c.txt",
        "-e .",
        "./pkg",
        "../pkg",
        "/abs/pkg",
        "file:///x.whl",
        "--requirement=x.txt",
        "--editable git+https://x/y",
    ],
)
def test_lines_that_refer_to_other_files_are_refused(line: str) -> None:
    with pytest.raises(EnvBuildError, match=r"line 2: .* is not supported"):
        normalize_requirements(f"six\n{line}\n")


def test_key_depends_on_normalised_requirements_and_python(envs: EnvCache) -> None:
    assert envs.key("six\n") == envs.key("  Six   # why\n\n") == envs.key(["six"])
    assert envs.key("six") != envs.key("six==1.17.0")
    assert envs.key("") == envs.key("# nothing\n")
    assert envs.python_tag.startswith(f"{sys.implementation.name}-{sys.version_info.major}.")


def _python_prefix(env: Env) -> str:
    return subprocess.run(
        [env.python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_no_requirements_is_almost_free(envs: EnvCache) -> None:
    started = time.monotonic()
    env = envs.ensure("")
    first = time.monotonic() - started
    started = time.monotonic()
    again = envs.ensure("# comments only\n\n")
    second = time.monotonic() - started
    assert again == env
    assert first < 5, f"empty environment took {first:.2f}s"
    assert second < 0.1, f"cached empty environment took {second:.3f}s"
    assert _python_prefix(env) == str(env.path)
    print(f"empty env: first {first * 1000:.0f} ms, cached {second * 1000:.1f} ms")


def test_same_requirements_are_reused_in_under_a_second(shared_envs: EnvCache, six_env: Env) -> None:
    lines: list[str] = []
    started = time.monotonic()
    env = shared_envs.ensure("SIX   # same thing, other spelling\n", lines.append)
    elapsed = time.monotonic() - started
    assert env == six_env
    assert elapsed < 1.0
    assert lines == [f"using cached environment {env.key}"]
    subprocess.run([env.python, "-c", "import six"], check=True)


def test_unknown_package_fails_with_uvs_message_and_leaves_nothing(envs: EnvCache) -> None:
    lines: list[str] = []
    with pytest.raises(EnvBuildError) as e:
        envs.ensure("modelport-no-such-package-4f1d2c==1.0\n", lines.append)
    message = str(e.value)
    assert "uv pip install failed" in message
    assert "modelport-no-such-package-4f1d2c was not found in the package registry" in message
    assert any("not found in the package registry" in line for line in lines)  # streamed to the log too
    assert envs.keys() == []
    assert list((envs.root / ".tmp").iterdir()) == []
    assert envs.get(envs.key("modelport-no-such-package-4f1d2c==1.0")) is None


def test_concurrent_ensure_builds_once(envs: EnvCache, six_env: Env) -> None:
    lines: list[str] = []
    results: list[Env] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        results.append(envs.ensure("six", lines.append))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert sum(line.startswith("building environment") for line in lines) == 1
    assert sum(line.startswith("using cached environment") for line in lines) == 3


_PROCESS = """
import sys, time
from pathlib import Path
from modelport.builds.envs import EnvCache
cache = EnvCache(Path(sys.argv[1]), sys.executable, uv_cache=Path(sys.argv[2]))
while not Path(sys.argv[3]).exists():
    time.sleep(0.001)
cache.ensure("six", print)
"""


def test_two_processes_build_once(tmp_path: Path, uv_cache: Path, six_env: Env) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(modelport.__file__).parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, str(tmp_path / "envs"), str(uv_cache), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # both are importing and waiting
    go.touch()
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(out.count("building environment") for out in outputs) == 1, outputs
    assert sum(out.count("using cached environment") for out in outputs) == 1, outputs


def test_usage_records_and_gc(envs: EnvCache) -> None:
    empty = envs.ensure("", user="alice/hello/build-1")
    envs.mark_used(empty.key, "alice/hello/build-2")
    envs.mark_used(empty.key, "bob/other/build-9")
    assert envs.users(empty.key) == {"alice/hello/build-1", "alice/hello/build-2", "bob/other/build-9"}
    with pytest.raises(EnvNotFoundError):
        envs.mark_used("0" * 32, "x")

    envs.release("alice/hello/", prefix=True)  # the algorithm was deleted
    assert envs.users(empty.key) == {"bob/other/build-9"}
    assert envs.gc() == []
    envs.release("bob/other/build-9")
    (envs.root / ".tmp" / f"{'f' * 32}.deadbeef").mkdir()  # left by a killed builder
    assert envs.gc() == [empty.key]
    assert envs.get(empty.key) is None and not empty.path.exists()
    assert list((envs.root / ".tmp").iterdir()) == []
    assert envs.ensure("") == empty  # rebuilt on demand
