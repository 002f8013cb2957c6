"""Text shortened for people is cut between words, never inside one."""

from __future__ import annotations

from guidewatch.changes.events import MAX_REASON_TEXT, _short
from guidewatch.shorten import shorten


def test_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "hospitals must now notify the MHRA before first supply"
    out = shorten(text, 30)
    assert out == "hospitals must now notify the…" and len(out) <= 30
    assert shorten(text, len(text)) == text
    assert shorten("supercalifragilistic", 8) == "superca…"  # one word longer than the limit


def test_every_word_kept_is_whole() -> None:
    words = [f"w{i}x" * (i % 4 + 1) for i in range(200)]
    text = " ".join(words)
    for limit in range(5, 300, 7):
        out = shorten(text, limit)
        assert len(out) <= limit and out.endswith("…")
        assert all(w in words for w in out[:-1].split())


def test_reasons_are_not_cut_mid_word() -> None:
    long = "GOV.UK change note: " + " ".join(["notification"] * 100)
    out = _short(long)
    assert len(out) <= MAX_REASON_TEXT and out.endswith("…")
    assert all(w in ("GOV.UK", "change", "note:", "notification") for w in out[:-1].split())
