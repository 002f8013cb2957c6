"""The structural guard as a pure decision: accept a new version, hold it back as suspect, or confirm it."""

from __future__ import annotations

import pytest

from guidewatch.model import Block, Page
from guidewatch.pages.suspect import COLLAPSE_FRACTION, error_like, judge

REVIEWED = "\n".join(f"Paragraph {i} of the guidance on licensing gene therapy products." for i in range(20))


def _page(title: str, *lines: str, headings: tuple[str, ...] = ()) -> Page:
    blocks = [Block((h,), "heading", h, 2) for h in headings]
    blocks += [Block(headings[-1:] if headings else (), "p", line) for line in lines]
    return Page(url="https://example.org/p", profile="default", title=title, blocks=blocks)


ERROR = _page("Error", "An error occurred while processing your request. Reference 42.")


def test_a_collapsed_page_with_an_error_like_title_is_suspect() -> None:
    j = judge(ERROR, REVIEWED)
    assert j.verdict == "suspect"
    assert "'Error'" in j.reason and f"of {len(REVIEWED)}" in j.reason


def test_an_error_like_heading_counts_like_the_title() -> None:
    page = _page("Example Health", "Please try again later.", headings=("Something went wrong",))
    assert judge(page, REVIEWED).verdict == "suspect"


def test_the_same_suspect_page_on_a_later_crawl_is_confirmed() -> None:
    j = judge(ERROR, REVIEWED, last_suspect=ERROR.content_hash)
    assert j.verdict == "confirmed" and "again" in j.reason


def test_a_different_suspect_page_does_not_confirm_the_earlier_one() -> None:
    other = _page("Error", "An error occurred while processing your request. Reference 43.")
    assert judge(other, REVIEWED, last_suspect=ERROR.content_hash).verdict == "suspect"


def test_a_short_page_without_an_error_like_title_or_heading_is_accepted() -> None:
    page = _page("Hospital exemption", "This guidance has been replaced by the new regulations.")
    assert judge(page, REVIEWED).verdict == "accept"


def test_an_error_like_title_without_a_collapse_is_accepted() -> None:
    lines = REVIEWED.splitlines()[: int(len(REVIEWED.splitlines()) * 0.6)]
    page = _page("Reporting a problem with a medicine", *lines)
    assert judge(page, REVIEWED).verdict == "accept"


def test_the_collapse_threshold() -> None:
    line = "x" * 99
    reviewed = "\n".join([line] * 10)  # 999 characters
    at = int(COLLAPSE_FRACTION * len(reviewed)) - 1  # the page text gets a newline
    assert judge(_page("Error", "y" * at), reviewed).verdict == "suspect"
    assert judge(_page("Error", "y" * (at + 2)), reviewed).verdict == "accept"


def test_a_version_already_stored_is_not_news_and_a_first_version_has_nothing_to_compare() -> None:
    assert judge(ERROR, REVIEWED, known={ERROR.content_hash}).verdict == "accept"
    assert judge(ERROR, None).verdict == "accept"


@pytest.mark.parametrize(
    "title",
    ["Sorry, we couldn\u2019t find that page", "We\u2019ll be back soon", "Access denied", "Request Rejected",
     "403 Forbidden", "Oops!", "Service Unavailable", "Error 1020", "Sorry, there is a problem with the service",
     "Too many requests", "Unauthorised"],
)
def test_error_like_titles(title: str) -> None:
    assert error_like(_page(title, "text")) is not None


@pytest.mark.parametrize(
    "title",
    ["Hospital exemption", "Gene therapy: 500 mg doses", "500 mg tablets", "Errors in the 2019 guidance corrected",
     "Medicines: deny or grant access"],
)
def test_ordinary_titles_are_not_error_like(title: str) -> None:
    assert error_like(_page(title, "text")) is None
