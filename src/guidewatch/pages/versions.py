"""When a fetched page is a new version to review, rather than the stored one again.

Pure policy: the store keeps a new snapshot, refreshes the stored one's metadata, or does
nothing, as `version_change` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

#: Metadata whose change makes a new version even when the text is the same.
SIGNIFICANT_META = ("change_note", "change_note_at", "withdrawn_at", "withdrawn_explanation")

VersionChange = Literal["new", "metadata", "same"]


def significant_meta_change(old: Mapping[str, str], new: Mapping[str, str]) -> bool:
    """A new change note or a withdrawal is news even on unchanged text."""
    return any(old.get(k) != new.get(k) for k in SIGNIFICANT_META)


def version_change(current_hash: str | None, current_meta: Mapping[str, str] | None, new_hash: str | None,
                   new_meta: Mapping[str, str]) -> VersionChange:
    """"new": keep a new version (new text, or a significant metadata change), so the reviewed
    one keeps exactly what the editor saw; "metadata": the same version with new page furniture
    (review dates and the like), which the stored version takes so that what it says about the
    page's own dates is true; "same": nothing to record. `current_hash` None: no version yet."""
    old_meta = current_meta or {}
    if current_hash is None or current_hash != new_hash or significant_meta_change(old_meta, new_meta):
        return "new"
    return "metadata" if dict(old_meta) != dict(new_meta) else "same"
