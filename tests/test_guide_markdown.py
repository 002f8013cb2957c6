"""Markdown guides are read by a Markdown parser (issue 16, item 10): no input line makes it
hang, and what CommonMark says is a link, a heading or code is what the guide cites."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from guidewatch.sources.guides import parse_guide

# The parse runs in a child process so that a regression to a super-linear parser fails the
# test (the child is killed) instead of hanging the suite; the time limit is a hang guard
# far above what the parse needs, not a performance assertion.
HANG_GUARD = 60

_PARSE = """
import json, sys
from guidewatch.sources.guides import parse_guide
g = parse_guide(sys.stdin.read(), slug="p", fmt=sys.argv[1])
print(json.dumps({"sections": [[s.id, s.heading, s.own_text] for s in g.sections],
                  "urls": [c.url for c in g.citations]}))
"""


def parse_in_child(text: str, fmt: str = "md") -> dict:
    r = subprocess.run([sys.executable, "-c", _PARSE, fmt], input=text, capture_output=True, text=True,
                       timeout=HANG_GUARD)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def md(text: str) -> object:
    return parse_guide(textwrap.dedent(text), slug="g", fmt="md")


def urls(guide: object) -> list[tuple[str, str]]:
    return [(c.section, c.url) for c in guide.citations]  # type: ignore[attr-defined]


def test_heading_line_of_spaces_does_not_hang() -> None:
    got = parse_in_child("# Guide\n\n## S" + " " * 6000 + "x\n\ntext\n")
    [(sid, heading, own)] = got["sections"]
    assert heading.split() == ["S", "x"] and own == "text"


def test_line_of_brackets_does_not_hang() -> None:
    got = parse_in_child("# Guide\n\n" + "[" * 150_000 + "\n")
    assert got["sections"] == [["guide", "Guide", "[" * 150_000]]
    assert got["urls"] == []


@pytest.mark.parametrize(
    ("line", "want_urls"),
    [
        ("[x](" + "(" * 150_000, []),
        ("https://www.gov.uk/a" + ")" * 150_000, ["https://www.gov.uk/a"]),
        ("see " + "https://www.gov.uk/a " * 20_000, ["https://www.gov.uk/a"]),
        ("![" * 75_000, []),
        ("<" * 150_000, []),
        ("a." * 100_000 + "://x", []),
        ("<div>\n" + "<a href='https://www.gov.uk/a'>" * 30_000, ["https://www.gov.uk/a"]),
    ],
    ids=["open-parens", "close-parens", "many-urls", "image-openers", "angle-brackets", "dotted-scheme",
         "unclosed-html-anchors"],
)
def test_pathological_lines_parse(line: str, want_urls: list[str]) -> None:
    assert parse_in_child(f"# Guide\n\n{line}\n")["urls"] == want_urls


@pytest.mark.parametrize("fmt", ["txt", "md"])
def test_long_bare_url_runs_parse(fmt: str) -> None:
    line = "https://www.gov.uk/" + "a." * 100_000 + " and " + "http://x" + "]" * 100_000
    got = parse_in_child(f"Guide\n\n{line}\n", fmt)
    assert got["urls"] == ["https://www.gov.uk/" + "a." * 99_999 + "a", "http://x"]


def test_guides_command_on_a_pathological_guide(tmp_path: Path) -> None:
    (tmp_path / "g.md").write_text("# Guide\n\n## S" + " " * 6000 + "x\n\n" + "[" * 150_000
                                   + "\n\n## Links\n\n[MHRA](https://www.gov.uk/mhra)\n", encoding="utf-8")
    (tmp_path / "guidewatch.toml").write_text('[[guides]]\npath = "g.md"\n', encoding="utf-8")
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent)) or "guidewatch"
    r = subprocess.run([exe, "guides", "--format", "json"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=HANG_GUARD)
    assert r.returncode == 0, r.stderr[-2000:]
    [g] = json.loads(r.stdout)
    assert [s["id"] for s in g["sections"]] == ["s" + "-" * 6000 + "x", "links"]
    assert g["sections"][1]["cites"] == ["https://www.gov.uk/mhra"]


def test_autolinks_are_cited() -> None:
    g = md("""\
        # Guide

        ## Rules

        Read <https://www.gov.uk/guidance/atmp> and <https://www.nhs.uk/conditions/x/>.
        """)
    assert urls(g) == [("rules", "https://www.gov.uk/guidance/atmp"), ("rules", "https://www.nhs.uk/conditions/x/")]


def test_urls_with_parentheses_are_kept_whole() -> None:
    g = md("""\
        # Guide

        ## Background

        See [gene therapy](https://en.wikipedia.org/wiki/Gene_therapy_(medicine)) and
        https://en.wikipedia.org/wiki/CAR_T_cell_(therapy) (an overview).
        """)
    assert [u for _, u in urls(g)] == ["https://en.wikipedia.org/wiki/Gene_therapy_(medicine)",
                                       "https://en.wikipedia.org/wiki/CAR_T_cell_(therapy)"]
    assert g.section("background").own_text == ("See gene therapy and\n"  # type: ignore[attr-defined]
                                                 "https://en.wikipedia.org/wiki/CAR_T_cell_(therapy) (an overview).")


def test_setext_headings_make_sections() -> None:
    g = md("""\
        Gene therapy guide
        ==================

        Intro text.

        Risks
        -----

        Read [the MHRA page](https://www.gov.uk/mhra).

        Costs
        -----

        Ask the NHS.
        """)
    assert g.title == "Gene therapy guide"  # type: ignore[attr-defined]
    assert [(s.id, s.level) for s in g.sections] == [  # type: ignore[attr-defined]
        ("introduction", 0), ("risks", 1), ("costs", 1)]
    assert urls(g) == [("risks", "https://www.gov.uk/mhra")]


def test_links_in_code_are_not_watched() -> None:
    g = md("""\
        # Guide

        ## Examples

        ~~~
        [fenced tilde](https://fenced.example/a)
        ~~~

        ```markdown
        https://fenced.example/b
        ```

            indented https://indented.example/c
            [indented](https://indented.example/d)

        Inline `https://inline-code.example/e` is code too; [real](https://www.gov.uk/real) is not.
        """)
    assert urls(g) == [("examples", "https://www.gov.uk/real")]


def test_reference_links_belong_to_the_section_that_uses_them() -> None:
    g = md("""\
        # Guide

        ## Regulation

        The [MHRA guidance][atmp] and [NHS][] pages.

        ## Sources

        Listed for reference only.

        [atmp]: https://www.gov.uk/guidance/atmp "ATMP guidance"
        [NHS]: <https://www.nhs.uk/conditions/genetic-testing/>
        """)
    assert urls(g) == [("regulation", "https://www.gov.uk/guidance/atmp"),
                       ("regulation", "https://www.nhs.uk/conditions/genetic-testing/")]
    assert g.section("regulation").own_text == "The MHRA guidance and NHS pages."  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_bare_url_followed_by_a_quote_drops_the_quote(fmt: str) -> None:
    g = parse_guide('Guide\n\nThe leaflet says "see https://www.nhs.uk/conditions/x".\n', slug="g", fmt=fmt)
    assert [c.url for c in g.citations] == ["https://www.nhs.uk/conditions/x"]


def test_links_in_headings_lists_tables_and_html_blocks() -> None:
    g = md("""\
        # Guide

        ## [Regulation](https://www.gov.uk/mhra)

        - first: [NICE](https://www.nice.org.uk/a)
          1. nested https://www.nice.org.uk/b

        | Body | Page |
        | ---- | ---- |
        | HTA  | [HTA](https://www.hta.gov.uk/c) |

        <p>Also <a href="https://www.hra.nhs.uk/d">HRA</a>.</p>
        <style>p { background: url(https://style.example/x) }</style>
        """)
    assert urls(g) == [("regulation", "https://www.gov.uk/mhra"), ("regulation", "https://www.nice.org.uk/a"),
                       ("regulation", "https://www.nice.org.uk/b"), ("regulation", "https://www.hta.gov.uk/c"),
                       ("regulation", "https://www.hra.nhs.uk/d")]
    own = g.section("regulation").own_text  # type: ignore[attr-defined]
    assert own.splitlines()[:2] == ["- first: NICE", "1. nested https://www.nice.org.uk/b"]
    assert "HTA | HTA" in own and "Also HRA." in own and "background" not in own


def test_front_matter_is_not_a_section() -> None:
    g = md("""\
        ---
        title: Gene therapy
        ---

        # Guide

        ## Risks

        text
        """)
    assert [s.id for s in g.sections] == ["risks"]  # type: ignore[attr-defined]
