from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitserver import Callbacks, Git, GitServer, RecordingApp, serve_asgi

from modelport.source.githttp import GitHttpApp
from modelport.source.repos import RepoStore


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    repos = RepoStore(tmp_path / "repos")
    callbacks = Callbacks()
    app = RecordingApp(
        GitHttpApp(
            repos,
            authenticate=callbacks.authenticate,
            authorize=callbacks.authorize,
            on_push=callbacks.on_push,
        )
    )
    base, server, thread = serve_asgi(app)
    yield GitServer(base, repos, callbacks, app)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def git(tmp_path: Path) -> Git:
    """A git client with no user configuration and no terminal to prompt on."""
    home = tmp_path / "client-home"
    home.mkdir()
    return Git(
        {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Client",
            "GIT_AUTHOR_EMAIL": "client@example.com",
            "GIT_COMMITTER_NAME": "Client",
            "GIT_COMMITTER_EMAIL": "client@example.com",
            "LC_ALL": "C",
        }
    )
