"""``modelport call``, ``modelport publish`` and ``modelport versions``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from modelport.cli.common import api_from, echo_json, server_options, split_algo


def _input(data: str | None, content_type: str | None) -> tuple[bytes, str]:
    """``--data`` as JSON when it parses, else text; ``@file`` reads a file; ``-`` reads stdin."""
    if data is None or data == "-":
        raw = sys.stdin.buffer.read()
    elif data.startswith("@"):
        raw = Path(data[1:]).read_bytes()
    else:
        raw = data.encode()
    if content_type:
        return raw, content_type
    try:
        json.loads(raw)
        return raw, "application/json"
    except (ValueError, UnicodeDecodeError):
        try:
            raw.decode("utf-8")
            return raw, "text/plain"
        except UnicodeDecodeError:
            return raw, "application/octet-stream"


@click.command()
@click.argument("name", metavar="OWNER/ALGO[/VERSION]")
@click.option("-d", "--data", help="Input: JSON or text, @FILE, or - for stdin.  [default: stdin]")
@click.option("--content-type", type=click.Choice(["application/json", "text/plain", "application/octet-stream"]),
              help="Force the input type (default: JSON if it parses, else text, else bytes).")
@click.option("--timeout", type=int, default=300, show_default=True, help="Seconds, at most 3000.")
@click.option("--stdout", "want_stdout", is_flag=True, help="Show what the algorithm printed (owners only).")
@click.option("--raw", is_flag=True, help="Print only the result (bytes go to stdout as they are).")
@server_options
def call(name: str, data: str | None, content_type: str | None, timeout: int, want_stdout: bool, raw: bool,
         **conn: str | None) -> None:
    """Call an algorithm. Exit status 1 if it answered with an error."""
    owner, algo = split_algo(name)
    version = name.removeprefix("algo://").strip("/").split("/")[2:3]
    path = f"/v1/algo/{owner}/{algo}" + (f"/{version[0]}" if version else "")
    body, ctype = _input(data, content_type)
    api = api_from(**conn, timeout=timeout + 30)
    params = {"timeout": timeout, "stdout": str(want_stdout).lower()}
    answer = api.json("POST", path, content=body, headers={"Content-Type": ctype}, params=params, retries=0)
    if "error" in answer:
        err = answer["error"]
        click.echo(f"{err.get('error_type', 'AlgorithmError')}: {err.get('message')}", err=True)
        if err.get("stacktrace"):
            click.echo(err["stacktrace"], err=True)
        if answer.get("metadata", {}).get("stdout"):
            click.echo(answer["metadata"]["stdout"], err=True)
        sys.exit(1)
    meta = answer["metadata"]
    if meta.get("stdout"):
        click.echo(meta["stdout"], err=True, nl=False)
    result = answer["result"]
    if raw:
        if meta["content_type"] == "binary":
            import base64

            sys.stdout.buffer.write(base64.b64decode(result))
        else:
            click.echo(result if meta["content_type"] == "text" else json.dumps(result))
        return
    echo_json(answer)


@click.command()
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--version-type", "-t", type=click.Choice(["major", "minor", "revision", "patch"]), default="minor",
              show_default=True)
@click.option("--notes", help="Release notes.")
@click.option("--public/--private", "public", default=None, help="Callability (default: as the last version).")
@server_options
def publish(name: str, version_type: str, notes: str | None, public: bool | None, **conn: str | None) -> None:
    """Publish the newest successful build of OWNER/ALGO as a new semantic version."""
    owner, algo = split_algo(name)
    body: dict = {"version_info": {"version_type": version_type}}  # type: ignore[type-arg]
    if notes:
        body["version_info"]["release_notes"] = notes
    if public is not None:
        body["settings"] = {"algorithm_callability": "public" if public else "private"}
    result = api_from(**conn).json("POST", f"/v1/algorithms/{owner}/{algo}/versions", json=body, retries=0)
    version = result["version_info"]["semantic_version"]
    click.echo(f"published {owner}/{algo} {version} ({result['settings']['algorithm_callability']}) from "
               f"{result['version_info']['git_hash'][:12]}")


@click.command()
@click.argument("name", metavar="OWNER/ALGO")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--unpublished", is_flag=True, help="List successful builds not published yet.")
@click.option("--json", "as_json", is_flag=True)
@server_options
def versions(name: str, limit: int, unpublished: bool, as_json: bool, **conn: str | None) -> None:
    """Versions of OWNER/ALGO, newest first."""
    owner, algo = split_algo(name)
    params = {"limit": limit, "published": "false" if unpublished else "true"}
    page = api_from(**conn).json("GET", f"/v1/algorithms/{owner}/{algo}/versions", params=params)
    if as_json:
        echo_json(page)
        return
    for v in page["results"]:
        info = v["version_info"]
        click.echo(f"{info.get('semantic_version', '(unpublished)'):<14} {info['git_hash'][:12]}  "
                   f"{v['settings'].get('algorithm_callability', ''):<8} {v['build']['finished_at'] or ''}  "
                   f"{info.get('release_notes', '')}")
