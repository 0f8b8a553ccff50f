#!/bin/sh
# modelport deploy as the "Execute shell" build step of a Jenkins freestyle project (docs/ci.md, "Jenkins").
# The job binds the API key to MODELPORT_API_KEY (Build Environment > Use secret text(s) or file(s)) and sets
# MODELPORT_API (and optionally ALGO, VERSION_SCHEMA, MODELPORT_PACKAGE) as parameters or environment.
# Add the post-build action "Publish JUnit test result report" with reports/modelport-junit.xml.
set -eu
export PYTHONUNBUFFERED=1 GIT_CONFIG_NOSYSTEM=1
: "${MODELPORT_PACKAGE:=modelport @ git+https://github.com/modelport/modelport@v1}"
venv="${WORKSPACE_TMP:-$WORKSPACE@tmp}/modelport-venv"
if [ "$(cat "$venv/.package" 2>/dev/null)" != "$MODELPORT_PACKAGE" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$MODELPORT_PACKAGE"
    echo "$MODELPORT_PACKAGE" > "$venv/.package"
fi
"$venv/bin/modelport" deploy . ${ALGO:+--algo "$ALGO"} \
    --version-schema "${VERSION_SCHEMA:-minor}" \
    --junit reports/modelport-junit.xml \
    --release-url "$BUILD_URL"
