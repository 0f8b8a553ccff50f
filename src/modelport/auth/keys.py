"""API keys and their permissions (Algorithmia's ``AuthPermissions``).

Keys are ``sim`` + 32 random url-safe characters (about 190 bits). Only their sha256 is stored:
a key has far more entropy than a password, so a fast hash is safe and lets us look keys up by hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

KEY_PREFIX = "sim"

# Key kinds: "standard" keys call algorithms, read/write data and manage algorithms as their
# permissions say; "admin" keys (Algorithmia's PlatformAdminKey) may only use admin endpoints.
STANDARD = "standard"
ADMIN = "admin"
KEY_TYPES = (STANDARD, ADMIN)

DEFAULT_PERMISSIONS: dict[str, Any] = {
    "allow_algo": True,
    "algo_acl": ["algo://*"],
    "allow_web_algo": False,
    "referer_host": None,
    "allow_data": True,
    "allow_data_write": False,
    "allow_algo_management": False,
}

FULL_ACCESS: dict[str, Any] = {
    **DEFAULT_PERMISSIONS,
    "allow_data_write": True,
    "allow_algo_management": True,
    "administer_users": True,
}

_BOOL_FIELDS = ("allow_algo", "allow_web_algo", "allow_data", "allow_data_write", "allow_algo_management",
                "administer_users")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def mask_key(key: str) -> str:
    return key[:7] + "…" + key[-2:]


def normalise_permissions(raw: object) -> dict[str, Any]:
    """Validate a permissions object from a request; raise ValueError naming the bad field."""
    if raw is None:
        return dict(DEFAULT_PERMISSIONS)
    if not isinstance(raw, dict):
        raise ValueError('"permissions" must be an object')
    perms = dict(DEFAULT_PERMISSIONS)
    for name in _BOOL_FIELDS:
        if name in raw:
            if not isinstance(raw[name], bool):
                raise ValueError(f'"permissions.{name}" must be true or false')
            perms[name] = raw[name]
    if "algo_acl" in raw:
        acl = raw["algo_acl"]
        if not isinstance(acl, list) or not all(isinstance(a, str) and a.startswith("algo://") for a in acl):
            raise ValueError('"permissions.algo_acl" must be a list of patterns like "algo://*" or "algo://user/*"')
        perms["algo_acl"] = acl
    if "referer_host" in raw:
        perms["referer_host"] = raw["referer_host"]
    return perms


def acl_allows(acl: list[str], owner: str, algo: str) -> bool:
    """Does an ``algo_acl`` list admit ``owner/algo``? Patterns: algo://*, algo://u/*, algo://u/a/*, algo://u/a."""
    for pattern in acl:
        parts = pattern[len("algo://"):].strip("/").split("/")
        if parts == ["*"]:
            return True
        if len(parts) >= 1 and parts[0] == owner and (len(parts) == 1 or parts[1] in ("*", algo)):
            return True
    return False


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user through one key, maybe from inside an algorithm."""

    user_id: int
    username: str
    is_admin: bool
    key_type: str
    permissions: dict[str, Any] = field(hash=False)
    key_id: int | None = None
    # Set for the short-lived keys handed to running algorithms: "owner/algo" of that algorithm.
    acting_algorithm: str | None = None
    # The key an algorithm loads with: it holds the algorithm's own rights, not its owner's as a user
    # (so, for example, it cannot read the owner's private data collections).
    as_algorithm: bool = False

    def can(self, permission: str) -> bool:
        return self.key_type == STANDARD and bool(self.permissions.get(permission))

    def can_call(self, owner: str, algo: str) -> bool:
        return self.can("allow_algo") and acl_allows(self.permissions.get("algo_acl") or [], owner, algo)

    @property
    def can_administer(self) -> bool:
        return self.is_admin and (self.key_type == ADMIN or bool(self.permissions.get("administer_users")))
