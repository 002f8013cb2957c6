"""A local corpus of gov.uk/nhs.uk-like pages and a fast static server for the crawl bench.

    python bench/corpus.py serve --n 2000 [--port 0]     # prints "port N" when ready
    python bench/corpus.py sample --n 3                   # writes a few pages to stdout sizes

Pages are the demo site's GOV.UK and NHS pages (src/guidewatch/demo_data/site/v1) with every
plain paragraph re-written from a seeded generator, so each page has the real chrome and
markup but its own text (~30 KB GOV.UK-like, ~12 KB NHS-like; one in five is NHS-like).

The server (asyncio, HTTP/1.1 keep-alive) keeps every body in memory, answers
If-None-Match with 304, and has control endpoints for the bench:

- ``GET /_bench/change?pct=5&seed=1``: give pct% of the pages a new revision (one paragraph
  edited: a modal verb and a number change), with a new ETag.
- ``GET /_bench/stats?reset=1``: response counts by status since the last reset (JSON).

It imports nothing from guidewatch, so it runs under any Python 3.11 (both benched tools
share it). Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from collections import Counter
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SITE = Path(__file__).resolve().parents[1] / "src" / "guidewatch" / "demo_data" / "site" / "v1"
GOVUK = SITE / "www.gov.uk" / "guidance" / "advanced-therapy-medicinal-products-regulation-and-licensing" / "index.html"
NHSUK = SITE / "www.nhs.uk" / "conditions" / "genetic-and-genomic-testing" / "index.html"

TOPICS = [
    "hospital exemption", "marketing authorisation", "clinical trial authorisation", "ATMP classification",
    "genetic testing", "manufacturer's licence", "pharmacovigilance", "good manufacturing practice",
    "scientific advice", "the Innovation Office", "named patient supply", "long-term follow-up",
    "gene therapy", "cell therapy", "tissue-engineered products", "genomic testing", "rare diseases",
]  # fmt: skip
BODIES = ["MHRA", "NICE", "HTA", "HRA", "CQC", "NHS England"]
SENTENCES = [
    "Applicants {modal} contact the {body} about {topic} at least {n} days before they apply.",
    "The {body} aims to reply to requests about {topic} within {n} working days.",
    "Products supplied under {topic} {modal} meet the standards set out in regulation {n}.",
    "A fee of £{fee} applies to each application for {topic}.",
    "About {pct}% of applications for {topic} are returned because information is missing.",
    "Records about {topic} {modal} be kept for {n} years after the last patient is treated.",
    "Patients should ask their specialist whether {topic} applies to their treatment.",
    "Further information about {topic} is available from the {body}.",
]
MODALS = ["must", "should", "may", "can"]
PLAIN_P = re.compile(r"<p>.*?</p>", re.S)
TITLE = re.compile(r"(<title>)(.*?)( - (?:GOV\.UK|NHS)</title>)", re.S)
H1 = re.compile(r"(<h1[^>]*>)(.*?)(</h1>)", re.S)


def page_path(i: int) -> str:
    """One in five pages is NHS-like (under /conditions/), the rest GOV.UK-like (/guidance/)."""
    return f"/conditions/condition-{i}/" if i % 5 == 4 else f"/guidance/guidance-{i}"


def page_title(i: int) -> str:
    return f"{TOPICS[i % len(TOPICS)].capitalize()}: guidance {i}"


class Templates:
    """The two demo pages, split around their plain paragraphs."""

    def __init__(self) -> None:
        self.govuk = self._split(GOVUK.read_text(encoding="utf-8"))
        self.nhsuk = self._split(NHSUK.read_text(encoding="utf-8"))

    @staticmethod
    def _split(html: str) -> tuple[list[str], int]:
        parts = PLAIN_P.split(html)
        return parts, len(parts) - 1

    def render(self, i: int, rev: int) -> bytes:
        parts, slots = self.nhsuk if i % 5 == 4 else self.govuk
        rng = random.Random(i)
        paragraphs = [_paragraph(rng, TOPICS[(i + k) % len(TOPICS)]) for k in range(slots)]
        for r in range(2, rev + 1):  # each revision edits one more paragraph
            k = random.Random(i * 1000 + r).randrange(slots)
            paragraphs[k] = _edit(paragraphs[k], r)
        out = [parts[0]]
        for k in range(slots):
            out += [f"<p>{paragraphs[k]}</p>", parts[k + 1]]
        html = "".join(out)
        title = page_title(i)
        html = TITLE.sub(lambda m: m.group(1) + title + m.group(3), html, count=1)
        html = H1.sub(lambda m: m.group(1) + title + m.group(3), html, count=1)
        return html.encode("utf-8")


def _sentence(rng: random.Random, topic: str) -> str:
    return rng.choice(SENTENCES).format(modal=rng.choice(MODALS), body=rng.choice(BODIES), topic=topic,
                                        n=rng.randint(2, 90), fee=f"{rng.randint(1, 40) * 250:,}",
                                        pct=rng.randint(2, 60))


def _paragraph(rng: random.Random, topic: str) -> str:
    return " ".join(_sentence(rng, topic) for _ in range(rng.randint(2, 5)))


def _edit(text: str, rev: int) -> str:
    """A substantive edit: a modal verb flips and a number changes."""
    for old, new in ((" may ", " must "), (" should ", " must "), (" can ", " must "), (" must ", " may ")):
        if old in text:
            text = text.replace(old, new, 1)
            break
    return re.sub(r"\b\d+\b", str(100 + rev), text, count=1) + f" (Revised in revision {rev}.)"


class Corpus:
    """Every page body and ETag, in memory, so serving costs almost nothing."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.templates = Templates()
        self.rev = [1] * n
        self.by_path = {page_path(i): i for i in range(n)}
        self.bodies = [self.templates.render(i, 1) for i in range(n)]
        self.stats: Counter[int] = Counter()

    def etag(self, i: int) -> str:
        return f'"p{i}-r{self.rev[i]}"'

    def change(self, pct: float, seed: int) -> list[int]:
        k = round(self.n * pct / 100)
        chosen = sorted(random.Random(seed).sample(range(self.n), k))
        for i in chosen:
            self.rev[i] += 1
            self.bodies[i] = self.templates.render(i, self.rev[i])
        return chosen


