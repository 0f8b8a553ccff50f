"""The schema: users, API keys, algorithms, builds, versions and hosted data.

Portable SQL only (SQLite by default, PostgreSQL by URL). JSON columns hold the
Algorithmia-shaped sub-objects (details, settings) that the API passes through.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(dt: datetime | None) -> str | None:
    """Timestamps as Algorithmia sends them: ISO-8601 with milliseconds and a literal Z."""
    return None if dt is None else dt.isoformat(timespec="milliseconds") + "Z"


def new_id() -> str:
    return str(uuid.uuid4())


def _name(length: int) -> String:
    """A name that listings page through in code point order: COLLATE "C" on PostgreSQL (migration 0002);
    SQLite compares bytes already."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")  # type: ignore[return-value]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(_name(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    keys: Mapped[list[ApiKey]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the full key
    key_mask: Mapped[str] = mapped_column(String(32))  # e.g. "simAbCd…" shown in listings
    key_type: Mapped[str] = mapped_column(String(32))  # "standard" | "admin"
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="keys")


class Algorithm(Base):
    __tablename__ = "algorithms"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # sample_input etc.
    # External repository ("backed by GitHub"): url, encrypted token, webhook secret.
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship()


class Build(Base):
    __tablename__ = "builds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    algorithm_id: Mapped[str] = mapped_column(ForeignKey("algorithms.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # per-algorithm order, newest = highest
    commit_sha: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(16), default="in-progress")
    env_key: Mapped[str | None] = mapped_column(String(128))
    entry: Mapped[str | None] = mapped_column(String(128))  # entry module name under src/
    trigger: Mapped[str] = mapped_column(String(32), default="push")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("algorithm_id", "major", "minor", "patch"),
        UniqueConstraint("algorithm_id", "build_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    algorithm_id: Mapped[str] = mapped_column(ForeignKey("algorithms.id", ondelete="CASCADE"), index=True)
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id"))
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    patch: Mapped[int] = mapped_column(Integer)
    git_hash: Mapped[str] = mapped_column(String(40))
    callability: Mapped[str] = mapped_column(String(16), default="private")
    release_notes: Mapped[str | None] = mapped_column(Text)
    sample_input: Mapped[str | None] = mapped_column(Text)
    sample_output: Mapped[str | None] = mapped_column(Text)
    # Release record: who, CI run URL, test summary, model digests.
    release: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    build: Mapped[Build] = relationship()

    @property
    def semantic_version(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


class DataCollection(Base):
    __tablename__ = "data_collections"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(_name(255))
    acl: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DataFile(Base):
    __tablename__ = "data_files"
    __table_args__ = (UniqueConstraint("collection_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("data_collections.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(_name(255))
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(512))
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WorkerAccount(Base):
    """An algorithm's operating-system account (runtime/accounts.py): uid = gid = base + id. Ids only
    grow (AUTOINCREMENT), so an account never passes to another algorithm, not even after a delete."""

    __tablename__ = "worker_accounts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    algorithm_id: Mapped[str | None] = mapped_column(ForeignKey("algorithms.id", ondelete="SET NULL"), unique=True)
