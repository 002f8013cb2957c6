"""When a fetched page is a new version (`pages.versions`): new text, or a change note or
withdrawal on the same text; other metadata only refreshes the stored version."""

from __future__ import annotations

from guidewatch.pages.versions import SIGNIFICANT_META, significant_meta_change, version_change


def test_new_text_is_a_new_version() -> None:
    assert version_change("aaa", {}, "bbb", {}) == "new"
    assert version_change(None, None, "bbb", {}) == "new"  # nothing stored yet


def test_a_change_note_or_withdrawal_on_the_same_text_is_a_new_version() -> None:
    for key in SIGNIFICANT_META:
        assert significant_meta_change({}, {key: "x"})
        assert significant_meta_change({key: "x"}, {key: "y"})
        assert significant_meta_change({key: "x"}, {})
        assert version_change("aaa", {key: "1 May"}, "aaa", {key: "2 May"}) == "new"


def test_review_dates_on_the_same_text_refresh_the_stored_version_only() -> None:
    old = {"change_note": "Updated dose", "next_review_due": "2026-01-01"}
    new = {"change_note": "Updated dose", "next_review_due": "2027-01-01"}
    assert not significant_meta_change(old, new)
    assert version_change("aaa", old, "aaa", new) == "metadata"
    assert version_change("aaa", old, "aaa", dict(old)) == "same"
    assert version_change("aaa", None, "aaa", {}) == "same"
