"""Local administration: ``modelport users`` and ``modelport keys`` work on the data dir directly,
without a running server (first set-up, lost keys, scripted provisioning)."""

from __future__ import annotations

import json
import sys

import click

from modelport.auth.errors import ServiceError
from modelport.config import load_settings

data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False),
                               help="The server's data dir.  [env MODELPORT_DATA_DIR; default ./.modelport]")
db_option = click.option("--database-url", help="[env MODELPORT_DATABASE_URL]")


def _platform(data_dir: str | None, database_url: str | None):  # type: ignore[no-untyped-def]
    from modelport.platform import Platform

    return Platform(load_settings({"data_dir": data_dir, "database_url": database_url}))


def _fail(exc: ServiceError) -> None:
    raise click.ClickException(exc.message)


@click.group()
def users() -> None:
    """Create users and set their passwords (local, on the data dir)."""


@users.command("create")
@click.argument("username")
@click.option("--email")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--password-stdin", is_flag=True, help="Read a password (for git over HTTP) from stdin.")
@click.option("--key/--no-key", default=True, show_default=True,
              help="Also create a key (call, data read/write, manage own algorithms) and print it once.")
@data_dir_option
@db_option
def users_create(username: str, email: str | None, admin: bool, password_stdin: bool, key: bool,
                 data_dir: str | None, database_url: str | None) -> None:
    """Create USERNAME."""
    p = _platform(data_dir, database_url)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        p.auth.create_user(username, email=email, password=password, is_admin=admin)
        click.echo(f"created user {username}" + (" (administrator)" if admin else ""))
        if key:
            created = p.auth.create_key(username, label="default-key", full_access=True)
            click.echo(f"API key (shown once): {created.key}")
    except ServiceError as exc:
        _fail(exc)


@users.command("passwd")
@click.argument("username")
@data_dir_option
@db_option
def users_passwd(username: str, data_dir: str | None, database_url: str | None) -> None:
    """Set USERNAME's password (read from stdin), used for git over HTTP."""
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else click.prompt(
        "New password", hide_input=True, confirmation_prompt=True)
    try:
        _platform(data_dir, database_url).auth.set_password(username, password)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"password set for {username}")


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (local, on the data dir)."""


@keys.command("create")
@click.argument("username")
@click.option("--label", default="api-key", show_default=True)
@click.option("--full-access", is_flag=True, help="Call, data read/write, manage algorithms (and administer "
                                                  "users, for administrators).")
@click.option("--call/--no-call", "allow_algo", default=True, show_default=True, help="May call algorithms.")
@click.option("--acl", "algo_acl", multiple=True, default=["algo://*"], show_default=True,
              help="Algorithms it may call: algo://*, algo://user/*, algo://user/algo/*. Repeatable.")
@click.option("--data", type=click.Choice(["none", "read", "write"]), default="read", show_default=True)
@click.option("--manage", is_flag=True, help="May create, build and publish the user's algorithms.")
@click.option("--admin-key", is_flag=True, help="An admin key: only admin endpoints, cannot call algorithms.")
@data_dir_option
@db_option
def keys_create(username: str, label: str, full_access: bool, allow_algo: bool, algo_acl: tuple[str, ...],
                data: str, manage: bool, admin_key: bool, data_dir: str | None, database_url: str | None) -> None:
    """Create a key for USERNAME and print it once."""
    perms = {"allow_algo": allow_algo, "algo_acl": list(algo_acl), "allow_data": data != "none",
             "allow_data_write": data == "write", "allow_algo_management": manage}
    try:
        created = _platform(data_dir, database_url).auth.create_key(
            username, label=label, key_type="admin" if admin_key else "standard", permissions=perms,
            full_access=full_access)
    except ServiceError as exc:
        _fail(exc)
    click.echo(created.key)
    click.echo(f"(key id {created.record['id']}; shown once, store it now)", err=True)


@keys.command("list")
@click.argument("username")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True)
@data_dir_option
@db_option
def keys_list(username: str, include_revoked: bool, as_json: bool, data_dir: str | None,
              database_url: str | None) -> None:
    """List USERNAME's keys (masked)."""
    try:
        rows = _platform(data_dir, database_url).auth.list_keys(username, include_revoked=include_revoked)
    except ServiceError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        p = r["permissions"]
        scope = ",".join(n for n in ("allow_algo", "allow_data", "allow_data_write", "allow_algo_management",
                                     "administer_users") if p.get(n))
        click.echo(f"{r['id']:>4}  {r['api_key_mask']:<12} {r['key_label']:<20} {r['key_type']:<16} "
                   f"{'REVOKED ' if r['revoked'] else ''}{scope}")


@keys.command("revoke")
@click.argument("username")
@click.argument("key_id", type=int)
@data_dir_option
@db_option
def keys_revoke(username: str, key_id: int, data_dir: str | None, database_url: str | None) -> None:
    """Revoke USERNAME's key KEY_ID. A running server stops accepting it within a second."""
    try:
        _platform(data_dir, database_url).auth.revoke_key(username, key_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"revoked key {key_id} of {username}")
