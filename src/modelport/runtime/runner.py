"""The worker runner: runs inside the algorithm's own virtualenv and serves calls over pipes.

Owns: loading one algorithm (``src/<entry>.py`` under the current directory), calling it, and the
frame protocol shared with the parent (``worker.py`` imports the helpers below, so the protocol is
defined once). Standard library only; must run on Python 3.8+ because the algorithm's virtualenv
may use any Python the build picked.

Started as ``<venv>/bin/python runner.py <entry> <memory_limit_mb or 0>`` with cwd = the checkout
root, stdin = request pipe, stdout = response pipe, stderr = output pipe. At start-up the runner
moves the two protocol pipes to private descriptors (close-on-exec), points fd 0 at /dev/null and
fd 1 at fd 2, so everything the algorithm prints (``print``, C-level writes, subprocesses) goes to
the output pipe, which the parent drains and bounds. A stray print can never corrupt a frame.

Frames, both directions: 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object).

parent -> child, one per call::

    {"id": int, "content_type": "json"|"text"|"binary", "data": <value, base64 for binary>,
     "env": {name: value}}          # env is optional; set in os.environ for this call only

child -> parent::

    {"ready": true, "style": "apply"|"handler"|"adk"}              # once, after loading
    {"ready": true, "style": ..., "load_error": {<error>}}         # loading failed
    {"id": int, "result": <value>, "content_type": "json"|"text"|"binary"}
    {"id": int, "error": {"message": str, "stacktrace": str, "error_type": str}}

After a load failure the runner stays up and answers every call with its ``LoadingError``.
The runner exits when the request pipe closes. Algorithm styles supported unchanged: a module-level
``apply(input)``; ``Algorithmia.handler(apply, load).serve()``; ``ADK(apply, load).init()``. The
last two are intercepted with an import hook that patches ``Algorithmia.handler.Handler`` and
``adk.ADK.ADK`` as soon as those modules execute, so ``serve()``/``init()`` register the functions
with the runner and return instead of looping on stdin and writing to /tmp/algoout.
"""

from __future__ import annotations

import binascii
import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # without importing typing at run time: start-up time matters here
    from collections.abc import Callable
    from typing import Any

    Apply = Callable[[Any], Any]

HEADER_SIZE = 4
MAX_FRAME_BYTES = 1 << 30

LOADING_ERROR = "LoadingError"
# Algorithmia's documented error types that algorithm code may raise by class name.
STANDARD_ERROR_TYPES = frozenset(
    {
        "AlgorithmError",
        "EntityNotFoundError",
        "InitializationError",
        "InputError",
        "LanguageError",
        "OutOfGpuMemoryError",
        "OutOfMemoryError",
        "ParsingError",
        "ThirdPartyCredentialError",
        "TooLargeError",
        "UnsupportedError",
    }
)

_RUNNER_FILE = __file__
_memory_limit_mb = 0
_registered: list = []  # [(style, loader)]: set by the patched Handler.serve / ADK.init


# -- frames ------------------------------------------------------------------------------------


def encode_frame(message: dict) -> bytes:
    """Serialise one message as a frame (raises TypeError/ValueError if it is not JSON-able)."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return len(body).to_bytes(HEADER_SIZE, "big") + body


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# -- errors ------------------------------------------------------------------------------------


def error_type_of(exc: BaseException) -> str:
    """The Algorithmia ``error_type`` for an exception raised by algorithm code."""
    if isinstance(exc, MemoryError):
        return "OutOfMemoryError"
    declared = getattr(exc, "error_type", None)
    if isinstance(declared, str) and declared:
        return declared
    name = type(exc).__name__
    return name if name in STANDARD_ERROR_TYPES else "AlgorithmError"


def error_body(exc: BaseException, *, loading: bool = False) -> dict:
    """``{"message", "stacktrace", "error_type"}`` for an exception, without the runner's frames."""
    try:
        import traceback

        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == _RUNNER_FILE:
            tb = tb.tb_next
        stacktrace = "".join(traceback.format_exception(type(exc), exc, tb))
        traceback.clear_frames(exc.__traceback__)  # frees the algorithm's locals (big arrays) now
    except Exception:  # noqa: BLE001 - formatting can fail too (MemoryError); the message still goes out
        stacktrace = ""
    if isinstance(exc, MemoryError):
        limit = f" (memory limit {_memory_limit_mb} MiB)" if _memory_limit_mb else ""
        message = f"the algorithm ran out of memory{limit}"
    else:
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a broken __str__ in algorithm code
            message = ""
        message = message or type(exc).__name__
    if loading:
        return {
            "message": f"loading the algorithm failed: {type(exc).__name__}: {message}",
            "stacktrace": stacktrace,
            "error_type": LOADING_ERROR,
        }
    return {"message": message, "stacktrace": stacktrace, "error_type": error_type_of(exc)}


