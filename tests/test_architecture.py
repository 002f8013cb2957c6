"""The house's import rules (docs/architecture.md): each room imports only the rooms below it.

Walks every import in src/guidewatch, the ones inside functions too (a lazy import is still
a dependency), and fails on an edge the table does not allow and on any cycle between
modules. The table is the one in docs/architecture.md; a test below keeps the two together.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "guidewatch"

BOTTOM = {"model", "text", "exitcodes", "children", "procs", "files", "shorten"}
#: room -> the rooms (or single modules, "room.module") it may import; every room may import
#: the package root (for __version__) and itself.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "text": set(),
    "exitcodes": set(),
    "children": set(),
    "procs": set(),
    "files": set(),
    "shorten": set(),
    "config": BOTTOM | {"pages.ignore", "sources.mirror"},  # checked with the crawl's own functions
    "sources": BOTTOM | {"config"},
    "pages": BOTTOM | {"config", "sources"},
    "changes": BOTTOM | {"sources.sites"},  # site knowledge: API paths, moved pages, named bodies
    "alerts": BOTTOM | {"config", "changes"},
    "store": BOTTOM | {"changes", "alerts", "pages.versions", "sources.states"},  # the pure policy it persists
    "app": BOTTOM | {"config", "sources", "pages", "changes", "alerts", "store"},
    "web": BOTTOM | {"config", "sources", "pages", "changes", "alerts", "store", "app"},
    "cli": BOTTOM | {"config", "sources", "pages", "changes", "alerts", "store", "app", "web"},
}
#: rooms whose code must be pure: no store, no CLI, no service layer
PURE = ("changes", "alerts", "pages.normalise", "app.decision")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
            if "migrations" not in p.parts and "demo_data" not in p.parts}


def _type_only(tree: ast.Module) -> set[int]:
    """The import nodes under `if TYPE_CHECKING:`: dependencies of the design, never run."""
    found: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING"):
            found.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return found


def imports_of(name: str, path: Path, known: set[str], *, runtime_only: bool = False) -> Iterator[str]:
    """Every guidewatch module `name` imports, resolved to a module of the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("guidewatch"):
                yield target


def graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imports_of(name, path, known, runtime_only=runtime_only)) - {name}
            for name, path in found.items()}


def room(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def allowed(src: str, dst: str) -> bool:
    src_room, dst_room = room(src), room(dst)
    if dst == "guidewatch" or src_room == dst_room:
        return True
    rules = ALLOWED.get(src_room)
    assert rules is not None, f"{src}: room {src_room!r} is not in the import table (docs/architecture.md)"
    inner = dst.split(".", 1)[1]
    return any(inner == rule or inner.startswith(rule + ".") for rule in rules)


def test_every_import_goes_to_a_room_below() -> None:
    wrong = sorted(f"{src} -> {dst}" for src, dsts in graph().items() for dst in dsts if not allowed(src, dst))
    assert not wrong, "imports the table in docs/architecture.md does not allow:\n" + "\n".join(wrong)


def test_pure_stages_import_no_store_cli_or_service_layer() -> None:
    g = graph()
    wrong = sorted(f"{src} -> {dst}" for src, dsts in g.items() for dst in dsts
                   if any(src == p or src.startswith(f"guidewatch.{p}.") or src == f"guidewatch.{p}" for p in PURE)
                   and room(dst) in {"store", "cli", "web", "app"})
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules() -> None:
    """Imports that run (type-only ones under TYPE_CHECKING may point back up a room)."""
    g = graph(runtime_only=True)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(g):
        if start not in state:
            visit(start, [start])
    # a package __init__ that re-exports its own modules is not a cycle of the design
    real = [c for c in cycles
            if not any(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:], strict=False))]
    assert not real, "import cycles:\n" + "\n".join(" -> ".join(c) for c in real)


def test_the_rule_checker_catches_a_wrong_edge() -> None:
    """The rules are not vacuous: a stage reaching up into the store or the CLI is refused."""
    assert not allowed("guidewatch.changes.diff", "guidewatch.store")
    assert not allowed("guidewatch.sources.spider", "guidewatch.changes.severity")
    assert not allowed("guidewatch.store.outbox", "guidewatch.app.digest")
    assert not allowed("guidewatch.app.check", "guidewatch.cli.base")
    assert allowed("guidewatch.app.check", "guidewatch.store")


def test_the_table_in_docs_matches_the_rules() -> None:
    """docs/architecture.md's table names, for each room, what the test allows."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)`[^|]*\|[^|]*\| ([^|]+) \|$", doc, re.M))
    for name, rules in ALLOWED.items():
        if name in BOTTOM:
            continue
        assert name in rows, f"docs/architecture.md has no row for {name}"
        named = set(re.findall(r"`([\w.]+)`", rows[name]))
        assert named == rules - BOTTOM, f"{name}: docs say {sorted(named)}, the test {sorted(rules - BOTTOM)}"


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_every_room_in_the_table_exists(name: str) -> None:
    assert (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists()
