"""PostgreSQL: the suite's store wiring, and row locking (SKIP LOCKED) for concurrent workers.

The `postgres_url` tests need a server (GUIDEWATCH_TEST_POSTGRES_URL; `.ci/run` sets it) and
report as skipped without one. The claim helpers are shared with tests/test_distributed.py,
which runs the same concurrency checks on whichever store the suite uses.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from guidewatch.store import Store
from test_distributed import claim_concurrently, seed_store


def test_store_url_is_the_backend_the_suite_was_asked_for(store_url: str) -> None:
    """GUIDEWATCH_TEST_STORE=postgres really gives every store_url test a PostgreSQL database."""
    expected = "postgresql" if os.environ.get("GUIDEWATCH_TEST_STORE", "sqlite") == "postgres" else "sqlite"
    assert store_url.startswith(expected)
    store = Store(store_url)
    try:
        assert store.engine.dialect.name == expected
        with store.engine.connect() as conn:  # the migrations ran on it
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        store.close()


def test_two_processes_never_claim_the_same_source_or_delivery(postgres_url: str, tmp_path: Path) -> None:
    store = seed_store(postgres_url, sources=200, deliveries=200)
    try:
        for kind, claimed in claim_concurrently(postgres_url, tmp_path, processes=2).items():
            everything = [i for ids in claimed for i in ids]
            assert len(everything) == len(set(everything)) == 200, (kind, [len(c) for c in claimed])
    finally:
        store.close()


def test_claims_skip_rows_another_worker_holds_instead_of_waiting(postgres_url: str) -> None:
    """A claim runs while another transaction holds the first rows FOR UPDATE: it takes the
    next rows at once (SKIP LOCKED), it neither waits nor returns the held ones."""
    store = seed_store(postgres_url, sources=10, deliveries=10)
    every_source = {s.id for s in store.sources.all()}
    other = create_engine(postgres_url)
    try:
        with other.connect() as conn, conn.begin():
            held_sources = set(conn.execute(text(
                "SELECT id FROM sources ORDER BY next_due_at, id LIMIT 4 FOR UPDATE")).scalars())
            held_deliveries = set(conn.execute(text(
                "SELECT id FROM deliveries ORDER BY id LIMIT 4 FOR UPDATE")).scalars())
            t0 = time.monotonic()
            sources = store.sources.claim_due("worker-2", 4)
            deliveries = store.outbox.claim(limit=4)
            assert time.monotonic() - t0 < 5
            assert len(sources) == 4 and not held_sources & {s.id for s in sources}
            assert len(deliveries) == 4 and not held_deliveries & {d.id for d in deliveries}
        # Once the other transaction ends, what it held is claimable; what was claimed is not.
        rest = store.sources.claim_due("worker-3", 10)
        assert {s.id for s in rest} == every_source - {s.id for s in sources}
    finally:
        other.dispose()
        store.close()


def test_the_postgres_spelling_of_the_store_variable_opens_the_database(postgres_url: str, tmp_path: Path) -> None:
    """GUIDEWATCH_STORE=postgres://… (the common spelling) works like postgresql://…"""
    import shutil
    import subprocess
    import sys

    assert postgres_url.startswith("postgresql://")
    (tmp_path / "guidewatch.toml").write_text("")
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]
    env = {**os.environ, "GUIDEWATCH_STORE": "postgres://" + postgres_url.removeprefix("postgresql://")}
    r = subprocess.run([*cmd, "digest"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:  # the command migrated that very database
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()
