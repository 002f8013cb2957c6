"""The shared crawl queue's entry format: one FetchRequest as JSON in a Redis list.

Pure (no Redis, no Scrapy), so the pusher, the worker's spider and tests agree on it
without importing each other.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from guidewatch.model import FetchRequest


def queue_key(name: str) -> str:
    return f"{name}:requests"


def encode_request(request: FetchRequest) -> str:
    """One queue entry: the FetchRequest as JSON ("url" first, as scrapy-redis expects)."""
    data = asdict(request)
    data["allowed_hosts"] = list(request.allowed_hosts)
    return json.dumps({"url": request.url, "request": data}, separators=(",", ":"))


def decode_request(raw: bytes | str) -> FetchRequest:
    data = json.loads(raw)["request"]
    return FetchRequest(**{**data, "allowed_hosts": tuple(data.get("allowed_hosts") or ())})