class _Handler(asyncio.Protocol):
    """Minimal HTTP/1.1: GET and HEAD, keep-alive, If-None-Match."""

    corpus: Corpus
    robots = b"User-agent: *\nAllow: /\n"
    last_modified = formatdate(1_767_225_600, usegmt=True)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.respond(head.decode("latin-1"))

    def respond(self, head: str) -> None:
        lines = head.split("\r\n")
        method, target = (lines[0].split(" ") + ["", ""])[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        url = urlsplit(target)
        keep = headers.get("connection", "").lower() != "close"
        if url.path.startswith("/_bench/"):
            return self.send(200, json.dumps(self.control(url.path, parse_qs(url.query))).encode(),
                             "application/json", keep=keep, count=False)
        if url.path == "/robots.txt":
            return self.send(200, self.robots, "text/plain", keep=keep)
        i = self.corpus.by_path.get(url.path)
        if i is None:
            body = b"<html><head><title>Page not found - GOV.UK</title></head><body><h1>Page not found</h1></body>"
            return self.send(404, body, "text/html; charset=utf-8", keep=keep)
        etag = self.corpus.etag(i)
        if headers.get("if-none-match") == etag:
            return self.send(304, b"", None, etag=etag, keep=keep)
        self.send(200, b"" if method == "HEAD" else self.corpus.bodies[i], "text/html; charset=utf-8", etag=etag,
                  keep=keep)

    def control(self, path: str, query: dict[str, list[str]]) -> object:
        if path == "/_bench/change":
            changed = self.corpus.change(float(query.get("pct", ["5"])[0]), int(query.get("seed", ["1"])[0]))
            return {"changed": len(changed), "paths": [page_path(i) for i in changed]}
        stats = {str(k): v for k, v in sorted(self.corpus.stats.items())}
        if query.get("reset"):
            self.corpus.stats.clear()
        return stats

    def send(self, status: int, body: bytes, ctype: str | None, *, etag: str | None = None, keep: bool = True,
             count: bool = True) -> None:
        if count:
            self.corpus.stats[status] += 1
        reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
        head = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}", "Server: guidewatch-bench"]
        if ctype:
            head.append(f"Content-Type: {ctype}")
        if status != 304:
            head.append(f"Content-Length: {len(body)}")
        if etag:
            head += [f"ETag: {etag}", f"Last-Modified: {self.last_modified}"]
        if not keep:
            head.append("Connection: close")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        if not keep:
            self.transport.close()


async def serve(n: int, port: int) -> None:
    _Handler.corpus = Corpus(n)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Handler, "127.0.0.1", port, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--port", type=int, default=0)
    p = sub.add_parser("sample")
    p.add_argument("--n", type=int, default=5)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        asyncio.run(serve(args.n, args.port))
    else:
        t = Templates()
        for i in range(args.n):
            print(page_path(i), len(t.render(i, 1)), "bytes", file=sys.stdout)


if __name__ == "__main__":
    main()
