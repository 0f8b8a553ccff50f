"""Environment and config plumbing shared by every git subprocess modelport starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ZERO_SHA = "0" * 40


def git_env(home: Path, config: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A minimal environment for git: none of the server's variables (secrets, DB URLs) leak in,
    and no system, global or user configuration changes behaviour."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    env.update(config_env(config or {}))
    env.update(extra)
    return env


def config_env(config: Mapping[str, str]) -> dict[str, str]:
    """Pass `-c key=value` settings through the environment (git >= 2.31), so values such as an
    Authorization header never show up in the process list."""
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env
