"""Alembic migrations of the record store, run by :class:`enrollment.store.Store` on open.

``upgrade(engine)`` brings a database to the newest revision; ``head()`` names it. The
migration scripts live in the data folder ``enrollment/migrations/`` (``env.py``,
``versions/``); no ``alembic.ini`` is needed: the script location is that folder and the
connection is handed over in ``config.attributes``.

Examples
--------
>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://")
>>> upgrade(engine)
>>> current(engine) == head()
True
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

__all__ = ["current", "head", "upgrade"]

_HERE = Path(__file__).resolve().parent / "migrations"


def _config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


def head() -> str:
    """The newest revision."""
    with _quiet():
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Alembic logs every step at INFO; the store's users want to hear of migrations only."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with _quiet(), engine.connect() as conn:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default the newest) in one transaction."""
    before = current(engine)
    if before == head() and revision == "head":
        return
    config = _config()
    with _quiet(), engine.begin() as conn:
        from alembic import command

        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    logging.getLogger(__name__).info("store migrated from %s to %s", before, revision)
