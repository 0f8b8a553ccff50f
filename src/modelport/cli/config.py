"""Where the CLI finds the API address and key.

Order: ``MODELPORT_API``/``MODELPORT_API_KEY``, then Algorithmia's ``ALGORITHMIA_API``/``ALGORITHMIA_API_KEY``
(so CI jobs need no file), then the named profile (``--profile`` or ``MODELPORT_PROFILE``, default
"default") of ``$XDG_CONFIG_HOME/modelport/config.json`` (mode 0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API = "http://127.0.0.1:5577"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "modelport" / "config.json"


@dataclass(frozen=True)
class Endpoint:
    api: str
    key: str | None
    source: str  # where the values came from, for error messages


def _read() -> dict:  # type: ignore[type-arg]
    path = config_path()
    if not path.exists():
        return {"profiles": {}}
    return json.loads(path.read_text())


def save_profile(name: str, api: str, key: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = _read()
    data.setdefault("profiles", {})[name] = {"api": api.rstrip("/"), "api_key": key}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def resolve(profile: str | None = None, api: str | None = None, key: str | None = None) -> Endpoint:
    env = os.environ
    profile = profile or env.get("MODELPORT_PROFILE") or "default"
    stored = _read().get("profiles", {}).get(profile, {})
    api = api or env.get("MODELPORT_API") or env.get("ALGORITHMIA_API") or stored.get("api") or DEFAULT_API
    key = key or env.get("MODELPORT_API_KEY") or env.get("ALGORITHMIA_API_KEY") or stored.get("api_key")
    return Endpoint(api=api.rstrip("/"), key=key, source=f"profile {profile!r} in {config_path()}")
