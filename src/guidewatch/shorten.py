"""Shortening text for people: at a word boundary, never mid-word, with an ellipsis.

Shared by every text output that trims (the `changes` diff, change reasons, the demo's
evidence lines); `alerts/digest.py` has its own `_shorten` for kept diff runs.
"""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, limit: int, mark: str = ELLIPSIS) -> str:
    """`text` within `limit` characters (mark included), cut at the last space that fits.

    A single word longer than the limit is the one case cut inside a word: there is no
    boundary to cut at, and the output must stay bounded."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(mark))
    head = text[:room]
    if not text[room].isspace():  # the cut lands inside a word: back off to the space before it
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space > 0:
            head = head[:space]
    return head.rstrip() + mark
