#!/usr/bin/env bash
# Install modelport from this action's own checkout into a virtualenv, reused while the source is unchanged.
# Usage: install.sh [EXTRAS] [REQUIREMENTS_FILE]   e.g. install.sh '[notebook]' requirements.txt
# Prints the virtualenv's bin directory on stdout; the venv lives under $MODELPORT_ACTION_VENV
# (default: the runner's tool cache) in a folder named after a hash of the source, Python and extras.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
requirements="${2:-}"
python="${MODELPORT_PYTHON:-python3}"
base="${MODELPORT_ACTION_VENV:-${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/modelport-action}"

key="$("$python" - "$src" "$extras" <<'PY'
import hashlib, pathlib, sys
src, extras = pathlib.Path(sys.argv[1]), sys.argv[2]
digest = hashlib.sha256(f"{sys.version}|{extras}".encode())
for path in sorted([src / "pyproject.toml", *(src / "src").rglob("*")]):
    if path.is_file() and "__pycache__" not in path.parts:
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
print(digest.hexdigest()[:16])
PY
)"
venv="$base/$key"

if [ ! -f "$venv/.complete" ]; then
    echo "installing modelport from $src into $venv" >&2
    rm -rf "$venv"
    mkdir -p "$base"
    if command -v uv >/dev/null 2>&1; then
        uv venv -q -p "$python" "$venv" >&2
        uv pip install -q -p "$venv/bin/python" "${src}${extras}" >&2
    else
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "${src}${extras}" >&2
    fi
fi
touch "$venv/.complete"  # last use, for whoever prunes the cache

if [ -n "$requirements" ] && [ -f "$requirements" ]; then
    echo "installing $requirements" >&2
    if command -v uv >/dev/null 2>&1; then
        uv pip install -q -p "$venv/bin/python" -r "$requirements" >&2
    else
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" >&2
    fi
fi

echo "$venv/bin"
