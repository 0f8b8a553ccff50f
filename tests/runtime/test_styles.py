"""Algorithms written for Algorithmia run unchanged, with the real ``algorithmia`` 2.0.5 and
``algorithmia-adk`` 1.2.4 packages installed in their virtualenv."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from modelport.runtime import CallOutcome, WorkerPool, WorkerSpec

from .conftest import AlgorithmFactory


async def call_texts(spec: WorkerSpec, *inputs: str, **options: object) -> list[CallOutcome]:
    async with WorkerPool(spec) as pool:
        return [await pool.call("text", x, **options) for x in inputs]  # type: ignore[arg-type]


@pytest.fixture
def real(algorithm: AlgorithmFactory, algorithmia_python: Path) -> AlgorithmFactory:
    def make(code: str, **options: object) -> WorkerSpec:
        return algorithm(code, python=algorithmia_python, **options)

    return make


def test_adk_with_load_and_globals(real: AlgorithmFactory) -> None:
    spec = real("""
        from Algorithmia import ADK

        def load():
            return {"greeting": "hello"}

        def apply(input, globals):
            return "{} {}".format(globals["greeting"], input)

        algorithm = ADK(apply, load)
        algorithm.init("Algorithmia")
    """)
    out = asyncio.run(call_texts(spec, "Jane", "Joe", want_stdout=True))
    assert [(o.result, o.content_type, o.stdout) for o in out] == [
        ("hello Jane", "text", ""),
        ("hello Joe", "text", ""),
    ]


def test_adk_from_adk_package_with_model_data_parameter(real: AlgorithmFactory) -> None:
    spec = real("""
        from adk import ADK

        def load(modelData):
            return {"manifest": modelData.available(), "type": type(modelData).__name__}

        def apply(input, globals):
            return [input, globals]

        ADK(apply, load).init()
    """)
    (out,) = asyncio.run(call_texts(spec, "x"))
    assert out.result == ["x", {"manifest": False, "type": "ModelData"}]


def test_adk_without_load(real: AlgorithmFactory) -> None:
    spec = real("""
        from Algorithmia import ADK

        def apply(input):
            if input == "fail":
                raise ValueError("bad input")
            return "hello " + input

        ADK(apply).init("world")
    """)
    ok, fail = asyncio.run(call_texts(spec, "world", "fail"))
    assert ok.result == "hello world"
    assert fail.error is not None
    assert (fail.error["error_type"], fail.error["message"]) == ("AlgorithmError", "bad input")


def test_adk_load_failure_is_a_loading_error(real: AlgorithmFactory) -> None:
    spec = real("""
        from Algorithmia import ADK

        def load():
            raise FileNotFoundError("model.pkl is missing")

        def apply(input, globals):
            return input

        ADK(apply, load).init()
    """)
    first, second = asyncio.run(call_texts(spec, "a", "b"))
    for out in (first, second):
        assert out.error is not None
        assert out.error["error_type"] == "LoadingError"
        assert out.error["message"] == "loading the algorithm failed: FileNotFoundError: model.pkl is missing"
        assert 'in load\n    raise FileNotFoundError("model.pkl is missing")' in out.error["stacktrace"]


def test_handler_with_load(real: AlgorithmFactory) -> None:
    spec = real("""
        import Algorithmia

        def load():
            return {"model": "loaded"}

        def apply(input, state):
            return {"input": input, "state": state}

        Algorithmia.handler(apply, load).serve()
    """)
    (out,) = asyncio.run(call_texts(spec, "x"))
    assert out.result == {"input": "x", "state": {"model": "loaded"}}


def test_handler_without_load(real: AlgorithmFactory) -> None:
    spec = real("""
        import Algorithmia

        def apply(input):
            return input[::-1]

        handler = Algorithmia.handler(apply)
        handler.serve()
    """)
    (out,) = asyncio.run(call_texts(spec, "abc"))
    assert out.result == "cba"


def test_clients_inside_apply_act_for_the_caller(real: AlgorithmFactory) -> None:
    spec = real(
        """
        import Algorithmia

        def apply(input):
            return [Algorithmia.client().apiKey, Algorithmia.getDefaultClient().apiKey,
                    Algorithmia.client().apiAddress]
        """,
        env={"ALGORITHMIA_API": "http://127.0.0.1:1"},
    )

    async def scenario() -> list[CallOutcome]:
        async with WorkerPool(spec) as pool:
            return [
                await pool.call("json", None, env={"ALGORITHMIA_API_KEY": "simA"}),
                await pool.call("json", None, env={"ALGORITHMIA_API_KEY": "simB"}),
            ]

    first, second = asyncio.run(scenario())
    assert first.result == ["simA", "simA", "http://127.0.0.1:1"]
    assert second.result == ["simB", "simB", "http://127.0.0.1:1"]
