"""The usual alternative: SQLAlchemy 2's async ORM doing the same lookup with mapped classes.

This is what an application would write without asyncauth: two mapped classes over the same
tables, one ``select`` joining them, a new ``AsyncSession`` per request, on an engine whose
pool has the same size as the other contenders' (no overflow).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy import DateTime, ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from asyncauth.bench import Lookup

UTC = timezone.utc


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    email_verified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    image: Mapped[str | None] = mapped_column(Text)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    session_token: Mapped[str] = mapped_column(String(255), unique=True)
    access_token: Mapped[str] = mapped_column(String(255), unique=True)


def engine_args(url: str) -> tuple[str, dict[str, Any]]:
    """SQLAlchemy's URL and connect arguments for one of the benchmark's scratch URLs."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return "sqlite+aiosqlite://" + url[len("sqlite://") :], {}
    if scheme in ("postgresql", "postgres"):
        # The scratch schema travels as asyncpg server settings, not as a URL parameter.
        settings = dict(parse_qsl(parts.query))
        bare = urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=""))
        return bare, {"server_settings": settings} if settings else {}
    if scheme in ("mysql", "mariadb"):
        # UTC sessions, as asyncauth's driver sets them (TIMESTAMPs convert by session zone).
        return urlunsplit(parts._replace(scheme="mysql+aiomysql")), {
            "init_command": "SET time_zone = '+00:00'"
        }
    raise ValueError(f"no SQLAlchemy contender for {scheme!r}")


@asynccontextmanager
async def orm_contender(url: str, pool_size: int) -> AsyncIterator[Lookup]:
    """The ORM lookup on a pool of ``pool_size`` (an ``AsyncSession`` per call)."""
    sa_url, connect_args = engine_args(url)
    engine = create_async_engine(
        sa_url, pool_size=pool_size, max_overflow=0, connect_args=connect_args
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def lookup(token: str) -> object:
        stmt = (
            select(SessionRow, UserRow)
            .join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.session_token == token, SessionRow.expires > datetime.now(UTC))
        )
        async with sessions() as session:
            return (await session.execute(stmt)).first()

    try:
        yield lookup
    finally:
        await engine.dispose()
