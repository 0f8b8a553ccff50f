"""The ``modelport`` command."""

from __future__ import annotations

import click

from modelport import __version__
from modelport.cli import admin, algo, calls, ci, data
from modelport.cli.config import DEFAULT_API, resolve, save_profile
from modelport.config import load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="modelport")
def cli() -> None:
    """modelport: push ML algorithms from CI, test them, publish versions, call them over HTTP.

    Start a server with `modelport server`; point the CLI at it with `modelport login`.
    """


@cli.command()
@click.option("--host", help="Address to listen on.  [env MODELPORT_HOST; default 127.0.0.1]")
@click.option("--port", type=int, help="Port.  [env MODELPORT_PORT; default 5577]")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Where everything is stored.  [env MODELPORT_DATA_DIR; default ./.modelport]")
@click.option("--database-url", help="SQLAlchemy URL (PostgreSQL for several nodes).  "
                                     "[env MODELPORT_DATABASE_URL; default SQLite in the data dir]")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              help="[env MODELPORT_LOG_LEVEL; default info]")
@click.option("--admin-user", help="Name of the administrator created on the first start.  [default admin]")
@click.option("--public-url", help="Address clients and algorithms use to reach this server, if not host:port.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Private key for --tls-cert.")
def server(**flags: object) -> None:
    """Run the whole platform: API, git server, build queue and workers.

    On the first start it creates the administrator and prints a full-access API key once.
    """
    from modelport.server import serve

    if bool(flags.get("tls_cert")) != bool(flags.get("tls_key")):
        raise click.UsageError("--tls-cert and --tls-key go together")
    from modelport.runtime.accounts import IsolationUnavailable

    try:
        serve(load_settings({k: v for k, v in flags.items() if v is not None}))
    except IsolationUnavailable as exc:
        raise click.ClickException(f"cannot isolate algorithms: {exc}; or set MODELPORT_WORKER_ISOLATION=auto "
                                   "(run them as the server's user, with a warning) or off") from None


@cli.command()
@click.option("--api", "api", default=None, help=f"API address.  [default {DEFAULT_API}]")
@click.option("--key", "key", default=None, help="API key (asked for when omitted).")
@click.option("--profile", default="default", show_default=True, help="Name to store these under.")
def login(api: str | None, key: str | None, profile: str) -> None:
    """Store an API address and key for later commands (file mode 0600).

    MODELPORT_API / MODELPORT_API_KEY (or ALGORITHMIA_API / ALGORITHMIA_API_KEY) override the file,
    so CI jobs need no login.
    """
    import httpx

    api = api or click.prompt("API address", default=resolve(profile).api)
    key = key or click.prompt("API key", hide_input=True)
    try:
        response = httpx.get(f"{api.rstrip('/')}/v1/whoami", headers={"Authorization": f"Simple {key}"}, timeout=10)
        if response.status_code == 401:
            raise click.ClickException(f"{api} refused this key (unknown or revoked); nothing saved")
        if response.status_code == 200:
            click.echo(f"Logged in to {api} as {response.json()['username']}")
    except httpx.TransportError as exc:
        click.echo(f"warning: could not reach {api} ({exc}); saving anyway", err=True)
    path = save_profile(profile, api, key)
    click.echo(f"Saved profile {profile!r} in {path}")


cli.add_command(admin.users)
cli.add_command(admin.keys)
cli.add_command(algo.algo)
cli.add_command(algo.builds)
cli.add_command(calls.call)
cli.add_command(calls.publish)
cli.add_command(calls.versions)
cli.add_command(ci.test)
cli.add_command(ci.deploy_cmd)
cli.add_command(ci.deploy_model_cmd)
cli.add_command(data.data)


def main() -> None:
    cli(prog_name="modelport")
