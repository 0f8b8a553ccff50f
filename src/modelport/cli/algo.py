"""``modelport algo`` and ``modelport builds``: manage algorithms and follow their builds."""

from __future__ import annotations

import json
import subprocess
import time
from urllib.parse import quote, urlsplit, urlunsplit

import click

from modelport.cli.common import api_from, echo_json, server_options, split_algo


@click.group()
def algo() -> None:
    """Create, inspect, change, clone and delete algorithms."""


@algo.command("create")
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--label", help="Display name.  [default: the algorithm name]")
@click.option("--summary")
@click.option("--public", is_flag=True, help="Callable by anyone once published (default: private).")
@click.option("--settings", "settings_json", help="Extra settings as JSON, e.g. '{\"network_access\": \"isolated\"}'.")
# --- external repository (docs/scm.md) ---
@click.option("--repo-url", metavar="URL",
              help="Back the algorithm by this GitHub/GitLab repository (https://...), not the template.")
@click.option("--repo-token-stdin", is_flag=True,
              help="Read a token that can read --repo-url from stdin (stored encrypted, never shown again).")
@click.option("--provider", type=click.Choice(["github", "gitlab"]),
              help="Host of --repo-url.  [default: from the URL's host name]")
@server_options
def algo_create(name: str, label: str | None, summary: str | None, public: bool, settings_json: str | None,
                repo_url: str | None, repo_token_stdin: bool, provider: str | None,
                **conn: str | None) -> None:
    """Create OWNER/ALGO; its repository starts from a working Python template, or, with --repo-url,
    its code comes from GitHub/GitLab through a push webhook."""
    owner, algoname = split_algo(name)
    settings = json.loads(settings_json) if settings_json else {}
    if public:
        settings["algorithm_callability"] = "public"
    details = {k: v for k, v in {"label": label, "summary": summary}.items() if v}
    body: dict = {"name": algoname, "details": details, "settings": settings}  # type: ignore[type-arg]
    if (repo_token_stdin or provider) and not repo_url:
        raise click.UsageError("--repo-token-stdin and --provider need --repo-url")
    if repo_url:
        source = {"repository_https_url": repo_url, "provider": provider}
        if repo_token_stdin:
            token = click.get_text_stream("stdin").read().strip()
            if not token:
                raise click.UsageError("--repo-token-stdin: nothing was read from stdin")
            source["repository_token"] = token
        body["source"] = {k: v for k, v in source.items() if v}
    api = api_from(**conn)
    result = api.json("POST", f"/v1/algorithms/{owner}", json=body)
    click.echo(f"created {owner}/{algoname} ({result['id']})")
    if repo_url:
        click.echo(f"connect its webhook:  modelport algo scm {owner}/{algoname}")
    else:
        click.echo(f"clone it:  modelport algo clone {owner}/{algoname}")


@algo.command("info")
@click.argument("name", metavar="OWNER/ALGO")
@server_options
def algo_info(name: str, **conn: str | None) -> None:
    """Show OWNER/ALGO as JSON."""
    owner, algoname = split_algo(name)
    echo_json(api_from(**conn).json("GET", f"/v1/algorithms/{owner}/{algoname}"))


@algo.command("update")
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--label")
@click.option("--summary")
@click.option("--tagline")
@click.option("--settings", "settings_json", help="Settings to change, as JSON.")
@server_options
def algo_update(name: str, label: str | None, summary: str | None, tagline: str | None,
                settings_json: str | None, **conn: str | None) -> None:
    """Change details or settings of OWNER/ALGO (what you leave out stays)."""
    owner, algoname = split_algo(name)
    body: dict = {"details": {k: v for k, v in {"label": label, "summary": summary, "tagline": tagline}.items()
                              if v}}  # type: ignore[type-arg]
    if settings_json:
        body["settings"] = json.loads(settings_json)
    echo_json(api_from(**conn).json("PUT", f"/v1/algorithms/{owner}/{algoname}", json=body))


@algo.command("delete")
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--yes", is_flag=True, help="Do not ask.")
@server_options
def algo_delete(name: str, yes: bool, **conn: str | None) -> None:
    """Delete OWNER/ALGO with its repository, builds and versions."""
    owner, algoname = split_algo(name)
    if not yes:
        click.confirm(f"Delete {owner}/{algoname}, its repository, builds and versions?", abort=True)
    api_from(**conn).json("DELETE", f"/v1/algorithms/{owner}/{algoname}")
    click.echo(f"deleted {owner}/{algoname}")


_WEBHOOK_HOWTO = {
    "github": """\
On GitHub: the repository's Settings > Webhooks > Add webhook
  Payload URL:   the webhook URL above
  Content type:  application/json
  Secret:        the webhook secret above
  Events:        Just the push event
GitHub sends a ping at once; its delivery should show 202.""",
    "gitlab": """\
On GitLab: the project's Settings > Webhooks > Add new webhook
  URL:           the webhook URL above
  Secret token:  the webhook secret above
  Trigger:       Push events (all branches, or master/main)
"Test > Push events" should show HTTP 204 and start a build.""",
}


