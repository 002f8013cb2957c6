"""Text folding every stage shares: white space and typography never count as a change.

At the bottom of the house (it imports nothing of guidewatch), so the spider, the page
guards and the diff all fold text the same way.
"""

from __future__ import annotations

import unicodedata

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None,
        "\ufeff": None,
    }
)  # fmt: skip


def squash(text: str) -> str:
    """Collapse runs of white space (incl. no-break spaces) so spacing never counts."""
    return " ".join(text.split())


def typography(text: str) -> str:
    """Curly quotes, dashes, ligatures, no-break and zero-width spaces to plain ASCII forms."""
    if text.isascii():  # the common case, and NFKC leaves ASCII alone
        return squash(text.replace("`", "'"))
    return squash(unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY))
