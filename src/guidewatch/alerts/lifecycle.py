"""What an editor's review can clear, and when guidewatch closes an alert by itself.

Pure rules, shared by `accept`, the digest and `check` so that the three always agree:

- `accept` records that an editor reviewed a source's current *text*. It cannot clear a
  page that is gone, withdrawn, moved to another address or unreachable: `check` fails on
  those while they last, whatever was accepted. So `accept` refuses such a source, saying
  what clears it (the guide's link, or the page answering again), and neither the digest nor
  `check` offers an accept command for it.
- Some alerts end without a review: an NHS page whose "Next review due" date moves into the
  future is no longer overdue; a source that no guide cites any more needs no review at all.
  guidewatch closes those alerts itself, with the reason in the audit trail (`history`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from guidewatch.changes.events import moved_event, parse_day

#: Source states that accepting cannot clear; they end when the guide's link changes or the page answers again.
BLOCKING_STATES = ("gone", "withdrawn", "moved", "unreachable")

#: Who closed an alert guidewatch closed itself (alerts' closed_by; "guidewatch (automatic)" in `history`).
AUTOMATIC = "guidewatch"


@dataclass(frozen=True)
class Closure:
    """Open alerts of one source that guidewatch closes itself, and why."""

    kinds: tuple[str, ...] | None  # change kinds whose alerts close; None: every open alert of the source
    status: str  # the closed alerts' status: "superseded" (by the page itself) or "closed"
    note: str  # the reason, kept on the alerts and in the audit trail


def blocking_state(url: str, state: str, final_url: str | None) -> str | None:
    """The source's state when accepting cannot clear it, else None. A redirect to an
    equivalent address (https, www, a trailing slash) is no move: nothing to fix."""
    if state == "moved":
        return "moved" if final_url and moved_event(url, final_url).severity != "cosmetic" else None
    return state if state in BLOCKING_STATES else None


def state_action(kind: str, final_url: str | None) -> str:
    """What the editor does about a page state (or a failure) that accepting cannot clear."""
    if kind == "gone":
        return "replace or remove the citation: the page no longer exists (accepting does not clear this)"
    if kind == "withdrawn":
        return "cite the page that replaces it, or remove the citation: the page is withdrawn"
    if kind == "moved":
        return f"update the guide's link to {final_url} (the cited address redirects there)"
    return ("open the page in a browser: if it moved or is gone, update the citation; "
            "the next successful check clears this")


_REFUSALS = {
    "gone": ("the page is gone", "replace or remove the guide's link; its alerts close once no guide cites it"),
    "withdrawn": ("the page is withdrawn",
                  "cite the page that replaces it, or remove the guide's link; its alerts close once no guide "
                  "cites it"),
    "unreachable": ("the page is unreachable",
                    "its alerts close when it answers again; if it moved or is gone, change the guide's link"),
}


def accept_refusal(url: str, state: str, final_url: str | None) -> str | None:
    """Why `accept` refuses this source, in one line that says what will clear it; None
    when accepting is what clears it."""
    blocked = blocking_state(url, state, final_url)
    if blocked is None:
        return None
    if blocked == "moved":
        what, fix = f"it redirects to {final_url}", (f"change the guide's link to {final_url}; the old address's "
                                                      "alerts close once no guide cites it")
    else:
        what, fix = _REFUSALS[blocked]
    return f"{url}: {what}, and accepting does not clear that: {fix}"


def review_due_closure(meta: Mapping[str, str], *, today: date) -> Closure | None:
    """Close the review-due alert once the page shows a next-review date that has not passed
    (the publisher re-reviewed it). A page that stops showing a date keeps its alert."""
    due = parse_day(meta.get("next_review_due"))
    if due is None or due < today:
        return None
    return Closure(("review_due",), "superseded",
                   f"the page's next review is now due {due.day} {due:%B %Y}: no longer overdue")


def uncited_closure() -> Closure:
    """No guide cites the source any more (its link was changed or removed): nothing to review."""
    return Closure(None, "closed", "no longer cited by any guide")
