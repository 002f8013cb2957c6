"""Files that are not what they claim: devices, pipes, directories and files that grow.

A size check by stat says 0 for /dev/zero and for a pipe, so every read is bounded instead
(at most the limit plus one byte) and only regular files are read at all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from guidewatch.app.workspace import load_guides
from guidewatch.config import ConfigError, load_config
from guidewatch.sources.guides import MAX_GUIDE_BYTES, GuideError, load_guide


def test_a_device_as_a_guide_is_refused_without_reading_it() -> None:
    with pytest.raises(GuideError, match=r"^/dev/zero: cannot read guide: not a regular file"):
        load_guide(Path("/dev/zero"))


def test_a_pipe_as_a_guide_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "guide.md"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would wait for ever
    with pytest.raises(GuideError, match="not a regular file"):
        load_guide(fifo)


def test_a_directory_as_a_guide_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "guide.md").mkdir()
    with pytest.raises(GuideError, match=r"guide\.md: cannot read guide: Is a directory"):
        load_guide(tmp_path / "guide.md")


def test_the_size_limit_holds_for_what_is_read_not_what_stat_says(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_bytes(b"# Title\n" + b"word " * (MAX_GUIDE_BYTES // 5 + 10))
    with pytest.raises(GuideError, match="larger than the 5242880 byte limit"):
        load_guide(big)
    ok = tmp_path / "ok.md"
    ok.write_bytes(b"# Title\n" + b"w" * (MAX_GUIDE_BYTES - 9) + b"\n")
    assert len(ok.read_bytes()) == MAX_GUIDE_BYTES
    assert load_guide(ok).title == "Title"


def test_a_guide_that_cannot_be_read_names_the_config_line_that_points_to_it(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "guidewatch.toml").write_text(
        '[[guides]]\npath = "a.md"\n\n[[guides]]\nslug = "zero"\npath = "/dev/zero"\n\n'
        '[[guides]]\npath = "missing.md"\n', encoding="utf-8")
    cfg = load_config(tmp_path / "guidewatch.toml")
    with pytest.raises(GuideError) as err:
        load_guides(cfg)
    assert str(err.value) == (f"{tmp_path / 'guidewatch.toml'}:6: guides[1].path: /dev/zero: cannot read guide: "
                              "not a regular file (a device, pipe or socket)")
    (tmp_path / "guidewatch.toml").write_text(
        '[[guides]]\npath = "a.md"\n\n[[guides]]\npath = "missing.md"\n', encoding="utf-8")
    with pytest.raises(GuideError) as err:
        load_guides(load_config(tmp_path / "guidewatch.toml"))
    assert str(err.value) == (f"{tmp_path / 'guidewatch.toml'}:5: guides[1].path: {tmp_path / 'missing.md'}: "
                              "cannot read guide: No such file or directory")


def test_a_device_or_pipe_as_the_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^/dev/zero: cannot read config: not a regular file"):
        load_config(Path("/dev/zero"))
    fifo = tmp_path / "guidewatch.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)


def test_a_device_given_to_compare_or_as_a_profile_is_refused(tmp_path: Path) -> None:
    from guidewatch.app.compare import CompareError, compare_files
    from guidewatch.sources.profiles import ProfileError, load_profile

    guide = tmp_path / "g.md"
    guide.write_text("# G\n", encoding="utf-8")
    with pytest.raises(CompareError, match=r"^/dev/zero: cannot read: not a regular file"):
        compare_files(Path("/dev/zero"), Path("/dev/zero"), load_guide(guide), url="https://x.org/a", profiles={})
    with pytest.raises(ProfileError, match=r"^/dev/zero: cannot read: not a regular file"):
        load_profile(Path("/dev/zero"))


def test_a_profile_schedule_is_checked_like_the_configs(tmp_path: Path) -> None:
    from guidewatch.sources.profiles import ProfileError, load_profile

    for schedule, problem in (("every 9999999999d", "bad interval 'every 9999999999d': must be between 1s and 366d"),
                              ("every 0s", "bad interval 'every 0s': must be between 1s and 366d"),
                              ("daily", "expected a 5-field cron expression")):
        path = tmp_path / "site.toml"
        path.write_text(f'name = "site"\nschedule = "{schedule}"\n', encoding="utf-8")
        with pytest.raises(ProfileError, match=rf"site\.toml: key 'schedule': {re.escape(problem)}"):
            load_profile(path)
