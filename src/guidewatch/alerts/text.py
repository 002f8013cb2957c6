"""Text helpers shared by the digest and the review app: cleaning page text, escaping it for
Markdown, safe links, times, and the word-diff ops shortened for reading."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from guidewatch.changes.diff import word_diff
from guidewatch.model import Change, DiffOp

KEEP_CONTEXT = 120  # characters of unchanged text kept either side of an edit
MAX_CHANGED = 1200  # a longer inserted/deleted run (a whole page gone) is cut for reading


# --- text helpers ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SAFE_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f\"'<>\\`]+$", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#|~!&$])")


def clean(text: str) -> str:
    """Drop control and bidi-override characters: page text must not drive terminals or
    reorder what an editor reads."""
    return _CONTROL.sub("", text or "")


def one_line(text: str) -> str:
    return " ".join(clean(text).split())


def safe_url(url: str) -> str | None:
    """The URL if it may become a link (plain http/https), else None (shown as text)."""
    url = (url or "").strip()
    return url if _SAFE_URL.match(url) else None


def _md_inline(text: str) -> str:
    """Escape, keeping one space at the edges (diff runs are joined edge to edge)."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", clean(text)))


def md_escape(text: str) -> str:
    """Backslash-escape inline Markdown and HTML syntax; newlines become spaces so page
    text cannot start a heading, list or block quote."""
    return _md_inline(text).strip()


def md_code(text: str) -> str:
    """Inline code span that page text cannot close early: the fence is longer than any
    run of backticks inside."""
    text = one_line(text)
    runs = re.findall(r"`+", text)
    fence = "`" * (max((len(r) for r in runs), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def quote(text: str) -> str:
    return f"“{text}”"


def utc(dt: datetime) -> datetime:
    """Naive datetimes are taken to be UTC (the store keeps UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_time(dt: datetime | None) -> str:
    if dt is None:
        return ""
    d = utc(dt)
    return f"{d.day} {d:%B %Y}, {d:%H:%M} UTC"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- diff ops -------------------------------------------------------------------------------


def _fallback_ops(change: Change) -> list[DiffOp]:
    """Word diff when the differ gave no ops (page-level events, old stored alerts)."""
    old, new = change.old or "", change.new or ""
    if not old and not new:
        return []
    return word_diff(old, new)


def _shorten(text: str, position: Literal["first", "middle", "last"], keep: int) -> str:
    """Keep the unchanged text next to an edit; elide the rest with an ellipsis."""
    if len(text) <= 2 * keep + 10:
        return text
    if position == "first":
        return "… " + text[-keep:].lstrip()
    if position == "last":
        return text[:keep].rstrip() + " …"
    return text[:keep].rstrip() + " … " + text[-keep:].lstrip()


def display_ops(change: Change, keep: int = KEEP_CONTEXT) -> list[DiffOp]:
    """The ops to highlight: control characters dropped, long unchanged runs shortened."""
    ops = [DiffOp(o.op, clean(o.text)) for o in (change.ops or _fallback_ops(change)) if o.text]
    if not any(o.op for o in ops):
        return ops
    out: list[DiffOp] = []
    for n, o in enumerate(ops):
        if o.op == 0:
            pos: Literal["first", "middle", "last"] = (
                "first" if n == 0 else "last" if n == len(ops) - 1 else "middle"
            )
            out.append(DiffOp(0, _shorten(o.text, pos, keep)))
        elif len(o.text) > MAX_CHANGED:
            cut = o.text[:MAX_CHANGED].rsplit(" ", 1)[0]
            out.append(DiffOp(o.op, f"{cut} … [{len(o.text) - len(cut):,} more characters]"))
        else:
            out.append(o)
    return out


def _split_space(text: str) -> tuple[str, str, str]:
    """Leading space, core, trailing space: Markdown markers must hug the words."""
    core = text.strip()
    if not core:
        return text, "", ""
    start = text.index(core)
    return text[:start], core, text[start + len(core) :]


def md_ops(ops: Sequence[DiffOp]) -> str:
    parts: list[str] = []
    for o in ops:
        text = re.sub(r"\s+", " ", o.text)
        lead, core, trail = _split_space(text)
        if o.op == 0 or not core:
            parts.append(_md_inline(text))
            continue
        mark = "~~" if o.op < 0 else "**"
        if o.op > 0 and parts and parts[-1].endswith("~~"):
            lead = " "  # a replacement reads "~~old~~ **new**", not "~~old~~**new**"
        parts.append(f"{lead}{mark}{_md_inline(core)}{mark}{trail}")
    return re.sub(r" {2,}", " ", "".join(parts)).strip()


def text_ops(ops: Sequence[DiffOp]) -> str:
    parts = []
    for o in ops:
        t = o.text.replace("\n", " ")
        parts.append(t if o.op == 0 else f"[-{t}-]" if o.op < 0 else f"{{+{t}+}}")
    return "".join(parts).strip()


def split_evidence(evidence: Sequence[str]) -> tuple[list[str], str | None]:
    """Impact.evidence is shared phrases, then the best-matching guide sentence; the last
    entry counts as the sentence when it reads like one (5+ words or ends a sentence)."""
    items = [one_line(e) for e in evidence if one_line(e)]
    if items:
        last = items[-1]
        if len(last.split()) >= 5 or last[-1] in ".?!…":
            return items[:-1], last
    return items, None


_MORE = re.compile(r"\s*\(\+(\d+) more\)")


def reason_text(reason: str) -> str:
    """The severity reason in words: "(+2 more)" says what the two are."""
    def words(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f" (and {n} other edit{'s' if n != 1 else ''} in the same passage)"

    return _MORE.sub(words, one_line(reason))
