"""Every fixture guide parses to exactly what the regex-based parser gave before the Markdown
parser replaced it (recorded once in tests/fixtures/guide_expectations/expected.json)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "fixtures" / "guide_expectations"
EXPECTED = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))
_spec = importlib.util.spec_from_file_location("record_guides", HERE / "record.py")
assert _spec and _spec.loader
record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record)


def test_every_fixture_guide_is_recorded() -> None:
    assert sorted(EXPECTED) == sorted(p.relative_to(record.ROOT).as_posix() for p in record.GUIDES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_guide_parses_as_recorded(name: str) -> None:
    now = json.loads(json.dumps(record.snapshot(record.ROOT / name), ensure_ascii=False))
    want = EXPECTED[name]
    assert now["title"] == want["title"]
    assert [s["id"] for s in now["sections"]] == [s["id"] for s in want["sections"]]
    for got, expected in zip(now["sections"], want["sections"], strict=True):
        assert got == expected, got["id"]
    assert now["mentions"] == want["mentions"]
    assert now["citations"] == want["citations"]
    assert now == want
