"""A stub resolver for the address-guard tests, loaded into child processes only.

Python imports `sitecustomize` at start-up from the first directory on sys.path that has
one. The tests put this directory on PYTHONPATH *and* set GW_TEST_STUB_DNS to a JSON file;
nothing in the installed package refers to either, so production can never load it.

The JSON file: ``{"names": {"rebind.test": ["fail", "127.0.0.1"]}, "log": "/tmp/…/lookups"}``.
Each lookup of a listed name takes its next answer (the last repeats): "fail" raises
socket.gaierror, anything else is the address returned. Every other name except
``localhost`` (which /etc/hosts answers) fails too, so while the stub is on no lookup
leaves the machine. Each stubbed lookup is appended to the log file as ``name answer``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading

_SPEC_PATH = os.environ.get("GW_TEST_STUB_DNS")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _install(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    names: dict[str, list[str]] = {k.lower(): list(v) for k, v in spec.get("names", {}).items()}
    served: dict[str, int] = {}
    lock = threading.Lock()
    real_gethostbyname, real_getaddrinfo = socket.gethostbyname, socket.getaddrinfo
    real_gethostbyname_ex = socket.gethostbyname_ex

    def answer(host: object) -> str | None:
        """The stub's answer for `host`, or None when the real resolver should answer."""
        name = (host.decode() if isinstance(host, bytes) else str(host)).lower().rstrip(".")
        if name not in names and (name in ("", "localhost") or _is_address(name)):
            return None
        with lock:
            answers = names.get(name, ["fail"])
            reply = answers[min(served.get(name, 0), len(answers) - 1)]
            served[name] = served.get(name, 0) + 1
            with open(spec["log"], "a", encoding="utf-8") as log:
                log.write(f"{name} {reply}\n")
        if reply == "fail":
            raise socket.gaierror(socket.EAI_NONAME, f"stub resolver: {name} does not resolve (this time)")
        return reply

    def gethostbyname(host: str) -> str:
        reply = answer(host)
        return real_gethostbyname(host) if reply is None else reply

    def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
        reply = answer(host)
        return real_gethostbyname_ex(host) if reply is None else (host, [], [reply])

    def getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        reply = answer(host) if host is not None else None
        return real_getaddrinfo(host if reply is None else reply, port, *args, **kwargs)  # type: ignore[arg-type]

    socket.gethostbyname, socket.gethostbyname_ex = gethostbyname, gethostbyname_ex
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


if _SPEC_PATH:
    _install(_SPEC_PATH)
