"""What an algorithm sees and what comes back: inputs, results, errors, output, environment."""

from __future__ import annotations

import asyncio
import base64

import pytest

from modelport.runtime import CallOutcome, WorkerPool, WorkerSpec

from .conftest import AlgorithmFactory

ECHO = """
    def apply(input):
        return input
"""


async def call_all(spec: WorkerSpec, *calls: tuple, **options: object) -> list[CallOutcome]:
    async with WorkerPool(spec) as pool:
        return [await pool.call(ct, data, **options) for ct, data in calls]  # type: ignore[arg-type]


def test_json_text_and_binary_round_trip(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(ECHO)
    payload = {"a": [1, 2.5, None, True], "b": "é"}
    out = asyncio.run(
        call_all(spec, ("json", payload), ("json", 42), ("text", "hello é"), ("binary", b"\x00\xff"))
    )
    assert [(o.error, o.content_type, o.result) for o in out] == [
        (None, "json", payload),
        (None, "json", 42),
        (None, "text", "hello é"),
        (None, "binary", base64.b64encode(b"\x00\xff").decode()),
    ]
    assert all(o.duration > 0 and o.stdout is None for o in out)


def test_result_types_follow_the_python_type(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        def apply(input):
            return {"str": "text", "bytes": b"raw", "bytearray": bytearray(b"ba"), "list": [1]}[input]
    """)
    out = asyncio.run(call_all(spec, *[("text", k) for k in ("str", "bytes", "bytearray", "list")]))
    assert [(o.content_type, o.result) for o in out] == [
        ("text", "text"),
        ("binary", base64.b64encode(b"raw").decode()),
        ("binary", base64.b64encode(b"ba").decode()),
        ("json", [1]),
    ]


def test_binary_input_arrives_as_bytes(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        def apply(input):
            return [type(input).__name__, len(input)]
    """)
    (out,) = asyncio.run(call_all(spec, ("binary", bytes(range(256)) * 1000)))
    assert out.result == ["bytes", 256000]


def test_stdout_is_captured_per_call_when_asked(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        import os, sys
        print("printed while loading")
        def apply(input):
            print("print", input)
            sys.stderr.write("stderr\\n")
            os.write(1, b"fd1\\n")
            os.write(2, b"fd2\\n")
            return input
    """)

    async def scenario() -> list[CallOutcome]:
        async with WorkerPool(spec) as pool:
            return [
                await pool.call("text", "one", want_stdout=True),
                await pool.call("text", "two"),
                await pool.call("text", "three", want_stdout=True),
            ]

    one, two, three = asyncio.run(scenario())
    assert one.stdout == "print one\nstderr\nfd1\nfd2\n"
    assert two.stdout is None
    assert three.stdout == "print three\nstderr\nfd1\nfd2\n"


def test_printing_100_mb_neither_blocks_nor_is_kept(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        import os, sys
        def apply(input):
            line = "x" * 1023 + "\\n"
            block = line * 1024
            for _ in range(50):
                sys.stdout.write(block)      # 50 MiB through Python
                os.write(2, block.encode())  # 50 MiB at the C level
            return "done"
    """)
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (out,) = asyncio.run(call_all(spec, ("text", ""), want_stdout=True, timeout=60))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert out.result == "done"
    assert out.stdout is not None
    assert out.stdout.startswith("x" * 1023 + "\n")
    assert len(out.stdout) < (1 << 20) + 200
    assert "output truncated: 103809024 more bytes not kept" in out.stdout
    assert grown_kib < 30 * 1024, f"the parent grew by {grown_kib} KiB"


def test_output_limit_is_configurable(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(
        """
        def apply(input):
            print("a" * 99)
    """,
        output_limit=10,
    )
    (out,) = asyncio.run(call_all(spec, ("json", None), want_stdout=True))
    assert out.stdout == "aaaaaaaaaa\n[modelport: output truncated: 90 more bytes not kept]\n"


def test_exception_becomes_an_error_and_the_worker_stays_warm(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        import os
        class InputError(Exception):
            pass
        class Custom(Exception):
            error_type = "ThirdPartyCredentialError"
        def apply(input):
            if input == "value":
                raise ValueError("bad value")
            if input == "input":
                raise InputError("missing field")
            if input == "custom":
                raise Custom("nope")
            if input == "timeout":
                raise TimeoutError("from the algorithm")
            return os.getpid()
    """)
    pid, value, input_error, custom, timeout, pid_after = asyncio.run(
        call_all(spec, *[("text", x) for x in ("pid", "value", "input", "custom", "timeout", "pid")])
    )
    assert value.error is not None
    assert value.error["message"] == "bad value"
    assert value.error["error_type"] == "AlgorithmError"
    stack = value.error["stacktrace"]
    assert stack.startswith("Traceback (most recent call last):\n")
    assert 'algo.py", line 9, in apply' in stack and "ValueError: bad value" in stack
    assert "runner.py" not in stack
    assert input_error.error is not None and input_error.error["error_type"] == "InputError"
    assert custom.error is not None and custom.error["error_type"] == "ThirdPartyCredentialError"
    # TimeoutError is reserved for the platform's own timeout
    assert timeout.error is not None and timeout.error["error_type"] == "AlgorithmError"
    assert pid.result == pid_after.result


def test_result_that_is_not_json_serialisable(algorithm: AlgorithmFactory) -> None:
    spec = algorithm("""
        class Model:
            pass
        def apply(input):
            return {"set": {1, 2}, "object": [Model()]}[input]
    """)
    as_set, as_object = asyncio.run(call_all(spec, ("text", "set"), ("text", "object")))
    for outcome, name in ((as_set, "set"), (as_object, "Model")):
        assert outcome.error is not None
        assert outcome.error["error_type"] == "AlgorithmError"
        assert outcome.error["message"] == (
            f"apply() returned a result that cannot be serialised as JSON: Object of type {name} is not JSON serializable"
        )


def test_import_failure_is_a_loading_error_for_every_call_without_respawning(
    algorithm: AlgorithmFactory, tmp_path
) -> None:
    log = tmp_path / "imports.log"
    spec = algorithm(f"""
        with open({str(log)!r}, "a") as f:
            f.write("imported\\n")
        import not_installed_anywhere
        def apply(input):
            return input
    """)

    async def scenario() -> tuple[list[CallOutcome], object]:
        async with WorkerPool(spec, max_workers=3) as pool:
            outs = list(await asyncio.gather(*(pool.call("text", "x") for _ in range(5))))
            outs.append(await pool.call("text", "again"))
            return outs, pool.stats()

    outs, stats = asyncio.run(scenario())
    for out in outs:
        assert out.error is not None
        assert out.error["error_type"] == "LoadingError"
        assert out.error["message"] == (
            "loading the algorithm failed: ModuleNotFoundError: No module named 'not_installed_anywhere'"
        )
        assert 'algo.py", line 4, in <module>' in out.error["stacktrace"]
    assert log.read_text() == "imported\n", "a failed build must not be respawned"
    assert stats.workers == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\n", "src/algo.py defines no apply(input) function"),
        ("import sys\nsys.exit(4)\n", "loading the algorithm failed: SystemExit: 4"),
        ("import os\nos._exit(5)\n", "the algorithm's worker process exited with code 5 while loading"),
    ],
)
def test_other_load_failures(algorithm: AlgorithmFactory, code: str, message: str) -> None:
    (out,) = asyncio.run(call_all(algorithm(code), ("text", "x")))
    assert out.error is not None
    assert out.error["error_type"] == "LoadingError"
    assert message in out.error["message"]


def test_missing_entry_file(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(ECHO)
    spec = WorkerSpec(spec.python, spec.workdir, "other")
    (out,) = asyncio.run(call_all(spec, ("text", "x")))
    assert out.error is not None and out.error["error_type"] == "LoadingError"
    assert "src/other.py not found in" in out.error["message"]


@pytest.mark.parametrize("with_init", [True, False])
def test_helpers_in_src_import_both_ways(algorithm: AlgorithmFactory, with_init: bool) -> None:
    spec = algorithm(
        """
        from helper import shout
        from src.helper import shout as shout_too
        def apply(input):
            return shout(input) + shout_too(input)
        """,
        files={"src/helper.py": "def shout(s):\n    return s.upper()\n"},
        init=with_init,
    )
    (out,) = asyncio.run(call_all(spec, ("text", "hi")))
    assert out.result == "HIHI"


def test_server_environment_does_not_leak(
    algorithm: AlgorithmFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_SECRET_TEST", "s3cret")
    spec = algorithm(
        """
        import os
        def apply(input):
            return {k: os.environ.get(k) for k in ("MODELPORT_SECRET_TEST", "FROM_SPEC", "LANG")}
        """,
        env={"FROM_SPEC": "yes"},
    )
    (out,) = asyncio.run(call_all(spec, ("json", None)))
    assert out.result == {"MODELPORT_SECRET_TEST": None, "FROM_SPEC": "yes", "LANG": "C.UTF-8"}


def test_per_call_env_is_visible_during_the_call_only(algorithm: AlgorithmFactory) -> None:
    spec = algorithm(
        """
        import os, subprocess
        def apply(input):
            child = subprocess.run(["sh", "-c", "echo $ALGORITHMIA_API_KEY"], capture_output=True, text=True)
            return [os.environ.get("ALGORITHMIA_API_KEY"), child.stdout.strip(), os.environ.get("KEEP")]
        """,
        env={"KEEP": "spec", "ALGORITHMIA_API_KEY": "owner"},
    )

    async def scenario() -> list[CallOutcome]:
        async with WorkerPool(spec) as pool:
            return [
                await pool.call("json", None, env={"ALGORITHMIA_API_KEY": "caller1"}),
                await pool.call("json", None),
                await pool.call("json", None, env={"ALGORITHMIA_API_KEY": "caller2", "KEEP": "call"}),
                await pool.call("json", None),
            ]

    results = [o.result for o in asyncio.run(scenario())]
    assert results == [
        ["caller1", "caller1", "spec"],
        ["owner", "owner", "spec"],
        ["caller2", "caller2", "call"],
        ["owner", "owner", "spec"],
    ]


def test_bad_input_types_are_rejected_before_any_work(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> None:
        async with WorkerPool(algorithm(ECHO)) as pool:
            with pytest.raises(ValueError, match="content_type must be one of json, text, binary"):
                await pool.call("xml", "<a/>")
            with pytest.raises(TypeError, match="binary input must be bytes"):
                await pool.call("binary", "text")
            with pytest.raises(TypeError, match="text input must be str"):
                await pool.call("text", b"bytes")
            assert pool.stats().workers == 0

    asyncio.run(scenario())


def test_large_payloads_both_ways(algorithm: AlgorithmFactory) -> None:
    import os

    blob = os.urandom(10 * 1024 * 1024)  # bigger than the pipes: exercises partial writes
    (out,) = asyncio.run(call_all(algorithm(ECHO), ("binary", blob), timeout=60))
    assert out.content_type == "binary"
    assert base64.b64decode(out.result) == blob


def test_input_that_is_not_json_leaves_the_worker_usable(algorithm: AlgorithmFactory) -> None:
    async def scenario() -> CallOutcome:
        async with WorkerPool(algorithm(ECHO), max_workers=1) as pool:
            await pool.call("json", 1)
            with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
                await pool.call("json", {1, 2})
            assert pool.stats().idle == 1
            return await pool.call("json", 2)

    assert asyncio.run(scenario()).result == 2
