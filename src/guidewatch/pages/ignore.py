"""A source's ignore rules ("css:<selector>" or a regex), checked when the config is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from guidewatch.sources.selectors import compile_selector


@dataclass(frozen=True)
class IgnoreRules:
    """Per-source rules: CSS selectors removed before extraction, regexes removed from block text."""

    css: tuple[str, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()


@lru_cache(maxsize=256)
def compile_ignore(ignore: tuple[str, ...]) -> IgnoreRules:
    """Validate and compile `ignore` entries; a bad one raises ValueError naming the rule."""
    css: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for rule in ignore:
        if not isinstance(rule, str):
            raise ValueError(f"ignore rule {rule!r}: expected a string")
        if rule.startswith("css:"):
            selector = rule[4:].strip()
            if not selector:
                raise ValueError(f"ignore rule {rule!r}: empty CSS selector")
            try:
                compile_selector(selector)
            except ValueError as exc:
                raise ValueError(f"ignore rule {rule!r}: invalid CSS selector: {exc}") from None
            css.append(selector)
        elif rule:
            try:
                regexes.append(re.compile(rule))
            except re.error as exc:
                raise ValueError(f"ignore rule {rule!r}: bad regular expression: {exc}") from None
    return IgnoreRules(tuple(css), tuple(regexes))
