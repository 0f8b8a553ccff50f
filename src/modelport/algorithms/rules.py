"""Validation of algorithm names, details and settings (reference 3.1 and 3.3)."""

from __future__ import annotations

import json
import re
from typing import Any

from modelport.auth.errors import InvalidRequest

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_NAME = 64

LANGUAGES = ("java", "javascript", "python2-langpack", "python3-1", "python3", "r", "ruby", "rust", "scala")
CHOICES: dict[str, tuple[str, ...]] = {
    "algorithm_callability": ("public", "private"),
    "source_visibility": ("open", "closed"),
    "environment": ("cpu", "gpu"),
    "license": ("apl", "apache2", "gpl3", "mit"),
    "network_access": ("isolated", "full"),
    "language": LANGUAGES,
}
BOOLEANS = ("pipeline_enabled", "insights_enabled")
STRINGS = ("package_set", "algorithm_environment")

# What a new algorithm gets when the request leaves a setting out (Algorithmia required these;
# we default them so a bare {"name": ...} works, and document it).
DEFAULT_SETTINGS: dict[str, Any] = {
    "algorithm_callability": "private",
    "source_visibility": "closed",
    "license": "apl",
    "network_access": "full",
    "pipeline_enabled": True,
    "insights_enabled": False,
    "royalty_microcredits": 0,
}
DETAIL_FIELDS = ("label", "summary", "tagline")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidRequest('"name" is required and must be a string')
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"algorithm name is {len(name)} characters long; the limit is {MAX_NAME}")
    if not NAME_RE.match(name):
        raise InvalidRequest(
            f"invalid algorithm name {name!r}: use letters, digits and underscores, starting with a letter")
    return name


def clean_details(raw: object, base: dict[str, Any] | None = None) -> dict[str, Any]:
    if raw is None:
        return dict(base or {})
    if not isinstance(raw, dict):
        raise InvalidRequest('"details" must be an object with "label", "summary", "tagline"')
    details = dict(base or {})
    for key in DETAIL_FIELDS:
        if key in raw and raw[key] is not None:
            if not isinstance(raw[key], str):
                raise InvalidRequest(f'"details.{key}" must be a string')
            details[key] = raw[key]
    return details


def clean_settings(raw: object, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``raw`` over ``base`` after checking every known field; unknown fields are ignored."""
    if raw is None:
        return dict(base or {})
    if not isinstance(raw, dict):
        raise InvalidRequest('"settings" must be an object')
    settings = dict(base or {})
    for key, allowed in CHOICES.items():
        if key in raw and raw[key] is not None:
            if raw[key] not in allowed:
                raise InvalidRequest(f'"settings.{key}" must be one of {", ".join(allowed)} (got {raw[key]!r})')
            settings[key] = raw[key]
    for key in BOOLEANS:
        if key in raw and raw[key] is not None:
            if not isinstance(raw[key], bool):
                raise InvalidRequest(f'"settings.{key}" must be true or false')
            settings[key] = raw[key]
    for key in STRINGS:
        if key in raw and raw[key] is not None:
            if not isinstance(raw[key], str) or not raw[key]:
                raise InvalidRequest(f'"settings.{key}" must be a non-empty string')
            settings[key] = raw[key]
    if "royalty_microcredits" in raw and raw["royalty_microcredits"] is not None:
        value = raw["royalty_microcredits"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidRequest('"settings.royalty_microcredits" must be an integer >= 0')
        settings["royalty_microcredits"] = value
    if "package_set" in raw and raw.get("package_set"):
        settings.pop("language", None)
        settings.pop("environment", None)
    elif "language" in raw and raw.get("language"):
        settings.pop("package_set", None)
    return settings


def new_settings(raw: object) -> dict[str, Any]:
    settings = clean_settings(raw, DEFAULT_SETTINGS)
    if "package_set" not in settings and "language" not in settings:
        settings["language"] = "python3-1"
    if "language" in settings:
        settings.setdefault("environment", "cpu")
    if settings["source_visibility"] == "closed" and settings["license"] != "apl":
        raise InvalidRequest('closed source algorithms must use the "apl" license')
    return settings


def clean_version_info(raw: object, base: dict[str, Any] | None = None) -> dict[str, Any]:
    if raw is None:
        return dict(base or {})
    if not isinstance(raw, dict):
        raise InvalidRequest('"version_info" must be an object')
    info = dict(base or {})
    for key in ("sample_input", "sample_output", "release_notes"):
        if key in raw and raw[key] is not None:
            value = raw[key]
            info[key] = value if isinstance(value, str) else json.dumps(value)
    return info
