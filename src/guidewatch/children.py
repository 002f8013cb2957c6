"""What every ``python -m guidewatch.…`` child process (the crawl child, a worker)
starts with, kept in one place so the stages that spawn them need not import each other."""

from __future__ import annotations

import os
from pathlib import Path


def child_env() -> dict[str, str]:
    """The parent's environment, with this package's source root first on PYTHONPATH, so a
    child imports the same guidewatch as its parent (an editable or uninstalled checkout too)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])  # src/, above the guidewatch package
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.pop("SCRAPY_SETTINGS_MODULE", None)  # the child takes its settings from the job only
    return env
