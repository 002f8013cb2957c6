"""How a key of `guidewatch.toml` is declared (its Key: help, default, range, choices) and the
bounded numbers it may take, apart from the schema itself so that `config.fetch` (which the
crawl child imports) needs none of the rest of the config."""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field
from typing import Any

DAY = 86400


@dataclass(frozen=True)
class Range:
    """The numbers a key accepts: finite, from `lo` to `hi` (`lo` itself excluded when `above`).

    Bounds keep values that parse from failing later (an OverflowError in datetime
    arithmetic, a NaN timeout that fails every fetch, a back-off too long to schedule)."""

    lo: float
    hi: float
    kind: type = float
    above: bool = False
    unit: str = ""  # " s", " bytes"; "duration" shows the bounds as 1s, 366d

    def show(self, value: float, unit: bool = False) -> str:
        if self.unit == "duration":
            return duration_text(value)
        text = f"{value:g}" if isinstance(value, float) else f"{value}"
        return text + self.unit if unit else text

    def problem(self, value: float, shown: str | None = None) -> str | None:
        """Why `value` is out of range (None when it is fine); `shown` is how the user wrote it."""
        got = shown if shown is not None else repr(value)
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {got}"
        if value > self.hi or value < self.lo or (self.above and value == self.lo):
            return self.outside(got)
        return None

    def outside(self, got: str) -> str:
        lo, hi = self.show(self.lo), self.show(self.hi, unit=True)
        if self.above:
            return f"must be greater than {lo} and at most {hi}, got {got}"
        return f"must be between {lo} and {hi}, got {got}"


def duration_text(seconds: float) -> str:
    """3600 -> "1h", 31622400 -> "366d": a bound written the way durations are written."""
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Key:
    """Everything the loader, the template and the README need to know about one key.

    `kind` names the loader's reader for it (load.READERS); `shown` is the README's default
    when the value itself says little ("file name"); `example` is what `init` writes instead
    of the default (or, for a key with no default, in a commented-out line)."""

    help: str
    kind: str
    default: Any = None
    required: bool = False
    range: Range | None = None
    choices: tuple[str, ...] = ()
    shown: str = ""
    example: Any = None
    table: type | None = None  # the dataclass of a sub-table or of each [[array]] entry
    secret: str = ""  # the key that must never be in the file ("password"): this key names its variable


def key(help: str, kind: str, default: Any = None, *, dataclass_default: bool = True, **more: Any) -> Any:
    """A dataclass field carrying its Key (and its Range under "range", where callers look for it)."""
    spec = Key(help, kind, default, **more)
    metadata = {"key": spec, "range": spec.range} if spec.range else {"key": spec}
    if not dataclass_default or spec.required:
        return field(metadata=metadata)
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


def num(help: str, default: Any, lo: float, hi: float, *, kind: type | None = None, above: bool = False,
        unit: str = "", **more: Any) -> Any:
    """A bounded number: its default and its Range side by side."""
    rng = Range(lo, hi, kind or type(default), above, unit)
    return key(help, "duration" if unit == "duration" else "number", default, range=rng, **more)


def required(help: str, kind: str, **more: Any) -> Any:
    return key(help, kind, required=True, **more)


def default_of(owner: type, name: str) -> Any:
    """The declared default of `owner.name`, for code that needs it without an instance."""
    spec = owner.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return spec.metadata["key"].default if spec.default is MISSING else spec.default
