"""Errors of the deploy pipelines; each carries the exit code the CLI ends with (DESIGN.md: 2 usage, 1 failure)."""

from __future__ import annotations


class DeployError(Exception):
    """A step could not go on. ``hint`` says what to do about it, when we know."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(DeployError):
    """Bad flags, a missing file or setting, an unknown algorithm: nothing was changed on the server."""

    exit_code = 2


class BuildFailed(DeployError):
    """The server could not build the pushed commit; ``log`` is the build log."""

    def __init__(self, message: str, log: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.log = log


class TestsFailed(DeployError):
    """At least one test case did not pass; nothing was published."""

    __test__ = False
