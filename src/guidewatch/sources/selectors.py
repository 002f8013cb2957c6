"""CSS selectors as compiled XPath (cssselect), shared by profile and ignore-rule checks and the
page matcher (pages.css), so a selector is accepted exactly when the matcher can run it.

cssselect takes CSS3 selectors and a little more (`:has()`, `:is()`, `:contains()`); soupsieve's
own additions (`:-soup-contains()`, selector lists in `:not()`, `:nth-child(… of S)`, `:any-link`)
are refused with one line naming the problem.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cssselect import HTMLTranslator
from lxml import etree


class _Translator(HTMLTranslator):
    """cssselect's HTML rules, with `:empty` ignoring blank text as soupsieve did, and `:root` the
    one top-level element (the document is an element holding them, see pages.blocks.parse)."""

    def xpath_empty_pseudo(self, xpath: Any) -> Any:
        return xpath.add_condition("not(*) and not(normalize-space())")

    def xpath_root_pseudo(self, xpath: Any) -> Any:
        alone = "not(preceding-sibling::*) and not(following-sibling::*)"
        return xpath.add_condition(f"parent::*[not(parent::*)] and {alone}")


_TRANSLATOR = _Translator()
_PROBE = etree.Element("html")


@lru_cache(maxsize=512)
def compile_selector(selector: str) -> etree.XPath:
    """The selector (or selector list) as an XPath over a whole document, compiled once.

    Raises ValueError with a one-line reason when it is not a selector cssselect can take.
    """
    try:
        xpath = etree.XPath(_TRANSLATOR.css_to_xpath(selector))
        xpath(_PROBE)  # an unknown namespace prefix fails only when evaluated
    except Exception as exc:  # cssselect and lxml raise several types for bad selectors
        raise ValueError(" ".join(str(exc).split()) or type(exc).__name__) from None
    return xpath
