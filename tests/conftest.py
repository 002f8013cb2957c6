"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from httpserver import LocalHTTPServer


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    """A fresh local HTTP server on 127.0.0.1 (free port) for this test; see tests/httpserver.py."""
    with LocalHTTPServer() as server:
        yield server


# --- the store under test: SQLite by default, PostgreSQL when CI asks for it ----------------

import os  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

POSTGRES_URL = os.environ.get("GUIDEWATCH_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("GUIDEWATCH_TEST_REDIS_URL")
STORE_BACKEND = os.environ.get("GUIDEWATCH_TEST_STORE", "sqlite")


def _postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL, "GUIDEWATCH_TEST_POSTGRES_URL is not set"
    admin_url = make_url(POSTGRES_URL)
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """The store URL a test should use: SQLite in tmp_path, or a fresh PostgreSQL database
    when GUIDEWATCH_TEST_STORE=postgres (set by .ci/run)."""
    if STORE_BACKEND == "postgres":
        yield from _postgres_database()
    else:
        yield f"sqlite:///{tmp_path / 'guidewatch.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database; skipped (with the reason) when no server is configured."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set GUIDEWATCH_TEST_POSTGRES_URL (.ci/run does)")
    yield from _postgres_database()


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("Redis not configured: set GUIDEWATCH_TEST_REDIS_URL (.ci/run does)")
    return REDIS_URL
