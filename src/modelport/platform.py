"""The composition root: builds every service from settings and wires their events together.

Both the server and the local admin commands (``modelport users``/``keys``) open a Platform on
the same data dir, so there is one place where parts are put together.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from modelport.algorithms.publishing import Publisher
from modelport.algorithms.service import AlgorithmService
from modelport.auth.service import AuthService, CreatedKey
from modelport.config import Settings
from modelport.db import Database, migrate


def load_or_create_secret(path: Path) -> bytes:
    """A per-installation secret (markers, encrypted tokens), created once with mode 0600."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value.hex())
    return value


@dataclass
class FirstRun:
    username: str
    key: CreatedKey


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("repos", "builds", "envs", "data", "logs"):
            settings.path(sub).mkdir(exist_ok=True)
        migrate(settings.db_url)
        self.db = Database(settings.db_url)
        self.secret = load_or_create_secret(settings.path("secret.key"))
        self.auth = AuthService(self.db)
        self.algorithms = AlgorithmService(self.db)
        self.publisher = Publisher(self.algorithms)
        self.algorithms.on_deleted.append(self.publisher.invalidate)

    def bootstrap(self) -> FirstRun | None:
        """On the very first start: create the administrator and its full-access key."""
        if self.auth.count_users():
            return None
        name = self.settings.admin_user
        self.auth.create_user(name, is_admin=True)
        return FirstRun(name, self.auth.create_key(name, label="first admin key", full_access=True))

    def build_log_path(self, build_id: str) -> Path:
        return self.settings.path("logs", "builds", f"{build_id}.log")

    def build_log(self, build_id: str) -> str | None:
        path = self.build_log_path(build_id)
        return path.read_text(errors="replace") if path.exists() else None

    async def start(self) -> None:
        """Start background parts (build queue, worker supervisor) once the event loop runs."""

    async def stop(self) -> None:
        self.db.dispose()