@algo.command("scm")
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--json", "as_json", is_flag=True, help="Print the scm/status object as JSON.")
@server_options
def algo_scm(name: str, as_json: bool, **conn: str | None) -> None:
    """Show OWNER/ALGO's external repository connection, its webhook URL and secret, and how to set
    the webhook up on GitHub or GitLab."""
    owner, algoname = split_algo(name)
    api = api_from(**conn)
    status = api.json("GET", f"/v1/algorithms/{owner}/{algoname}/scm/status")
    if as_json:
        echo_json(status)
        return
    source = api.json("GET", f"/v1/algorithms/{owner}/{algoname}")["source"]
    if "repository_webhook_url" not in status:
        click.echo(f"{owner}/{algoname} uses modelport's own repository: "
                   f"{source.get('repository_https_url')}")
        click.echo("pushes to its master (or main) branch build; there is no webhook to set up")
        return
    provider = source.get("scm", {}).get("provider", "github")
    click.echo(f"repository:      {source.get('repository_https_url')} ({provider})")
    click.echo(f"connection:      {status['scm_connection_status']}")
    if status.get("scm_connection_error"):
        click.echo(f"                 {status['scm_connection_error']}")
    click.echo(f"webhook URL:     {status['repository_webhook_url']}")
    if urlsplit(status["repository_webhook_url"]).hostname in ("127.0.0.1", "localhost", "::1"):
        click.echo("hint: GitHub and GitLab cannot reach a loopback address: start the server with "
                   "--public-url (MODELPORT_PUBLIC_URL) set to its public address", err=True)
    click.echo(f"webhook secret:  {status['repository_webhook_secret']}")
    click.echo("")
    click.echo(_WEBHOOK_HOWTO.get(provider, _WEBHOOK_HOWTO["github"]))
    click.echo("Pushes to master or main build that exact commit; `modelport builds list` shows them.")


def remote_url(api: str, owner: str, algoname: str, user: str, key: str) -> str:
    """The git remote, with ``user:key`` (URL-encoded) as Algorithmia's Jenkins scripts use it."""
    parts = urlsplit(api)
    netloc = f"{quote(user, safe='')}:{quote(key, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, f"{parts.path}/git/{owner}/{algoname}.git", "", ""))


@algo.command("clone")
@click.argument("name", metavar="OWNER/ALGO")
@click.argument("directory", required=False)
@click.option("--user", help="Git user name.  [default: OWNER]")
@click.option("--print-url", is_flag=True, help="Only print the remote URL (it contains the key).")
@server_options
def algo_clone(name: str, directory: str | None, user: str | None, print_url: bool, **conn: str | None) -> None:
    """Clone OWNER/ALGO's repository; pushing to master (or main) builds it."""
    owner, algoname = split_algo(name)
    api = api_from(**conn)
    url = remote_url(api.endpoint.api, owner, algoname, user or owner, api.endpoint.key or "")
    if print_url:
        click.echo(url)
        return
    code = subprocess.call(["git", "clone", url, directory or algoname])
    if code:
        raise click.ClickException("git clone failed")


@click.group()
def builds() -> None:
    """List builds and read their logs."""


@builds.command("list")
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--limit", type=int, default=10, show_default=True)
@server_options
def builds_list(name: str, limit: int, **conn: str | None) -> None:
    """Builds of OWNER/ALGO, newest first."""
    owner, algoname = split_algo(name)
    page = api_from(**conn).json("GET", f"/v1/algorithms/{owner}/{algoname}/builds", params={"limit": limit})
    for b in page["results"]:
        version = b.get("version_info", {}).get("semantic_version", "")
        click.echo(f"{b['build_id']}  {b['status']:<11} {b['commit_sha'][:12]}  {b['started_at']}  {version}")


@builds.command("logs")
@click.argument("name", metavar="OWNER/ALGO")
@click.argument("build_id", required=False)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for a running build to finish.")
@server_options
def builds_logs(name: str, build_id: str | None, wait: bool, **conn: str | None) -> None:
    """Print the log of BUILD_ID (default: the newest build) of OWNER/ALGO."""
    owner, algoname = split_algo(name)
    api = api_from(**conn)
    base = f"/v1/algorithms/{owner}/{algoname}/builds"
    if build_id is None:
        results = api.json("GET", base, params={"limit": 1})["results"]
        if not results:
            raise click.ClickException(f"{owner}/{algoname} has no builds yet: push to its master branch")
        build_id = results[0]["build_id"]
    status = wait_for_build(api, base, build_id) if wait else api.json("GET", f"{base}/{build_id}")["status"]
    if status == "in-progress":
        raise click.ClickException("the build is still running; try again or use --wait")
    click.echo(api.json("GET", f"{base}/{build_id}/logs")["logs"], nl=False)


def wait_for_build(api, base: str, build_id: str, timeout: float = 1800.0) -> str:  # type: ignore[no-untyped-def]
    """Poll a build with backoff, showing progress on stderr; return its final status."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    started = time.monotonic()
    while True:
        status = api.json("GET", f"{base}/{build_id}")["status"]
        if status != "in-progress" or time.monotonic() > deadline:
            if started + 1 < time.monotonic():
                click.echo("", err=True)
            return status
        if time.monotonic() - started > 1:
            click.echo(f"\rbuilding {build_id[:8]}… {time.monotonic() - started:.0f}s", nl=False, err=True)
        time.sleep(delay)
        delay = min(delay * 1.5, 3.0)
