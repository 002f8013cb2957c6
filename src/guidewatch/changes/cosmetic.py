"""Cosmetic changes: what a reader cannot see (spacing, typography, case, punctuation, heading
numbering, date formats) and page furniture (review dates, cookie banner, navigation).

Kept apart from severity.py, which weighs the meaning-bearing tokens; crawl stages that only
need to tell noise from news (typography, sentences) import this cheap part.
"""

from __future__ import annotations

import re
from datetime import datetime

from guidewatch.text import squash, typography

# --- normalisation ------------------------------------------------------------------------

_PUNCT = re.compile(r"(?<!\d)[^\w\s£$€%]|[^\w\s£$€%](?!\d)")


def unpunctuated(text: str) -> str:
    """Drop punctuation, except inside numbers ("1.5", "3,000") and currency/percent signs."""
    return squash(_PUNCT.sub(" ", text))


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_SRC = (
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+\d{{4}}\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    rf"|\b{_MONTH}\s+\d{{4}}\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    # a month on its own after a preposition: "open in May", "by June" (and "May" is then no modal)
    r"|\b(?:(?:in|by|from|until|since|during|before|after|early|late)\s+|mid-)"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)\b(?!\s+\d)"
)
DATE = re.compile(_DATE_SRC, re.I)

URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+"
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b(?:[\w-]+\.)+(?:gov\.uk|nhs\.uk|org\.uk|co\.uk|ac\.uk|nhs\.net|org|com|net|eu|int)"
    r"(?:/[^\s<>\"')\]]*)?",
    re.I,
)


# --- page furniture -----------------------------------------------------------------------

_DATE_FURNITURE = re.compile(
    rf"^(?:(?:page\s+)?(?:last\s+(?:reviewed|updated)|next\s+review(?:\s+due)?|(?:first\s+)?published"
    rf"|updated|reviewed)\s*:?\s*(?:on\s+)?(?:{_DATE_SRC})[\s.,;|-]*(?:see all updates[\s.]*)?)+$",
    re.I,
)
_CHROME = re.compile(
    r"^(?:cookies on (?:gov\.uk|the nhs website)|skip to (?:main )?content|back to top"
    r"|print (?:this )?page|is this page useful\??|report a problem with this page"
    r"|hide (?:this )?message|see all updates|show all updates|hide all updates"
    r"|sign up for emails(?: or print this page)?|get emails about this page|share this page"
    r"|contents|menu|search(?: gov\.uk| the nhs website)?)[\s.!?]*$",
    re.I,
)
_COOKIE = re.compile(r"\bcookies?\b", re.I)
# With "cookie(s)" in the same sentence, wording only a consent banner uses (so "biscuits and
# cookies" advice in a diet page is not mistaken for one).
_COOKIE_BANNER = re.compile(
    r"\b(?:accept|reject|essential|additional|analytics?|settings|preferences|we use|on your device"
    r"|small files|save your choice|we(?:'d| would) (?:also )?like to (?:use|set))",
    re.I,
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """Split text into sentences (lines first), for comparing and for reading context."""
    out: list[str] = []
    for raw in text.splitlines():
        line = typography(raw)
        if line:
            out.extend(s for s in _SENTENCE_END.split(line) if s)
    return out


def _furniture_label(sentence: str) -> str | None:
    if _DATE_FURNITURE.match(sentence):
        return "review dates"
    if _CHROME.match(sentence) or (_COOKIE.search(sentence) and _COOKIE_BANNER.search(sentence)):
        return "cookie banner or navigation"
    return None


def strip_furniture(text: str) -> tuple[str, set[str]]:
    """Text without its furniture sentences, and which kinds of furniture were dropped."""
    kept: list[str] = []
    dropped: set[str] = set()
    for s in sentences(text):
        label = _furniture_label(s)
        if label:
            dropped.add(label)
        else:
            kept.append(s)
    return "\n".join(kept), dropped


# --- cosmetic -----------------------------------------------------------------------------


def _cosmetic_reason(old: str, new: str) -> str | None:
    """Why two texts differ only cosmetically, or None when a reader could see a difference."""
    if squash(old) == squash(new):
        return "white space only"
    t_old, t_new = typography(old), typography(new)
    if t_old == t_new:
        return "white space and typography only"
    if t_old.casefold() == t_new.casefold():
        return "capitalisation only"
    if unpunctuated(t_old.casefold()) == unpunctuated(t_new.casefold()) and links(old) == links(new):
        return "punctuation only"
    c_old, c_new = _canonical(t_old), _canonical(t_new)
    if unpunctuated(c_old.casefold()) == unpunctuated(c_new.casefold()) and links(old) == links(new):
        return "numbering, dates or typography only"
    return None


# Heading and list numbering that gov.uk and NICE add or change: "1. Overview", "2.1 Eligibility", "3) Risks",
# "Step 1: Check", "Part 3. Who can donate".
_ENUMERATOR = re.compile(
    r"^\s*(?:(?:step|part|section|chapter)\s+\d{1,3}\s*[:.)-]?|\d{1,3}(?:\.\d{1,3})+\.?|\d{1,3}[.)]|[a-z][.)]"
    r"|[ivx]{1,5}[.)])\s+(?=\S)",
    re.I | re.M,
)
_PER_CENT = re.compile(r"(?<=\d)\s?(?:per\s?cent|percent)\b", re.I)
# Typography a reader does not take in as a difference, each written one way.
_SPELLINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I), r)
    for p, r in (
        (r"(?<=\d)\s?[-–—]\s?(?=\d)", " to "),  # "3-5 weeks" is "3 to 5 weeks"
        (r"(?<=\d),(?=\d{3}\b)", ""),  # "£5,000" is "£5000"
        (r"\s&\s", " and "),
        (r"\be\.\s?g\.?(?=\s)", "for example"),
        (r"\bi\.\s?e\.?(?=\s)", "that is"),
        (r"(?<=[a-z])iz(e|ed|es|ing|ation|ations)\b", r"is\1"),  # "organize" is "organise"
    )
)


