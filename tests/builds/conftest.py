"""Real environments built with uv. One uv cache per session, so `six` is downloaded once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelport.builds.envs import Env, EnvCache


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(scope="session")
def shared_envs(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> EnvCache:
    return EnvCache(tmp_path_factory.mktemp("envs"), sys.executable, uv_cache=uv_cache)


@pytest.fixture(scope="session")
def six_env(shared_envs: EnvCache) -> Env:
    """The session's one real install from PyPI."""
    return shared_envs.ensure("six\n")


@pytest.fixture
def envs(tmp_path: Path, uv_cache: Path) -> EnvCache:
    return EnvCache(tmp_path / "envs", sys.executable, uv_cache=uv_cache)
