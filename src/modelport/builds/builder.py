"""Build one commit of an algorithm: check out, make its environment, compile, find its entry point.

The algorithm is never imported here: its module-level code may load models or have side effects,
and that belongs to the runtime. Syntax is checked by byte-compiling with the environment's own
interpreter, and the entry point by reading the AST, also with that interpreter, so a newer Python
in the environment than the server's is judged by its own grammar.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modelport.builds._process import Log, base_env, run_command
from modelport.builds.envs import EnvBuildError, EnvCache
from modelport.source.repos import RepoError, RepoStore

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Runs in the environment's python: prints how the entry module starts ("adk", "handler",
# "apply") or nothing. Module level means outside functions and classes, including if/try blocks.
_ENTRY_CHECK = r"""
import ast, sys
path = sys.argv[1]
tree = ast.parse(open(path, "rb").read(), path)
def statements(body):
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from statements(getattr(node, field, None) or [])
        for clause in (getattr(node, "handlers", None) or []) + (getattr(node, "cases", None) or []):
            yield from statements(clause.body)
def defines_apply(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name == "apply"
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == "apply" for t in targets)
    if isinstance(node, ast.ImportFrom):
        return any((a.asname or a.name) == "apply" for a in node.names)
    return False
styles = set()
for node in ast.walk(tree):
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "handler" and isinstance(f.value, ast.Name) \
                and f.value.id == "Algorithmia":
            styles.add("handler")
        if (isinstance(f, ast.Name) and f.id == "ADK") or (isinstance(f, ast.Attribute) and f.attr == "ADK"):
            styles.add("adk")
if any(defines_apply(n) for n in statements(tree.body)):
    styles.add("apply")
print(next((s for s in ("adk", "handler", "apply") if s in styles), ""))
"""


@dataclass(frozen=True)
class BuildOutcome:
    succeeded: bool
    env_key: str | None = None
    entry: str | None = None
    """Module the runtime imports from `src_dir`: "src.<algoname>"."""
    error: str | None = None
    """One-paragraph reason the build failed, also the last line(s) of the log."""
    algoname: str | None = None
    style: str | None = None
    """How the entry module starts: "apply" (module-level apply), "handler" or "adk"."""
    src_dir: Path | None = None
    python: Path | None = None


class _Failed(Exception):
    pass


def _timestamped(log: Log) -> Log:
    def stamped(line: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        log(f"{now} {line}")

    return stamped


def run_build(
    repos: RepoStore,
    envs: EnvCache,
    owner: str,
    algo: str,
    sha: str,
    build_dir: Path,
    log: Log,
    *,
    env_user: str | None = None,
    uid: int | None = None,
) -> BuildOutcome:
    """Build commit `sha` of owner/algo into `build_dir` (its checkout goes to `build_dir/src`).

    Never raises for a bad algorithm: the outcome says what failed and the log (every line
    timestamped) tells the story. `env_user` marks the environment as used by that tag; with `uid`,
    its packages install under that account (the algorithm's own).
    """
    log = _timestamped(log)
    started = time.monotonic()
    src = Path(build_dir) / "src"
    log(f"build of {owner}/{algo} at {sha} started")
    algoname: str | None = None
    env_key: str | None = None
    try:
        log(f"checking out {sha}")
        if src.exists():
            shutil.rmtree(src)
        repos.checkout(owner, algo, sha, src)

        algoname = _algoname(src, algo, log)
        entry_file = f"src/{algoname}.py"
        if not (src / entry_file).is_file():
            found = sorted(p.name for p in (src / "src").glob("*.py")) if (src / "src").is_dir() else []
            raise _Failed(
                f"entry module {entry_file} not found: the algorithm's code must be in src/<algoname>.py, "
                "with "
                f"algoname {algoname!r} from algorithmia.conf"
                + (f" (src/ has: {', '.join(found)})" if found else " (there is no src/ directory)")
            )

        requirements = src / "requirements.txt"
        text = requirements.read_text(errors="replace") if requirements.is_file() else ""
        log("installing requirements.txt" if text.strip() else "no requirements.txt entries")
        env = envs.ensure(text, log, user=env_user, uid=uid)
        env_key = env.key

        log("compiling src/")
        minimal = base_env(envs.root / ".home")
        compiled = run_command(
            # -S: no site, so no .pth file of the environment runs here, as the server.
            [str(env.python), "-I", "-S", "-m", "compileall", "-q", "src"],
            log=log,
            env=minimal,
            cwd=src,
            timeout=600,
        )
        if compiled.returncode != 0:
            raise _Failed("compiling src/ failed: " + _syntax_summary(compiled.tail))

        style = _entry_style(env.python, src, entry_file, minimal)
        if not style:
            raise _Failed(
                f"{entry_file} defines no apply(input) at module level and calls neither "
                "Algorithmia.handler(...) "
                "nor ADK(...): add `def apply(input):` to it"
            )
        log(f"entry point: {entry_file} ({style})")
    except (_Failed, EnvBuildError) as e:
        return _fail(log, str(e), started, algoname, env_key)
    except RepoError as e:
        return _fail(log, f"checkout of {sha} failed: {e}", started, algoname, env_key)
    except Exception as e:  # noqa: BLE001 - a platform fault (disk full, ...): still a finished, failed build
        return _fail(log, f"internal error: {type(e).__name__}: {e}", started, algoname, env_key)
    log(f"build succeeded in {time.monotonic() - started:.1f}s")
    return BuildOutcome(True, env_key, f"src.{algoname}", None, algoname, style, src, env.python)


def _fail(log: Log, error: str, started: float, algoname: str | None, env_key: str | None) -> BuildOutcome:
    log(f"error: {error}")
    log(f"build failed in {time.monotonic() - started:.1f}s")
    return BuildOutcome(False, env_key, None, error, algoname)


def _algoname(src: Path, algo: str, log: Log) -> str:
    conf = src / "algorithmia.conf"
    if not conf.is_file():
        log(f"no algorithmia.conf: using the algorithm name {algo!r}")
        return algo
    try:
        data = json.loads(conf.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise _Failed(f"algorithmia.conf is not valid JSON ({e}): fix it or remove it") from None
    name = data.get("algoname") if isinstance(data, dict) else None
    if not name:
        log(f"algorithmia.conf has no algoname: using the algorithm name {algo!r}")
        return algo
    if not isinstance(name, str) or not _MODULE.match(name):
        raise _Failed(f"algorithmia.conf: algoname {name!r} is not a valid Python module name")
    return name


def _syntax_summary(lines: list[str]) -> str:
    """The useful end of compileall's report: `File "src/x.py", line 3` and `SyntaxError: ...`."""
    where = [line.strip() for line in lines if line.strip().startswith("File ")]
    errors = [line.strip() for line in lines if re.match(r"^\s*\w*Error\b", line)]
    parts = ([where[-1]] if where else []) + ([errors[-1]] if errors else [])
    return ": ".join(parts) if parts else "\n".join(lines[-5:])


def _entry_style(python: Path, src: Path, entry_file: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(python), "-I", "-S", "-c", _ENTRY_CHECK, entry_file],  # -S: as for compileall
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise _Failed(f"could not read {entry_file}: {last}")
    return proc.stdout.strip()
