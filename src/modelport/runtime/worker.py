"""One worker process, seen from the parent (asyncio, Linux).

Owns: spawning ``runner.py`` with the algorithm's python in a clean environment and its own process
group, the frame protocol on the parent side (frame format: see ``runner.py``), draining and
bounding what the algorithm prints, call timeouts, and telling apart how a process ended.

States: ``NEW -> STARTING -> READY <-> BUSY``; any of them ``-> STOPPING -> DEFUNCT``. The runner
serves one call at a time, but a BUSY worker may be handed more calls (pipelining): their frames
wait in the request pipe and each one starts -- its timeout clock included -- when the answer before
it arrives. A call that wants its output is never pipelined, nor is anything sent behind it, so the
output pipe holds only its output. When the process dies, the running call gets the error and the
calls queued behind it, which never started, are handed back (``take_unstarted``). The worker never raises for algorithm trouble: every call's future resolves to a
``CallOutcome``, with an error when the algorithm raised (the worker stays READY), the call timed
out (``TimeoutError``; the process group is killed), or the process died (``SystemExit`` or
``OutOfMemoryError``). The pool learns about state changes through two callbacks, ``on_free`` (a
call was answered: the worker has room for another) and ``on_exit`` (the process is gone and reaped).

Output capture: fds 1 and 2 of the algorithm go to one pipe that the event loop always drains.
For a call that asked for it, the first ``output_limit`` bytes are kept and the rest counted and
dropped, so an algorithm printing 100 MB neither blocks nor grows the parent's memory. The last
4 KiB are always kept to explain crashes (``faulthandler`` prints the Python stack there).
"""

from __future__ import annotations

import asyncio
import binascii
import enum
import fcntl
import logging
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from modelport import fastjson
from modelport.runtime.accounts import hand_over
from modelport.runtime.runner import HEADER_SIZE, LOADING_ERROR, MAX_FRAME_BYTES

log = logging.getLogger(__name__)

RUNNER_PATH = Path(__file__).with_name("runner.py")
CONTENT_TYPES = ("json", "text", "binary")
_TAIL_BYTES = 4096
_READ_SIZE = 1 << 18
_PIPE_SIZE = 1 << 20
_EXIT_POLL = 0.05
_OOM_MARKERS = ("memoryerror", "cannot allocate memory", "bad_alloc", "out of memory")