# -- interception of Algorithmia.handler and the ADK ---------------------------------------------


def _register(style: str, loader: Callable[[], Apply]) -> None:
    _registered[:] = [(style, loader)]


def _patch_handler_module(module: Any) -> None:
    """``Algorithmia.handler.Handler``: record apply/load instead of looping on stdin.

    The original ``__init__`` calls ``inspect.getargspec``, which Python 3.11 removed, so it is
    replaced too; ``load`` takes no parameters and ``apply`` gets ``load``'s result when truthy.
    """
    handler_class = getattr(module, "Handler", None)
    if handler_class is None:
        return

    def __init__(self: Any, apply_func: Apply, load_func: Callable[[], Any] = lambda: None) -> None:
        self.FIFO_PATH = "/tmp/algoout"
        self.apply_func = apply_func
        self.load_func = load_func
        self.load_result = None

    def serve(self: Any) -> None:
        def loader() -> Apply:
            self.load_result = state = self.load_func()
            if state:
                return lambda data: self.apply_func(data, state)
            return self.apply_func

        _register("handler", loader)

    handler_class.__init__ = __init__
    handler_class.serve = serve


def _patch_adk_module(module: Any) -> None:
    """``adk.ADK.ADK``: ``init()`` records the ADK instead of looping on stdin.

    Loading reuses the ADK's own ``load()`` (model manifest, ``load(modelData)`` arity); ``apply``
    gets ``load``'s result when it takes two parameters and the result is truthy, as in the ADK.
    The ``local_payload`` argument is ignored, as on the hosted platform.
    """
    adk_class = getattr(module, "ADK", None)
    if adk_class is None:
        return

    def init(self: Any, local_payload: Any = None, pprint: Any = print, mlops: bool = False) -> None:
        def loader() -> Apply:
            if mlops:
                self.mlops_init()
            self.load()
            if self.loading_exception is not None:
                raise self.loading_exception
            state = self.load_result
            if state and self.apply_arity == 2:
                return lambda data: self.apply_func(data, state)
            return self.apply_func

        _register("adk", loader)

    adk_class.init = init
    if hasattr(adk_class, "serve"):  # early ADK releases named the loop serve()
        adk_class.serve = init


_PATCHES = {"Algorithmia.handler": _patch_handler_module, "adk.ADK": _patch_adk_module}


