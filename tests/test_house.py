"""The house rule of CONVENTIONS.md: ingest never imports queries and the other way round;
only posestore/store.py and posestore/cli.py (and tests) see both sides."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"posestore": "posestore", "ingest": "posestore.ingest", "queries": "posestore.queries"}
INGEST, QUERIES = "posestore.ingest", "posestore.queries"
BOTH_SIDES = {"posestore.store", "posestore.cli"}


def modules() -> dict[str, Path]:
    """Every module of the three folders by its import name (``ingest/coco.py`` is
    ``posestore.ingest.coco``)."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(name: str, path: Path) -> set[str]:
    """The modules ``path`` imports, anywhere in it (function-level imports too), as absolute
    names; ``from a import b`` counts as ``a`` and ``a.b`` (``b`` may be a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def sees(imports: set[str], side: str) -> bool:
    return any(m == side or m.startswith(side + ".") for m in imports)


MODULES = modules()


def test_the_module_list_maps_the_package_dirs():
    assert {"posestore.store", "posestore.ingest.coco", "posestore.queries.export.coco"} <= set(
        MODULES
    )


def test_relative_imports_resolve_to_absolute_names():
    assert "posestore.ingest.jsonspans" in imported(
        "posestore.ingest.coco", MODULES["posestore.ingest.coco"]
    )


@pytest.mark.parametrize("name", sorted(n for n in MODULES if sees({n}, INGEST)))
def test_an_ingest_module_never_imports_a_query_module(name):
    assert not sees(imported(name, MODULES[name]), QUERIES)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if sees({n}, QUERIES)))
def test_a_query_module_never_imports_an_ingest_module(name):
    assert not sees(imported(name, MODULES[name]), INGEST)


def test_only_store_and_cli_import_both_sides():
    both = {
        name
        for name, path in MODULES.items()
        if sees(imported(name, path), INGEST) and sees(imported(name, path), QUERIES)
    }
    assert both <= BOTH_SIDES, both - BOTH_SIDES
