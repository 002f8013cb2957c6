"""Page-level events, as `Change` values (scope "page", no source section).

Some changes are about the page as a whole rather than its text: it has gone, moved,
been withdrawn, stopped answering, gained a GOV.UK change note, or passed its NHS
"Next review due" date. Expressing them as ordinary changes lets linking, alerts and the
CI gate treat them like any other change.

Ids are the event kind ("gone", "change_note", ...), unique within one page's events;
the pipeline renumbers all of a page's changes together before storing them.
Review-date and "last updated" changes on their own are page furniture and never make an
event; only a next-review date that has passed does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from urllib.parse import urlsplit

from guidewatch.model import Change, ChangeKind, Page, Severity
from guidewatch.shorten import shorten
from guidewatch.text import typography

MAX_REASON_TEXT = 160

_MONTHS = {
    m: n
    for n, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")),
        1,
    )
    for m in names
}  # fmt: skip
_SHOWN_DATE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+(\d{4})")


def parse_day(value: object) -> date | None:
    """A calendar date from metadata: ISO date or timestamp, or a shown date ("12 March 2027")."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    m = _SHOWN_DATE.search(text)
    if m and m.group(2).lower() in _MONTHS:
        try:
            return date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
        except ValueError:
            return None
    return None


def _shown(day: date) -> str:
    """GOV.UK / NHS display format: "12 March 2027"."""
    return f"{day.day} {day:%B %Y}"


def _short(text: str) -> str:
    """One line of at most MAX_REASON_TEXT characters, cut between words."""
    return shorten(" ".join(text.split()), MAX_REASON_TEXT)


def _event(
    kind: ChangeKind, severity: Severity, reason: str, old: str = "", new: str = "", context: str = ""
) -> Change:
    return Change(
        id=kind,
        kind=kind,
        severity=severity,
        reason=reason,
        source_section=(),
        old=old,
        new=new,
        scope="page",
        context=context,
    )


# --- fetch outcomes -----------------------------------------------------------------------


def gone_event(url: str, http_status: int | None) -> Change:
    """The cited page no longer exists: 404/410, or a 200 page that says "not found" (soft 404)."""
    if http_status == 410:
        reason = "page gone (HTTP 410)"
    elif http_status is None or 200 <= http_status < 300:
        reason = "page now says it was not found (soft 404)"
    elif http_status == 404:
        reason = "page not found (HTTP 404)"
    else:
        reason = f"page gone (HTTP {http_status})"
    return _event("gone", "substantive", reason, old=url)


def _url_key(url: str) -> tuple[str, str, str]:
    """Host, path and query with the differences that never change the page dropped."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    return host, parts.path.rstrip("/") or "/", parts.query


def moved_event(url: str, final_url: str) -> Change:
    """The cited URL now redirects. Equivalent addresses (https, www, trailing slash) are
    cosmetic; a redirect to a site's home page usually means the page was removed."""
    old_key, new_key = _url_key(url), _url_key(final_url)
    if old_key == new_key:
        return _event("moved", "cosmetic", "redirects to an equivalent address", old=url, new=final_url)
    if new_key[1] == "/" and old_key[1] != "/":
        reason = f"redirects to the home page of {new_key[0] or final_url} (page probably removed)"
        return _event("moved", "substantive", reason, old=url, new=final_url)
    where = "another site" if old_key[0] != new_key[0] else "a new address"
    return _event("moved", "minor", f"page moved to {where}: {final_url}", old=url, new=final_url)


def withdrawn_event(page_or_meta: Page | Mapping[str, str]) -> Change:
    """The page is marked withdrawn (GOV.UK withdrawn notice); the explanation is the new text."""
    if isinstance(page_or_meta, Page):
        meta: Mapping[str, str] = page_or_meta.metadata
        url = page_or_meta.url
    else:
        meta, url = page_or_meta, page_or_meta.get("url", "")
    day = parse_day(meta.get("withdrawn_at"))
    explanation = " ".join((meta.get("withdrawn_explanation") or "").split())
    reason = "page withdrawn" + (f" on {_shown(day)}" if day else "")
    if explanation:
        reason += f": {_short(explanation)}"
    return _event("withdrawn", "substantive", reason, old=url, new=explanation)


def unreachable_event(
    url: str, failures: int, first_failed_at: datetime | date | str | None, last_error: str | None
) -> Change:
    """Repeated failed checks: nobody can tell whether the page changed, so an editor should look."""
    since = parse_day(first_failed_at)
    reason = f"unreachable: {failures} failed check{'s' if failures != 1 else ''} in a row"
    if since:
        reason += f" since {_shown(since)}"
    if last_error:
        reason += f" (last error: {_short(last_error)})"
    # `new` stays empty: one outage is one alert, whatever error each failed check gave
    return _event("unreachable", "minor", reason, old=url)


# --- metadata -----------------------------------------------------------------------------


def _change_note_event(old_meta: Mapping[str, str], new_meta: Mapping[str, str]) -> Change | None:
    """A GOV.UK change-history note that the baseline did not have.

    GOV.UK writes change notes only for major updates, so a new one is substantive even
    when the text diff looks small. Notes that differ only in typography, or that are
    older than the baseline's, are not new.
    """
    note = " ".join((new_meta.get("change_note") or "").split())
    if not note:
        return None
    old_note = old_meta.get("change_note") or ""
    new_at, old_at = parse_day(new_meta.get("change_note_at")), parse_day(old_meta.get("change_note_at"))
    if typography(note) == typography(old_note) and new_at == old_at:
        return None
    if new_at and old_at and new_at < old_at:
        return None
    context = f"change note of {_shown(new_at)}" if new_at else ""
    return _event(
        "change_note", "substantive", f"GOV.UK change note: {_short(note)}", old_note, note, context
    )


def _review_due_event(new_meta: Mapping[str, str], today: date) -> Change | None:
    """The NHS page's "Next review due" date has passed: the page may be out of date."""
    due = parse_day(new_meta.get("next_review_due"))
    if due is None or due >= today:
        return None
    days = (today - due).days
    reason = f"next review was due {_shown(due)} ({days} day{'s' if days != 1 else ''} overdue)"
    return _event("review_due", "minor", reason, new=due.isoformat())


def metadata_events(
    old_meta: Mapping[str, str] | None, new_meta: Mapping[str, str], *, today: date
) -> list[Change]:
    """Events from page metadata, relative to the baseline's (`old_meta`, None before any).

    "change_note": a GOV.UK change note the baseline did not have (none without a baseline:
    notes older than monitoring are not news). "review_due": the next-review date has
    passed. Changed "last reviewed" / "next review due" dates alone give nothing.
    """
    events: list[Change] = []
    if old_meta is not None:
        note = _change_note_event(old_meta, new_meta)
        if note:
            events.append(note)
    due = _review_due_event(new_meta, today)
    if due:
        events.append(due)
    return events
