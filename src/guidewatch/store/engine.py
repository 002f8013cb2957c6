"""The engine: connections (SQLite pragmas), the schema's migrations, and the session helper
every repository shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from guidewatch.exitcodes import USAGE


class StoreError(RuntimeError):
    exit_code = USAGE  # a request the store cannot do as asked (unknown source, lock held)


class LockHeld(StoreError):
    pass


MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


#: The newest migration's revision id (tests check it against Alembic's own head).
SCHEMA_HEAD = "0005"


def at_head(engine: Engine) -> bool:
    """Whether the schema is already at `SCHEMA_HEAD`: then every command skips importing and
    running Alembic (~15 MB and ~0.2 s of each start-up)."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))] == [SCHEMA_HEAD]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe to run every start)."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.exc import DBAPIError

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Two processes opening a fresh database: the second waits for the first.
                    conn.execute(text("SELECT pg_advisory_xact_lock(7301946523)"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return
        except DBAPIError as exc:
            # SQLite has no advisory lock: a racing first start sees "already exists"; the
            # other process has created the schema, so upgrading again finds it at head.
            if attempt == 2 or "already exists" not in str(exc.orig):
                raise



class Db:
    """One engine and its sessions: what each repository is given."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._sessions.begin() as s:
            yield s

    def claim_lock(self, s: Session) -> None:
        """On SQLite, take the write lock before a claim's SELECT (PostgreSQL locks the rows):
        pysqlite would read outside any transaction, and two processes could claim the same rows."""
        if self.engine.dialect.name == "sqlite":
            s.connection().exec_driver_sql("BEGIN IMMEDIATE")