class _PatchingLoader:
    """Wraps a module's real loader and patches the module right after it executes."""

    def __init__(self, loader: Any, patch: Callable[[Any], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _EntryPointHook:
    """Meta path finder that only acts on the modules named in ``_PATCHES``."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


# -- loading -----------------------------------------------------------------------------------


def _limit_memory(megabytes: int) -> None:
    import resource

    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    # soft == hard, so the algorithm cannot raise it again
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _import_entry(root: str, entry: str) -> Any:
    import importlib

    src = os.path.join(root, "src")
    if not os.path.isfile(os.path.join(src, entry + ".py")):
        raise FileNotFoundError(f"src/{entry}.py not found in {root}")
    # `src` without __init__.py is a namespace package, which a regular package called `src`
    # installed in site-packages would shadow; bind ours explicitly.
    if not os.path.isfile(os.path.join(src, "__init__.py")):
        import types

        package = types.ModuleType("src")
        package.__path__ = [src]
        sys.modules["src"] = package
    return importlib.import_module("src." + entry)


def load(root: str, entry: str) -> tuple[str, Apply]:
    """Import the algorithm and run its load step; returns (style, apply callable)."""
    # The runner's own folder must not shadow anything: the checkout root and src/ replace it.
    sys.path[0] = root
    sys.path.insert(1, os.path.join(root, "src"))
    sys.meta_path.insert(0, _EntryPointHook())
    module = _import_entry(root, entry)
    if _registered:
        style, loader = _registered[0]
        return style, loader()
    apply = getattr(module, "apply", None)
    if apply is None:
        raise LookupError(
            f"src/{entry}.py defines no apply(input) function and calls neither "
            "Algorithmia.handler(apply, load).serve() nor ADK(apply, load).init()"
        )
    if not callable(apply):
        raise TypeError(f"apply in src/{entry}.py is a {type(apply).__name__}, not a function")
    return "apply", apply


# -- serving -----------------------------------------------------------------------------------


def _set_env(env: dict, saved: dict) -> None:
    """Apply a call's environment, recording previous values in ``saved`` as it goes."""
    _forget_default_client()
    for name, value in env.items():
        saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value


def _restore_env(saved: dict) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _forget_default_client()


def _forget_default_client() -> None:
    # Algorithmia.algo()/file()/dir() cache a client holding the key read from the environment
    # when it was created; drop it so each call acts for its own caller.
    client_module = sys.modules.get("Algorithmia")
    if client_module is not None and getattr(client_module, "defaultClient", None) is not None:
        client_module.defaultClient = None


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - the algorithm may have replaced or closed them
            pass


def handle(request: dict, apply: Apply) -> bytes:
    """Run one call and return the response frame."""
    call_id = request.get("id")
    saved: dict = {}
    try:
        env = request.get("env")
        if env:
            _set_env(env, saved)
        content_type = request["content_type"]
        data = request["data"]
        if content_type == "binary":
            data = binascii.a2b_base64(data)
        elif content_type != "json" and content_type != "text":
            raise ValueError(f"unknown content_type {content_type!r}")
        result = apply(data)
        if isinstance(result, (bytes, bytearray)):
            encoded = binascii.b2a_base64(result, newline=False).decode("ascii")
            return encode_frame({"id": call_id, "result": encoded, "content_type": "binary"})
        kind = "text" if isinstance(result, str) else "json"
        try:
            return encode_frame({"id": call_id, "result": result, "content_type": kind})
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            message = f"apply() returned a result that cannot be serialised as JSON: {exc}"
            error = {"message": message, "stacktrace": "", "error_type": "AlgorithmError"}
            return encode_frame({"id": call_id, "error": error})
    except Exception as exc:  # noqa: BLE001 - whatever the algorithm raises is its call's error
        return encode_frame({"id": call_id, "error": error_body(exc)})
    finally:
        if saved:
            _restore_env(saved)
        _flush_std()


def _take_protocol_fds() -> tuple[int, int]:
    requests = os.dup(0)  # os.dup: close-on-exec, so subprocesses never see the protocol
    responses = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:  # keep print() in order with logging (stderr) and C-level writes
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    return requests, responses


def main(argv: list) -> int:
    global _memory_limit_mb
    entry = argv[1]
    _memory_limit_mb = int(argv[2]) if len(argv) > 2 else 0
    requests, responses = _take_protocol_fds()

    import faulthandler

    faulthandler.enable()  # a crash prints the Python stack into the output the parent keeps

    ready: dict = {"ready": True, "style": None}
    apply = None
    try:
        if _memory_limit_mb:
            _limit_memory(_memory_limit_mb)
        ready["style"], apply = load(os.getcwd(), entry)
    except BaseException as exc:  # SystemExit at import time is a load failure as well
        if isinstance(exc, KeyboardInterrupt):
            raise
        ready["load_error"] = error_body(exc, loading=True)
    _flush_std()
    _write_all(responses, encode_frame(ready))

    import traceback  # noqa: F401 - used by error_body; imported while idle, not in a call

    load_error = ready.get("load_error")
    with open(requests, "rb", buffering=1 << 16) as reader:
        while True:
            header = reader.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                return 0
            size = int.from_bytes(header, "big")
            if size > MAX_FRAME_BYTES:
                return 2
            body = reader.read(size)
            if len(body) < size:
                return 0
            request = json.loads(body)
            if load_error is not None:
                frame = encode_frame({"id": request.get("id"), "error": load_error})
            else:
                frame = handle(request, apply)
            _write_all(responses, frame)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
