"""The structural guard: is a new version the page, or an error page served with 200 in new wording?

The profiles' `unavailable` and `soft_404` patterns know the wording of many error pages, but
never all of them. What every error page has in common is its shape: the main content collapses
to a fraction of the reviewed version, under a title or heading that reads like an error
("Request Rejected", "Oops!", "Error 1020"). Such a version is *suspect*: the fetch is recorded
as a failed, transient check (tried again next crawl) and nothing else - no version, no alert.
Only when a later crawl gets the very same page again (same content hash) is it *confirmed* and
treated as the real new version, so a page that truly shrank is reported one crawl late, while an
error page that comes and goes, or differs on every request (a support id), is never a change.

A pure decision: the pipeline passes in what the store knows and records what is decided.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from guidewatch.model import Page
from guidewatch.text import typography

__all__ = ["COLLAPSE_FRACTION", "Judgement", "error_like", "judge"]

#: A new version whose main text is at most this fraction of the reviewed version's has collapsed.
COLLAPSE_FRACTION = 0.25
#: Headings (after the title) looked at: an error page's own words come first.
HEADINGS_LOOKED_AT = 3

_ERROR_LIKE = re.compile(
    r"""\b(
        error | sorry | oops | whoops | something\s+went\s+wrong | went\s+wrong
      | access\s+(is\s+)?denied | denied | forbidden | unauthori[sz]ed | not\s+authori[sz]ed
      | rejected | blocked | unavailable | not\s+found | (can't|cannot|could\s+not|couldn't)\s+find
      | doesn't\s+exist | does\s+not\s+exist | no\s+longer\s+(exists|available)
      | problem | maintenance | back\s+soon | try\s+again | too\s+many\s+requests | bad\s+gateway
      | timed\s+out | time-?out
    )\b | ^(http\s+|error\s+)?[45]\d\d\b(?!\s*(mg|mcg|ml|g|kg|iu|units?)\b)""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Judgement:
    """`accept`: record as usual; `suspect`: a failed, transient check; `confirmed`: seen again, so real."""

    verdict: Literal["accept", "suspect", "confirmed"]
    reason: str = ""


def error_like(page: Page) -> str | None:
    """The page's title or one of its first headings when it reads like an error message."""
    headings = [b.text for b in page.blocks if b.kind == "heading"][:HEADINGS_LOOKED_AT]
    for text in (page.title, *headings):
        if text and _ERROR_LIKE.search(typography(text)):
            return text
    return None


def judge(new: Page, reviewed_text: str | None, *, known: Collection[str] = (),
          last_suspect: str | None = None) -> Judgement:
    """Accept, hold back or confirm the new version `new` of a page.

    `reviewed_text`: the reviewed version's text (None: no version yet, nothing to compare);
    `known`: content hashes of the versions already stored (seeing one again is no news);
    `last_suspect`: the content hash recorded by the source's last fetch when that fetch was
    held back as suspect (None otherwise).
    """
    if reviewed_text is None or new.content_hash in known:
        return Judgement("accept")
    heading = error_like(new)
    if heading is None:
        return Judgement("accept")
    size, before = len(new.text()), len(reviewed_text)
    if size > COLLAPSE_FRACTION * before:
        return Judgement("accept")
    reason = f"main content fell to {size} of {before} characters under {heading[:80]!r}"
    if last_suspect == new.content_hash:
        return Judgement("confirmed", reason + "; the same page again on a later crawl")
    return Judgement("suspect", reason)