def _canonical(text: str) -> str:
    """The text without heading numbers, with dates as ISO days, per cent as %, ranges, '&', 'e.g.'
    and spelling variants written one way: what a reader takes in."""
    text = _ENUMERATOR.sub("", text)
    text = _PER_CENT.sub("%", text)
    text = DATE.sub(lambda m: _iso_date(m.group()) or m.group(), text)
    for pattern, repl in _SPELLINGS:
        text = pattern.sub(repl, text)
    return text


_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%B %Y", "%b %Y", "%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y")


def _iso_date(written: str) -> str | None:
    """"23 January 2019", "23rd Jan 2019", "23/01/2019" (UK day first) all give 2019-01-23."""
    plain = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", squash(written.replace(",", " "))).strip(". ")
    plain = re.sub(r"\bSept\b", "Sep", plain, flags=re.I)
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(plain, fmt)
        except ValueError:
            continue
        return day.strftime("%Y-%m-%d" if "%d" in fmt else "%Y-%m")
    return None


def links(text: str) -> frozenset[str]:
    return frozenset(m.group().rstrip(".,;:").lower() for m in URL.finditer(typography(text)))


def cosmetic_reason(old: str, new: str) -> str | None:
    """Why changing `old` into `new` is cosmetic (incl. page furniture), or None if it is not.

    Cheap (no token analysis), so callers short of time can still separate noise from news.
    """
    if old == new:
        return "no change"
    reason = _cosmetic_reason(old, new)
    if reason:
        return reason
    old_body, old_furniture = strip_furniture(old)
    new_body, new_furniture = strip_furniture(new)
    if _cosmetic_reason(old_body, new_body):
        return "page furniture only: " + " and ".join(sorted(old_furniture | new_furniture))
    return None
