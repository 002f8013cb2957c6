"""What one fetch makes of a source's state (new|ok|gone|moved|withdrawn|unreachable).

Pure policy: the store records the state this decides.
"""

from __future__ import annotations

#: States a plain answer (a 304, or a page not compared) clears back to "ok"; page-level
#: states (gone, moved, withdrawn) stay until a page says otherwise.
CLEARED_BY_AN_ANSWER = ("new", "unreachable")


def after_failure(state: str, failures: int, unreachable_after: int) -> str:
    """After a failed fetch: unreachable once it failed `unreachable_after` times in a row
    (`failures` counts this one), unless the source is known to be gone."""
    if failures >= unreachable_after and state != "gone":
        return "unreachable"
    return state


def after_answer(state: str, status: str, *, has_page: bool, moved: bool, withdrawn: bool) -> str:
    """After the source answered: gone (a 404/410 or a soft 404), the page's own state when
    it sent one (withdrawn, moved or ok), else "ok" only out of `CLEARED_BY_AN_ANSWER`."""
    if status in ("gone", "soft_404"):
        return "gone"
    if status == "not_modified" or not has_page:
        return "ok" if state in CLEARED_BY_AN_ANSWER else state
    return "withdrawn" if withdrawn else ("moved" if moved else "ok")
