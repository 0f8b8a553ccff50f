"""Settings: the one place that reads ``MODELPORT_*`` environment variables.

CLI flags override the environment; the environment overrides the defaults. Everything the
platform stores lives under one data dir unless told otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

ENV_PREFIX = "MODELPORT_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5577
    data_dir: Path = Path(".modelport")
    database_url: str = ""  # empty: SQLite file inside data_dir
    log_level: str = "info"
    admin_user: str = "admin"
    tls_cert: str = ""
    tls_key: str = ""
    # The address algorithms and printed URLs use to reach this server; derived when empty.
    public_url: str = ""
    max_body_bytes: int = 10 * 1024 * 1024  # management and call routes (Algorithmia: 10 MiB)
    max_upload_bytes: int = 5 * 1024 * 1024 * 1024  # data uploads
    build_concurrency: int = 2
    worker_max: int = 2  # concurrent workers per algorithm build
    worker_queue: int = 256  # calls waiting for a worker, per pool
    worker_idle_seconds: float = 300.0
    worker_memory_mb: int = 2048
    worker_pipeline: int = 3  # calls handed to a busy worker at once when all are busy (1: never pipeline)
    python: str = ""  # interpreter for algorithm environments; empty: the server's own
    # "auto": each algorithm runs (and installs its packages) under an account of its own when the
    # server runs as root; "on": the same, refusing to start otherwise; "off": as the server's user.
    worker_isolation: str = "auto"
    worker_uid_base: int = 200_000  # algorithm accounts are uid (= gid) base + 1, base + 2, ...
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'modelport.db').resolve()}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def path(self, *parts: str) -> Path:
        return self.data_dir.joinpath(*parts)


_CONVERTERS = {int: int, float: float, Path: Path, str: str}


def load_settings(overrides: dict[str, object] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Build settings from defaults, then ``MODELPORT_<NAME>`` variables, then explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            kind = type(getattr(Settings, f.name, "")) if f.name != "data_dir" else Path
            values[f.name] = _CONVERTERS.get(kind, str)(raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = Path(value) if key == "data_dir" else value
    settings = Settings(**values)  # type: ignore[arg-type]
    return replace(settings, data_dir=Path(settings.data_dir).expanduser().resolve())
