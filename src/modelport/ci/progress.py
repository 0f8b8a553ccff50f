"""Progress of a pipeline on stderr: one line per step with its duration, and a status line while waiting.

On a terminal the waiting line is rewritten in place; in CI logs (not a TTY) it is printed at most every
``quiet_interval`` seconds, so a ten-minute build does not flood the job log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet_interval: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.quiet_interval = quiet_interval
        self.timings: dict[str, float] = {}
        self._status_shown = False
        self._last_status = 0.0

    def info(self, text: str) -> None:
        self._end_status()
        self.stream.write(text + "\n")
        self.stream.flush()

    def warn(self, text: str) -> None:
        self.info(f"warning: {text}")

    def status(self, text: str) -> None:
        """A transient line: replaced on a terminal, throttled elsewhere."""
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}")
            self._status_shown = True
        elif now - self._last_status >= self.quiet_interval:
            self.stream.write(text + "\n")
            self._last_status = now
        self.stream.flush()

    @contextmanager
    def step(self, name: str, title: str) -> Iterator[None]:
        """Time a step under ``name`` (for ``timings``) and announce it as ``title``."""
        self.info(f"==> {title}")
        self._last_status = time.monotonic()
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - start
            self._end_status()

    def _end_status(self) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self._status_shown = False
