"""Users and API keys: creation, listing, revocation and authentication with an in-memory cache.

Authentication is on the hot call path, so a verified key is cached by its hash; any change to keys
or users clears the cache (one process today; a multi-node setup would broadcast the same event).
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from modelport.auth.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from modelport.auth.keys import (
    FULL_ACCESS,
    KEY_TYPES,
    STANDARD,
    Principal,
    generate_key,
    hash_key,
    mask_key,
    normalise_permissions,
)
from modelport.auth.passwords import hash_password, verify_password
from modelport.db import Database
from modelport.db.models import ApiKey, User, iso, utcnow

CACHE_SECONDS = 1.0
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class CreatedKey:
    key: str  # the only time the full key exists outside the caller's hands
    record: dict[str, Any]


def key_record(row: ApiKey, username: str) -> dict[str, Any]:
    """An ``ApiKey`` object as Algorithmia's API shapes it (without the secret)."""
    return {
        "id": row.id,
        "username": username,
        "owner_name": username,
        "key_label": row.label,
        "created_at": iso(row.created_at),
        "api_key_mask": row.key_mask,
        "key_type": "PlatformAdminKey" if row.key_type != STANDARD else "AlgorithmKey",
        "permissions": {k: v for k, v in row.permissions.items() if k != "administer_users"}
        | ({"administer_users": True} if row.permissions.get("administer_users") else {}),
        "revoked": row.revoked_at is not None,
    }


class AuthService:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Verified keys by hash, each with a deadline: revocations made by another process (the local
        # `modelport keys revoke`) take effect within CACHE_SECONDS; those made here, at once.
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._ephemeral: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    # --- users -------------------------------------------------------------------------------

    def count_users(self) -> int:
        with self.db.session() as s:
            return len(s.scalars(select(User.id)).all())

    def create_user(self, username: str, *, email: str | None = None, password: str | None = None,
                    is_admin: bool = False) -> User:
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            raise InvalidRequest(
                "username must start with a letter and hold only letters, digits, '_' or '-' (at most 64)")
        with self.db.session() as s:
            if s.scalar(select(User).where(User.username == username)) is not None:
                raise Conflict(f"user {username!r} already exists", code=2015)
            user = User(username=username, email=email, is_admin=is_admin,
                        password_hash=hash_password(password) if password else None)
            s.add(user)
            s.flush()
            return user

    def get_user(self, username: str) -> User:
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"No such user: {username}", code=2015)
            return user

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise InvalidRequest("password must be at least 8 characters")
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"No such user: {username}", code=2015)
            user.password_hash = hash_password(password)

    # --- keys --------------------------------------------------------------------------------

    def create_key(self, username: str, *, label: str = "default-key", key_type: str = STANDARD,
                   permissions: object = None, full_access: bool = False) -> CreatedKey:
        if key_type not in KEY_TYPES:
            raise InvalidRequest(f'"key_type" must be one of {", ".join(KEY_TYPES)}')
        try:
            perms = dict(FULL_ACCESS) if full_access else normalise_permissions(permissions)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if not isinstance(label, str) or not 0 < len(label) <= 128:
            raise InvalidRequest('"key_label" must be a non-empty string of at most 128 characters')
        key = generate_key()
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"No such user: {username}", code=2015)
            if key_type != STANDARD and not user.is_admin:
                raise InvalidRequest("only administrators can hold admin keys")
            if perms.get("administer_users") and not user.is_admin:
                perms["administer_users"] = False
            row = ApiKey(user_id=user.id, label=label, key_hash=hash_key(key), key_mask=mask_key(key),
                         key_type=key_type, permissions=perms)
            s.add(row)
            s.flush()
            return CreatedKey(key=key, record=key_record(row, username) | {"api_key": key})

    def list_keys(self, username: str, *, include_revoked: bool = False) -> list[dict[str, Any]]:
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"No such user: {username}", code=2015)
            rows = s.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)).all()
            return [key_record(r, username) for r in rows if include_revoked or r.revoked_at is None]

    def revoke_key(self, username: str, key_id: int) -> None:
        with self.db.session() as s:
            row = s.scalar(select(ApiKey).join(User).where(User.username == username, ApiKey.id == key_id))
            if row is None:
                raise NotFound(f"user {username} has no key with id {key_id}", code=2015)
            row.revoked_at = utcnow()
        self.invalidate()
        with self._lock:  # keys handed to running algorithms on this key's behalf die with it
            self._ephemeral = {d: e for d, e in self._ephemeral.items() if e[0].key_id != key_id}

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- authentication ----------------------------------------------------------------------

    def cached(self, key: str) -> Principal | None:
        """The warm path: a principal without touching the database, or None."""
        digest = hash_key(key)
        entry = self._cache.get(digest) or self._ephemeral.get(digest)
        if entry is not None and entry[1] >= time.monotonic():
            return entry[0]
        return None

    def authenticate(self, key: str) -> Principal:
        """Return the principal for a raw key, or raise Unauthenticated. Cached; constant-time compare."""
        principal = self.cached(key)
        if principal is not None:
            return principal
        digest = hash_key(key)
        if digest in self._ephemeral:
            self._ephemeral.pop(digest, None)
            raise Unauthenticated("this algorithm call's key has expired")
        with self.db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
            if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
                raise Unauthenticated("unknown or invalid API key")
            user = s.get(User, row.user_id)
            assert user is not None
            principal = Principal(user_id=user.id, username=user.username, is_admin=user.is_admin,
                                  key_type=row.key_type, permissions=dict(row.permissions), key_id=row.id)
        with self._lock:
            self._cache[digest] = (principal, time.monotonic() + CACHE_SECONDS)
        return principal

    def authenticate_password(self, username: str, secret: str) -> Principal | None:
        """Git over HTTP: ``username`` plus either the account password or one of the user's API keys."""
        try:
            principal = self.authenticate(secret)
        except Unauthenticated:
            principal = None
        if principal is not None:
            return principal if principal.username == username else None
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None or not verify_password(user.password_hash, secret):
                return None
            return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin,
                             key_type=STANDARD, permissions=dict(FULL_ACCESS))

    def issue_ephemeral(self, principal: Principal, ttl: float) -> tuple[str, str]:
        """A short-lived in-memory key for code running on a principal's behalf; returns (key, digest)."""
        key = generate_key()
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            if len(self._ephemeral) > 5_000:
                self._ephemeral = {d: e for d, e in self._ephemeral.items() if e[1] > now}
            self._ephemeral[digest] = (principal, now + ttl)
        return key, digest

    def principal_for_algorithm(self, owner: str, algorithm: str) -> Principal:
        """Who an algorithm acts as while it loads: itself, under its owner's name; it reads data its
        owner's algorithms may read and calls algorithms, never manages or writes."""
        user = self.get_user(owner)
        perms = {"allow_algo": True, "algo_acl": ["algo://*"], "allow_data": True, "allow_data_write": False,
                 "allow_algo_management": False}
        return Principal(user_id=user.id, username=user.username, is_admin=False, key_type=STANDARD,
                         permissions=perms, acting_algorithm=algorithm, as_algorithm=True)

    def drop_ephemeral(self, digest: str) -> None:
        self._ephemeral.pop(digest, None)


def parse_authorization(header: str | None) -> str | None:
    """Accept ``Simple <key>``, ``Bearer <key>`` and the bare key (the Python client sends it raw)."""
    if not header:
        return None
    header = header.strip()
    scheme, _, rest = header.partition(" ")
    if rest and scheme.lower() in ("simple", "bearer"):
        return rest.strip() or None
    return header