class WorkerState(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    STOPPING = "stopping"
    DEFUNCT = "defunct"


class InvalidWorkerState(RuntimeError):
    """A worker method was used in a state that does not allow it (a bug in the caller)."""


@dataclass(frozen=True)
class WorkerSpec:
    """How to start workers for one build of an algorithm.

    ``python`` is the build virtualenv's interpreter, ``workdir`` the checkout root holding
    ``src/<entry>.py``. The process environment is ``env`` on top of a few basics (PATH with the
    virtualenv first, HOME, LANG, TMPDIR, VIRTUAL_ENV); nothing else of the server's environment.
    """

    python: Path
    workdir: Path
    entry: str
    env: Mapping[str, str] = field(default_factory=dict)
    memory_limit_mb: int | None = None
    start_timeout: float = 300.0
    stop_timeout: float = 5.0
    output_limit: int = 1 << 20
    # The algorithm's own account (runtime/accounts.py; gid alike), or None for the server's.
    uid: int | None = None
    runner: Path = RUNNER_PATH  # a copy the account can read, when it cannot reach the package

    def __post_init__(self) -> None:
        if not self.entry.isidentifier():
            raise ValueError(f"entry must be a Python module name, not {self.entry!r}")
        if self.memory_limit_mb is not None and self.memory_limit_mb <= 0:
            raise ValueError(f"memory_limit_mb must be positive, not {self.memory_limit_mb}")

    def command(self) -> list[str]:
        return [str(self.python), str(self.runner), self.entry, str(self.memory_limit_mb or 0)]

    @property
    def home(self) -> Path:
        return Path(self.workdir).parent / "home"

    def environment(self) -> dict[str, str]:
        bin_dir = Path(self.python).parent
        env = {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            # Never the server's HOME (its config and credentials): a directory beside the checkout.
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
        }
        for name in ("TMPDIR", "TZ"):
            if name in os.environ:
                env[name] = os.environ[name]
        if (bin_dir.parent / "pyvenv.cfg").exists():
            env["VIRTUAL_ENV"] = str(bin_dir.parent)
        if self.memory_limit_mb:
            # glibc reserves 64 MiB of address space per thread arena, which RLIMIT_AS counts
            env["MALLOC_ARENA_MAX"] = "2"
        env.update(self.env)
        return env


@dataclass(slots=True)
class CallOutcome:
    """What one call produced.

    On success ``error`` is None, ``content_type`` is "json", "text" or "binary" and ``result`` is
    the value as it goes into the HTTP body (a base64 string for binary). On failure ``error`` is
    ``{"message", "stacktrace", "error_type"}``. ``duration`` is seconds from sending the call to
    its answer (queueing and cold start excluded); ``stdout`` is the captured output (fds 1 and 2
    merged) when it was asked for, else None.
    """

    result: Any = None
    content_type: str | None = None
    error: dict[str, str] | None = None
    duration: float = 0.0
    stdout: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# A call's arguments to ``Worker.call``: content type, wire data, env, timeout, want_stdout.
Request = tuple[str, Any, Mapping[str, str] | None, float | None, bool]


class _Sent(NamedTuple):
    """A call whose frame was written: the first of ``Worker._sent`` is running, the rest wait."""

    id: int
    future: asyncio.Future[CallOutcome]
    request: Request


def error_outcome(error_type: str, message: str, stacktrace: str = "", duration: float = 0.0) -> CallOutcome:
    error = {"message": message, "stacktrace": stacktrace, "error_type": error_type}
    return CallOutcome(error=error, duration=duration)


def to_wire(content_type: str, data: Any) -> Any:
    """Check a call's input and return its ``data`` as the frame carries it."""
    if content_type == "json":
        return data
    if content_type == "text":
        if not isinstance(data, str):
            raise TypeError(f"text input must be str, not {type(data).__name__}")
        return data
    if content_type == "binary":
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"binary input must be bytes, not {type(data).__name__}")
        return binascii.b2a_base64(data, newline=False).decode("ascii")
    raise ValueError(f"content_type must be one of {', '.join(CONTENT_TYPES)}, not {content_type!r}")


