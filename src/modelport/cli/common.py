"""Options and helpers shared by the CLI commands that talk to a server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from modelport.cli.config import resolve
from modelport.cli.http import Api


def server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--profile", envvar="MODELPORT_PROFILE", help="Config profile (see `modelport login`).")(fn)
    fn = click.option("--api-key", help="API key.  [env MODELPORT_API_KEY / ALGORITHMIA_API_KEY]")(fn)
    fn = click.option("--api", help="API address.  [env MODELPORT_API / ALGORITHMIA_API]")(fn)
    return fn


def api_from(profile: str | None, api: str | None, api_key: str | None, timeout: float = 60.0) -> Api:
    return Api(resolve(profile, api, api_key), timeout=timeout)


def split_algo(name: str) -> tuple[str, str]:
    """``owner/algo`` (``algo://`` prefix allowed) → (owner, algo)."""
    name = name.removeprefix("algo://").strip("/")
    parts = name.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise click.BadParameter(f"expected OWNER/ALGO, got {name!r}")
    return parts[0], parts[1]


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))
