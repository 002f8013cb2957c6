"""The store: snapshots only on real change, alert lifecycle, audit trail, outbox, lock."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from guidewatch.app.workspace import watched_sources
from guidewatch.model import Block, Change, FetchOutcome, Impact, Page
from guidewatch.sources.guides import load_guide
from guidewatch.sources.profiles import load_profiles
from guidewatch.store import LockHeld, Store

GUIDE = Path(__file__).parent / "fixtures" / "guides" / "gene-therapy-atmps-uk.md"
URL = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"


def page(*texts: str) -> Page:
    blocks = [Block(("Hospital exemption",), "heading", "Hospital exemption", 2)]
    blocks += [Block(("Hospital exemption",), "p", t) for t in texts]
    return Page(URL, "govuk", "ATMPs", blocks, {"public_updated_at": "2026-01-01"})


def ok(body: bytes = b"x", **kw: object) -> FetchOutcome:
    return FetchOutcome(url=URL, status="ok", http_status=200, body=body,
                        fetched_at=datetime.now(UTC), **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    guides = [load_guide(GUIDE)]
    s.guides.sync(guides, watched_sources(guides, (), load_profiles()))
    yield s
    s.close()


def change(old: str, new: str, severity: str = "substantive") -> Change:
    return Change("c1", "modified", severity, "wording changed", ("Hospital exemption",), old, new)  # type: ignore[arg-type]


IMPACT = Impact("gene-therapy-atmps-uk", "what-is-hospital-exemption", "What is hospital exemption?", 0.8,
                ("hospital exemption",))


def test_sync_guides_creates_sources_for_external_citations(store: Store) -> None:
    urls = {s.url for s in store.sources.all()}
    assert URL in urls and "https://www.nhs.uk/conditions/genetic-and-genomic-testing/" in urls
    assert len(urls) == 3
    assert {s.profile for s in store.sources.all()} == {"govuk", "nhsuk"}
    g = store.guides.all()[0]
    assert g.section("what-is-hospital-exemption").level == 2
    assert {m.body for m in g.mentions} >= {"MHRA", "NICE"}


def test_sync_keeps_an_unchanged_guide_and_rewrites_a_changed_one(store: Store) -> None:
    import dataclasses

    written: list[str] = []  # the statements that change a guide's sections or citations

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("DELETE", "INSERT")) and ("citations" in statement
                                                                           or "sections" in statement):
            written.append(statement)

    event.listen(store.db.engine, "before_cursor_execute", seen)
    [guide] = store.guides.all()
    again = [load_guide(GUIDE)]
    store.guides.sync(again, watched_sources(again, (), load_profiles()))
    assert written == [] and store.guides.all() == [guide]  # nothing rewritten, nothing lost
    first = guide.citations[0]
    edited = dataclasses.replace(again[0], citations=[dataclasses.replace(first, text="renamed link"),
                                                      *guide.citations[1:]])
    store.guides.sync([edited], watched_sources([edited], (), load_profiles()))
    event.remove(store.db.engine, "before_cursor_execute", seen)
    assert {w.split("(")[0].split(" WHERE")[0] for w in written} == {  # its rows deleted and written again
        "DELETE FROM sections", "DELETE FROM citations", "INSERT INTO sections ", "INSERT INTO citations "}
    [stored] = store.guides.all()
    assert stored.citations[0].text == "renamed link" and stored.citations[1:] == guide.citations[1:]
    assert stored.sections == guide.sections and stored.mentions == guide.mentions


def test_snapshot_only_when_text_changes(store: Store) -> None:
    first = store.sources.record_fetch(ok(), page("Old text."))
    assert first.new_snapshot is not None
    assert first.source.reviewed_snapshot_id == first.new_snapshot.id  # first version is the baseline
    same = store.sources.record_fetch(ok(), page("Old text."))
    assert same.new_snapshot is None
    changed = store.sources.record_fetch(ok(), page("New text."))
    assert changed.new_snapshot is not None and changed.previous_snapshot is not None
    assert changed.source.reviewed_snapshot_id == first.new_snapshot.id
    assert store.sources.snapshot(changed.new_snapshot.id).page().blocks == page("New text.").blocks


def test_failed_fetch_never_touches_snapshots(store: Store) -> None:
    store.sources.record_fetch(ok(), page("Text."))
    before = store.sources.get(URL)
    for i in range(3):
        r = store.sources.record_fetch(FetchOutcome(url=URL, status="failed", error="timeout", transient=True,
                                            fetched_at=datetime.now(UTC)), None, unreachable_after=3)
        assert r.new_snapshot is None
        assert r.source.consecutive_failures == i + 1
    after = store.sources.get(URL)
    assert after.current_snapshot_id == before.current_snapshot_id
    assert after.state == "unreachable"
    store.sources.record_fetch(ok(), page("Text."))
    assert store.sources.get(URL).consecutive_failures == 0


def test_alert_lifecycle_supersede_and_accept(store: Store) -> None:
    s1 = store.sources.record_fetch(ok(), page("Hospitals may use it."))
    s2 = store.sources.record_fetch(ok(), page("Hospitals must notify."))
    src = s2.source
    ids = store.changes.record(src.id, s1.new_snapshot.id, s2.new_snapshot.id,
                               [(change("Hospitals may use it.", "Hospitals must notify."), [IMPACT])])
    assert len(ids) == 1
    # the same change seen again is not news
    assert store.changes.record(src.id, None, None,
                                [(change("Hospitals may use it.", "Hospitals must notify."), [IMPACT])]) == []
    # a newer change to the same passage supersedes the open alert
    newer = store.changes.record(src.id, None, None,
                                 [(change("Hospitals may use it.", "Hospitals must notify annually."), [IMPACT])])
    assert len(newer) == 1
    alerts = {a.id: a for a in store.alerts.find(status=None)}
    assert alerts[ids[0]].status == "superseded" and alerts[newer[0]].status == "open"
    review, snap = store.reviews.accept(URL, by="A. Editor", note="FAQ updated")
    assert review.alerts_closed == 1 and snap is not None and snap.id == s2.new_snapshot.id
    assert store.alerts.find(status="open") == []
    assert store.sources.get(URL).reviewed_snapshot_id == s2.new_snapshot.id
    trail = store.reviews.find(URL)
    assert [r.reviewed_by for r in trail] == ["guidewatch (baseline)", "A. Editor"]
    assert trail[-1].content_hash == s2.new_snapshot.content_hash


def test_cosmetic_changes_open_no_alert(store: Store) -> None:
    src = store.sources.record_fetch(ok(), page("a")).source
    assert store.changes.record(src.id, None, None, [(change("a", "a ", "cosmetic"), [])]) == []


def test_page_event_accepted_is_not_raised_again(store: Store) -> None:
    src = store.sources.record_fetch(ok(), page("a")).source
    moved = Change("c1", "moved", "substantive", "page moved", (), URL, URL + "-new", scope="page")
    assert store.changes.record(src.id, None, None, [(moved, [IMPACT])], replace_open=False)
    store.reviews.accept(URL, by="ed")
    assert store.changes.record(src.id, None, None, [(moved, [IMPACT])], replace_open=False) == []


def test_outbox_is_idempotent_and_retries(store: Store) -> None:
    d = store.outbox.enqueue("email:k1", "email", "ed@example.org", "subj", {"text": "t"}, [1])
    assert d is not None
    assert store.outbox.enqueue("email:k1", "email", "ed@example.org", "subj", {"text": "t"}, [1]) is None
    claimed = store.outbox.claim()
    assert [c.key for c in claimed] == ["email:k1"]
    assert store.outbox.claim() == []  # a concurrent worker gets nothing
    store.outbox.failed(claimed[0].id, "451 try later", retry_base=0.0, max_attempts=5)
    again = store.outbox.claim(now=datetime.now(UTC) + timedelta(seconds=1))
    assert [c.attempts for c in again] == [1]
    store.outbox.done(again[0].id)
    assert store.outbox.find("sent")[0].attempts == 2
    assert store.outbox.claim(now=datetime.now(UTC) + timedelta(days=1)) == []


def test_lock_refuses_second_holder_and_is_taken_over_when_holder_dies(store: Store, store_url: str) -> None:
    store.locks.acquire("scheduler", "one")
    with pytest.raises(LockHeld, match="held by one"):
        store.locks.acquire("scheduler", "two")
    store.locks.release("scheduler", "one")
    store.locks.acquire("scheduler", "two")
    store.locks.release("scheduler", "two")
    # a holder process that died without releasing: the lock is taken over
    code = (f"from guidewatch.store import Store; s = Store({store_url!r}); "
            "s.locks.acquire('scheduler', 'dead-one'); import os; os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))
    store.locks.acquire("scheduler", "three")
    store.locks.release("scheduler", "three")


def test_reopening_store_keeps_data_and_migrations_are_idempotent(store_url: str) -> None:
    s = Store(store_url)
    guides = [load_guide(GUIDE)]
    s.guides.sync(guides, watched_sources(guides, (), load_profiles()))
    s.close()
    s2 = Store(store_url)
    assert len(s2.sources.all()) == 3
    s2.close()


def test_schema_head_is_alembic_head_and_an_up_to_date_store_skips_alembic(store_url: str) -> None:
    """`SCHEMA_HEAD` must name the newest migration, or a new migration would never run."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from guidewatch.store import MIGRATIONS, SCHEMA_HEAD, at_head, make_engine

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD
    engine = make_engine(store_url)
    try:
        assert not at_head(engine), "a fresh database is not at head"
        Store(store_url).close()
        assert at_head(engine)
    finally:
        engine.dispose()
    code = (f"import sys; from guidewatch.store import Store; Store({store_url!r}).close(); "
            "print('alembic' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "False", run.stderr


def test_change_note_without_text_change_is_a_new_version(store: Store) -> None:
    first = store.sources.record_fetch(ok(), page("Text."))
    noted = page("Text.")
    noted.metadata.update(change_note="Hospital exemption section updated", change_note_at="2026-11-20")
    second = store.sources.record_fetch(ok(), noted)
    assert second.new_snapshot is not None, "a new GOV.UK change note must not be swallowed"
    assert second.new_snapshot.content_hash == first.new_snapshot.content_hash
    reviewed = store.sources.snapshot(second.source.reviewed_snapshot_id)
    assert "change_note" not in reviewed.meta, "the reviewed version keeps what the editor saw"
    # a review-date-only drift is not a new version
    dated = page("Text.")
    dated.metadata.update(noted.metadata, last_reviewed="2026-11-21")
    assert store.sources.record_fetch(ok(), dated).new_snapshot is None


NHS_URL = "https://www.nhs.uk/conditions/genetic-and-genomic-testing/"


@pytest.mark.parametrize("state_before", ["ok", "unreachable", "new"])
def test_batched_304s_record_exactly_what_one_at_a_time_does(store: Store, state_before: str) -> None:
    """`record_not_modified` (a re-crawl's many 304s in one transaction) must leave each source
    exactly as `record_fetch` leaves it for the same 304."""
    when = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    due = when + timedelta(days=1)
    for url in (URL, NHS_URL):  # the same history for both sources
        first = FetchOutcome(url=url, status="ok", http_status=200, body=b"x", fetched_at=when,
                             headers={"etag": '"v1"', "last-modified": "Mon, 01 Jan 2026 00:00:00 GMT"})
        store.sources.record_fetch(first, page("Text."))
        if state_before != "ok":
            for _ in range(3):
                store.sources.record_fetch(FetchOutcome(url=url, status="failed", error="timeout", transient=True,
                                                        fetched_at=when), None, unreachable_after=3)
    if state_before == "new":
        with store.session() as s:  # a source that somehow has a version but was never marked ok
            from guidewatch.store import SourceRow

            for row in s.query(SourceRow).filter(SourceRow.url.in_([URL, NHS_URL])):
                row.state = "new"

    def not_modified(url: str, headers: dict[str, str]) -> FetchOutcome:
        return FetchOutcome(url=url, status="not_modified", http_status=304, fetched_at=when, elapsed_ms=3,
                            headers=headers)

    one = store.sources.record_fetch(not_modified(URL, {"etag": '"v2"'}), None, next_due_at=due).source
    nhs = store.sources.get(NHS_URL)
    store.sources.record_not_modified([(nhs.id, not_modified(NHS_URL, {"etag": '"v2"'}), due)])
    batched = store.sources.get(NHS_URL)
    fields = ("state", "etag", "last_modified", "last_checked_at", "last_ok_at", "consecutive_failures",
              "first_failed_at", "last_error", "current_snapshot_id", "next_due_at")
    one_fields = {f: getattr(one, f) for f in fields}
    batched_fields = {f: getattr(batched, f) for f in fields}
    one_fields["current_snapshot_id"] = batched_fields["current_snapshot_id"] = None  # each its own
    assert batched_fields == one_fields
    assert batched.state == "ok" and batched.etag == '"v2"' and batched.consecutive_failures == 0
    assert batched.last_modified == "Mon, 01 Jan 2026 00:00:00 GMT", "a 304 without Last-Modified keeps the old one"
    assert batched.next_due_at == due and batched.last_checked_at == when
    assert store.sources.fetch_history(NHS_URL, limit=1)[0] == {**store.sources.fetch_history(URL, limit=1)[0]}
    assert store.sources.fetch_history(NHS_URL, limit=1)[0]["status"] == "not_modified"


def test_one_batch_of_304s_clears_each_source_by_its_own_state(store: Store) -> None:
    """Several sources in one batch: an unreachable one answers again (ok), a gone one stays gone."""
    when = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    for url in (URL, NHS_URL):
        store.sources.record_fetch(FetchOutcome(url=url, status="ok", http_status=200, body=b"x", fetched_at=when),
                                   page("Text."))
    for _ in range(3):
        store.sources.record_fetch(FetchOutcome(url=URL, status="failed", error="timeout", fetched_at=when), None)
    gone = store.sources.get(NHS_URL)
    store.sources.mark_state(gone.id, "gone")
    unreachable = store.sources.get(URL)
    assert unreachable.state == "unreachable"
    answer = FetchOutcome(url=URL, status="not_modified", http_status=304, fetched_at=when)
    store.sources.record_not_modified([(unreachable.id, answer, None), (gone.id, answer, None)])
    assert store.sources.get(URL).state == "ok" and store.sources.get(URL).consecutive_failures == 0
    assert store.sources.get(NHS_URL).state == "gone"


def test_batched_304s_are_one_transaction(store: Store) -> None:
    """A batch that cannot be written leaves no part of itself behind."""
    store.sources.record_fetch(ok(), page("Text."))
    src = store.sources.get(URL)
    before = len(store.sources.fetch_history(URL, limit=100))
    good = FetchOutcome(url=URL, status="not_modified", http_status=304, fetched_at=datetime.now(UTC))
    with pytest.raises(Exception):  # noqa: B017 - an unknown source id breaks the foreign key
        store.sources.record_not_modified([(src.id, good, None), (987654, good, None)])
    assert len(store.sources.fetch_history(URL, limit=100)) == before
    assert store.sources.get(URL).last_checked_at == src.last_checked_at


def test_dismissals_are_read_in_one_query_each_with_the_sentence_it_was_made_on(store: Store) -> None:
    """The linker reads every mark of a source before linking it: one SELECT however many marks there
    are, and each mark names the guide sentence of the impact the editor judged."""
    src = store.sources.record_fetch(ok(), page("Hospitals may use it.")).source
    judged = []
    for n in range(3):
        sentence = f"Guide sentence {n} the editor read."
        impact = Impact(IMPACT.guide, IMPACT.section, IMPACT.heading, 0.5, ("hospital exemption", sentence))
        [alert] = store.changes.record(src.id, None, None, [(change("Hospitals may use it.", f"Hospitals must {n}."),
                                                              [impact])])
        [made] = [a.change for a in store.alerts.find(ids=[alert])]
        mark = store.changes.dismiss(made.id, IMPACT.section, by=f"Editor {n}")
        assert mark.sentence == sentence and mark.source_url == URL
        judged.append(sentence)
    selects: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(store.db.engine, "before_cursor_execute", seen)
    try:
        marks = store.changes.dismissals()
    finally:
        event.remove(store.db.engine, "before_cursor_execute", seen)
    assert len(selects) == 1, selects
    assert [(m.by, m.sentence, m.source_url) for m in marks] == [(f"Editor {n}", judged[n], URL) for n in range(3)]