class Worker:
    """One runner process; see the module docstring for states and outcomes."""

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        on_free: Callable[[Worker], None] | None = None,
        on_exit: Callable[[Worker], None] | None = None,
    ) -> None:
        self.spec = spec
        self.state = WorkerState.NEW
        self.pid: int | None = None
        self.returncode: int | None = None
        self.idle_since = 0.0
        self.was_ready = False
        self._on_free = on_free
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._proc: subprocess.Popen[bytes] | None = None
        self._req_fd = -1
        self._resp_fd = -1
        self._out_fd = -1
        self._pidfd = -1
        self._rbuf = bytearray()
        self._pending_writes: deque[memoryview] = deque()
        self._corked: list[bytes] | None = None  # frames held back while answers are handled
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._kill_reason: str | None = None
        # calls sent: the first is running, the others wait in the request pipe
        self._call_id = 0
        self._sent: deque[_Sent] = deque()
        self._call_started = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = 0.0
        self._capture: bytearray | None = None
        self._dropped = 0
        self._tail = b""

    def __repr__(self) -> str:
        return f"<Worker pid={self.pid} {self.state.value} {self.spec.entry}>"

    def _assert_state(self, *allowed: WorkerState) -> None:
        if self.state not in allowed:
            names = " or ".join(s.value for s in allowed)
            raise InvalidWorkerState(f"Invalid operation: worker is {self.state.value} (must be {names})")

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> dict[str, str] | None:
        """Spawn the process and wait until it has loaded the algorithm.

        Returns None when ready, else the ``LoadingError`` body (import or ``load`` raised, the
        process died or did not answer within ``spec.start_timeout``); the process is then gone.
        """
        self._assert_state(WorkerState.NEW)
        self.state = WorkerState.STARTING
        started = time.perf_counter()
        try:
            self._spawn()
        except OSError as exc:
            self.state = WorkerState.DEFUNCT
            self._exited.set_result(-1)
            return _loading_error(f"cannot start the worker with {self.spec.python}: {exc}")
        self._ready = self._loop.create_future()
        try:
            ready = await asyncio.wait_for(self._ready, self.spec.start_timeout)
        except TimeoutError:
            self.kill("did not finish loading in time")
            await asyncio.shield(self._exited)
            return _loading_error(
                f"the algorithm did not finish loading within {self.spec.start_timeout:g} seconds",
                self._tail_text(),
            )
        except asyncio.CancelledError:
            self.kill("start was cancelled")
            raise
        load_error = ready.get("load_error")
        if load_error is not None:
            await self.stop()
            return load_error
        self.state = WorkerState.READY
        self.was_ready = True
        log.debug("worker %s ready in %.1f ms", self.pid, (time.perf_counter() - started) * 1000)
        return None

    async def stop(self) -> None:
        """Stop gracefully: close the request pipe so the runner exits after any call in flight;
        kill the process group if it is still there after ``spec.stop_timeout`` seconds."""
        if self.state is WorkerState.NEW:
            self.state = WorkerState.DEFUNCT
            self._exited.set_result(0)
        if self.state is WorkerState.DEFUNCT:
            return
        if self.state is WorkerState.STARTING:
            self.kill("stopped while loading")  # not reading requests yet: nothing to wait for
        self.state = WorkerState.STOPPING
        self._close_requests()
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), self.spec.stop_timeout)
        except TimeoutError:
            self.kill("did not stop in time")
            await asyncio.shield(self._exited)

    def kill(self, reason: str) -> None:
        """Kill the whole process group now; the exit is handled asynchronously."""
        if self.state in (WorkerState.NEW, WorkerState.DEFUNCT):
            return
        if self._kill_reason is None:
            self._kill_reason = reason
        self.state = WorkerState.STOPPING
        self._close_requests()
        self._killpg()

    async def wait(self) -> int:
        """Wait until the process has exited; returns its return code (negative: signal)."""
        return await asyncio.shield(self._exited)

    # -- calls ---------------------------------------------------------------------------------

    def call(
        self,
        content_type: str,
        data: Any,
        env: Mapping[str, str] | None,
        timeout: float | None,
        want_stdout: bool,
        future: asyncio.Future[CallOutcome] | None = None,
    ) -> asyncio.Future[CallOutcome]:
        """Send one call (``data`` already in wire form, see ``to_wire``); the future never fails.

        On a READY worker the call starts now; on a BUSY one (see ``can_pipeline``) it starts when
        the calls sent before it have been answered. ``future``, when given, is the one resolved
        with the outcome (the pool passes its queued caller's). Cancelling the future does not stop
        the call once sent: the worker runs it anyway.
        """
        if self.state is not WorkerState.READY and (want_stdout or not self.can_pipeline):
            self._assert_state(WorkerState.READY)
        message = {"id": self._call_id + 1, "content_type": content_type, "data": data}
        if env:
            message["env"] = env
        body = fastjson.dumps(message)  # raises TypeError/ValueError for input that is not JSON
        frame = len(body).to_bytes(HEADER_SIZE, "big") + body
        self._call_id += 1
        future = self._loop.create_future() if future is None else future
        self._sent.append(_Sent(self._call_id, future, (content_type, data, env, timeout, want_stdout)))
        if self.state is WorkerState.READY:
            self.state = WorkerState.BUSY
            self._start_call()
        self._send(frame)
        return future

    @property
    def in_flight(self) -> int:
        """Calls sent and not answered yet: the running one and those queued behind it."""
        return len(self._sent)

    @property
    def can_pipeline(self) -> bool:
        """Whether a call (not wanting its output) may be queued behind the ones in flight."""
        return self.state is WorkerState.BUSY and not self._sent[-1].request[4]

    def take_unstarted(self) -> list[tuple[asyncio.Future[CallOutcome], Request]]:
        """After the process exited: the calls that were queued behind the running one and never
        started, for the pool to send elsewhere."""
        if self.state is not WorkerState.DEFUNCT:
            raise InvalidWorkerState("Invalid operation: the worker has not exited")
        unstarted = [(sent.future, sent.request) for sent in self._sent]
        self._sent.clear()
        return unstarted

    def _start_call(self) -> None:
        """The first call of ``_sent`` starts running now: its clock, timer and output."""
        timeout, want_stdout = self._sent[0].request[3:]
        if want_stdout:
            self._capture = None
            self._drain_output()  # what earlier calls printed is in the pipe: not this call's
            self._capture = bytearray()
        else:
            self._capture = None
        self._dropped = 0
        self._tail = b""
        if timeout is not None:
            self._timeout = timeout
            self._timer = self._loop.call_later(timeout, self._on_timeout)
        self._call_started = time.perf_counter()

    def _send(self, frame: bytes) -> None:
        if self._corked is not None:
            self._corked.append(frame)
            return
        if self._pending_writes:  # behind a frame the pipe could not take yet
            self._pending_writes.append(memoryview(frame))
            return
        try:
            written = os.write(self._req_fd, frame)
        except BlockingIOError:
            written = 0
        except OSError:
            return  # the process is gone; the exit handler answers the call
        if written < len(frame):
            self._pending_writes.append(memoryview(frame)[written:])
            self._loop.add_writer(self._req_fd, self._on_writable)

    def _on_writable(self) -> None:
        pending = self._pending_writes
        while pending:
            try:
                written = os.write(self._req_fd, pending[0])
            except BlockingIOError:
                return
            except OSError:
                pending.clear()  # the process is gone; the exit handler answers the calls
                break
            if written < len(pending[0]):
                pending[0] = pending[0][written:]
                return
            pending.popleft()
        self._loop.remove_writer(self._req_fd)

    def _finish_call(self, message: dict[str, Any]) -> None:
        duration = time.perf_counter() - self._call_started
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        stdout = self._take_output() if self._capture is not None else None
        future = self._sent.popleft().future
        error = message.get("error")
        if error is not None:
            outcome = CallOutcome(error=error, duration=duration, stdout=stdout)
        else:
            outcome = CallOutcome(message.get("result"), message.get("content_type"), None, duration, stdout)
        if not future.done():  # done: it timed out, or its caller went away
            future.set_result(outcome)
        if self._sent:
            self._start_call()  # the runner has moved on to the next frame
        elif self.state is WorkerState.BUSY:
            self.state = WorkerState.READY
        if self.state in (WorkerState.READY, WorkerState.BUSY) and self._on_free is not None:
            self._on_free(self)

    def _on_timeout(self) -> None:
        self._timer = None
        if not self._sent:
            return
        future = self._sent[0].future  # stays first: a late answer is matched, then ignored
        duration = time.perf_counter() - self._call_started
        stdout = self._take_output() if self._capture is not None else None
        outcome = error_outcome(
            "TimeoutError",
            f"the call did not finish within {self._timeout:g} seconds; its worker was stopped",
            duration=duration,
        )
        outcome.stdout = stdout
        if not future.done():
            future.set_result(outcome)
        self.kill("call timed out")

    # -- process and pipes ---------------------------------------------------------------------

    def _spawn(self) -> None:
        spec = self.spec
        spec.home.mkdir(exist_ok=True)
        if spec.uid is not None:
            hand_over(Path(spec.workdir).parent, spec.uid)  # the build's checkout and home: its own
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            for fd in (req_w, resp_r, out_r):
                _grow_pipe(fd)
            self._proc = subprocess.Popen(
                spec.command(),
                stdin=req_r,
                stdout=resp_w,
                stderr=out_w,
                cwd=spec.workdir,
                env=spec.environment(),
                start_new_session=True,  # its own process group, and no controlling terminal
                close_fds=True,
                user=spec.uid,
                group=spec.uid,
                extra_groups=None if spec.uid is None else [],
            )
        except BaseException:
            for fd in (req_r, req_w, resp_r, resp_w, out_r, out_w):
                os.close(fd)
            raise
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
        self.pid = self._proc.pid
        self._req_fd, self._resp_fd, self._out_fd = req_w, resp_r, out_r
        for fd in (req_w, resp_r, out_r):
            os.set_blocking(fd, False)
        self._loop.add_reader(resp_r, self._on_frames)
        self._loop.add_reader(out_r, self._on_output)
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except OSError:  # kernel < 5.3 or a seccomp filter: poll instead
            self._loop.call_later(_EXIT_POLL, self._poll_exit)
        else:
            self._loop.add_reader(self._pidfd, self._on_process_exit)
        log.debug("worker %s spawned for %s", self.pid, spec.workdir)

    def _on_frames(self) -> None:
        data = _read_available(self._resp_fd)
        if data is None:
            return
        if not data:
            # Normally the process is exiting and its exit handler comes next; if it closed the
            # pipe and lives on, it can never answer again.
            self._loop.remove_reader(self._resp_fd)
            self._loop.call_later(1.0, self.kill, "closed its protocol pipe")
            return
        # The calls sent while these answers are handled (the pool refilling this worker) go out
        # in one write.
        self._corked = []
        try:
            self._parse_frames(data)
        finally:
            frames, self._corked = self._corked, None
            if frames and self._req_fd >= 0:
                self._send(frames[0] if len(frames) == 1 else b"".join(frames))

    def _parse_frames(self, data: bytes) -> None:
        buf = self._rbuf
        buf += data
        while len(buf) >= HEADER_SIZE:
            size = int.from_bytes(buf[:HEADER_SIZE], "big")
            if size > MAX_FRAME_BYTES:
                self.kill("sent an oversized frame")
                return
            end = HEADER_SIZE + size
            if len(buf) < end:
                return
            try:
                message = fastjson.loads(buf[HEADER_SIZE:end])
            except ValueError:
                self.kill("sent a malformed frame")
                return
            del buf[:end]
            self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        if self._sent and message.get("id") == self._sent[0].id:
            self._finish_call(message)
        elif self.state is WorkerState.STARTING and "ready" in message:
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message)
        else:
            self.kill("sent an unexpected frame")

    def _on_output(self) -> None:
        data = _read_available(self._out_fd)
        if data is None:
            return
        if not data:
            self._loop.remove_reader(self._out_fd)
            return
        self._keep_output(data)

    def _keep_output(self, data: bytes) -> None:
        capture = self._capture
        if capture is not None:
            room = self.spec.output_limit - len(capture)
            if room >= len(data):
                capture += data
            else:
                if room > 0:
                    capture += data[:room]
                self._dropped += len(data) - max(room, 0)
        tail = self._tail + data[-_TAIL_BYTES:]
        self._tail = tail[-_TAIL_BYTES:]

    def _drain_output(self) -> None:
        """Read what the process printed before its last frame (the two pipes race)."""
        if self._out_fd < 0:
            return
        while True:
            try:
                data = os.read(self._out_fd, _READ_SIZE)
            except OSError:  # BlockingIOError included: nothing more for now
                return
            if not data:
                return
            self._keep_output(data)

    def _take_output(self) -> str:
        self._drain_output()
        capture = self._capture or b""
        text = bytes(capture).decode("utf-8", "replace")
        if self._dropped:
            text += f"\n[modelport: output truncated: {self._dropped} more bytes not kept]\n"
        self._capture = None
        return text

    def _tail_text(self) -> str:
        return self._tail.decode("utf-8", "replace")

    def _on_process_exit(self) -> None:
        """The group leader exited (it is a zombie until reaped, so its group id is still ours)."""
        self._killpg()  # anything the algorithm started in the group
        assert self._proc is not None
        self.returncode = returncode = self._proc.wait()
        previous = self.state
        if previous is not WorkerState.STARTING:
            self.state = WorkerState.STOPPING  # answers still in the pipe are taken, nothing sent
            while self._resp_fd >= 0 and (data := _read_available(self._resp_fd)):
                self._parse_frames(data)
        self._drain_output()
        self._close_fds()
        self.state = WorkerState.DEFUNCT
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(
                {"ready": False, "load_error": self._death_error(returncode, loading=True)}
            )
        if self._sent:  # the call that was running; any behind it are for take_unstarted
            future = self._sent.popleft().future
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            outcome = CallOutcome(
                error=self._death_error(returncode),
                duration=time.perf_counter() - self._call_started,
                stdout=self._take_output() if self._capture is not None else None,
            )
            if not future.done():
                future.set_result(outcome)
        if self._kill_reason is None and previous is not WorkerState.STOPPING:
            log.warning("worker %s for %s ended unexpectedly: %s", self.pid, self.spec.workdir, returncode)
        self._exited.set_result(returncode)
        if self._on_exit is not None:
            self._on_exit(self)

    def _poll_exit(self) -> None:
        if self.state is WorkerState.DEFUNCT:
            return
        try:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            exited = True
        if exited:
            self._on_process_exit()
        else:
            self._loop.call_later(_EXIT_POLL, self._poll_exit)

    def _death_error(self, returncode: int, *, loading: bool = False) -> dict[str, str]:
        """Best-effort diagnosis: SIGKILL we did not send is most likely the kernel's OOM killer;
        otherwise the last output is searched for allocation failures (MemoryError, bad_alloc...)."""
        if returncode < 0:
            try:
                how = f"was killed by signal {signal.Signals(-returncode).name}"
            except ValueError:
                how = f"was killed by signal {-returncode}"
        else:
            how = f"exited with code {returncode}"
        tail = self._tail_text()
        lowered = tail.lower()
        oom = (returncode == -signal.SIGKILL and self._kill_reason is None) or any(
            marker in lowered for marker in _OOM_MARKERS
        )
        during = "while loading" if loading else "during the call"
        message = f"the algorithm's worker process {how} {during}"
        if self._kill_reason is not None:
            message += f" (stopped by modelport: {self._kill_reason})"
        elif oom:
            limit = f" of {self.spec.memory_limit_mb} MiB" if self.spec.memory_limit_mb else ""
            message += f"; it most likely ran out of memory{limit}"
        if loading:
            error_type = LOADING_ERROR
        elif oom and self._kill_reason is None:
            error_type = "OutOfMemoryError"
        else:
            error_type = "SystemExit"
        return {"message": message, "stacktrace": tail, "error_type": error_type}

    def _killpg(self) -> None:
        if self.pid is None or self.returncode is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _close_requests(self) -> None:
        if self._req_fd >= 0:
            if self._pending_writes:
                self._loop.remove_writer(self._req_fd)
                self._pending_writes.clear()
            os.close(self._req_fd)
            self._req_fd = -1

    def _close_fds(self) -> None:
        self._close_requests()
        for name in ("_resp_fd", "_out_fd", "_pidfd"):
            fd = getattr(self, name)
            if fd >= 0:
                self._loop.remove_reader(fd)
                os.close(fd)
                setattr(self, name, -1)


def _loading_error(message: str, stacktrace: str = "") -> dict[str, str]:
    return {"message": message, "stacktrace": stacktrace, "error_type": LOADING_ERROR}


def _grow_pipe(fd: int) -> None:
    # Fewer wake-ups for big payloads and chatty algorithms; not required for correctness.
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (OSError, AttributeError):
        pass


def _read_available(fd: int) -> bytes | None:
    """What a non-blocking pipe holds now: None when nothing yet, b"" at its end (or on an error)."""
    try:
        return os.read(fd, _READ_SIZE)
    except BlockingIOError:
        return None
    except OSError:
        return b""
