"""The import direction of STYLE.md: each module imports only its own layer or below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqrisk"

LAYERS = {
    "units": 0, "exceptions": 0, "_documents": 0, "rng": 0, "_typing": 0, "_version": 0, "cancel": 0,
    "catalog": 1, "provenance": 1,
    "stats": 2, "market": 2, "portfolio": 2, "outage": 2, "detect": 2, "health": 2,
    "engine": 3,
    "decide": 4, "report": 4,
    "__init__": 5,
    "__main__": 6, "store": 6, "rpc": 6, "ingest": 6, "cli": 6, "web": 6, "service": 6, "monitor": 6,
    "distributed": 6,
    "display": 0,  # how results show in a terminal and a notebook (tables with units and errors)
    "schemas": 0,  # the published JSON Schemas of the CLI's --json outputs (data files and their loader)
}
EDGE_ONLY = {"rich", "typer", "httpx", "sqlite3", "duckdb", "fastapi", "uvicorn"}


def _top(rel: Path) -> str:
    return rel.parts[0].removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    rel = path.relative_to(SRC)
    top = _top(rel)
    assert top in LAYERS, f"{rel}: module {top!r} has no layer; add it to LAYERS in tests/test_layers.py"
    mine = LAYERS[top]
    for mod in _imports(path):
        parts = mod.split(".")
        if parts[0] == "seqrisk" and len(parts) > 1:
            other = parts[1]
            assert other in LAYERS, f"{rel} imports unknown seqrisk module {mod}"
            assert LAYERS[other] <= mine, f"{rel} (layer {mine}) imports {mod} (layer {LAYERS[other]})"
        elif parts[0] == "seqrisk" and top != "__init__" and mine < 6:
            raise AssertionError(f"{rel} imports the package face `seqrisk`; import the module instead")
        if mine < 6 and top != "__init__":
            assert parts[0] not in EDGE_ONLY, f"{rel} (layer {mine}) imports edge-only library {parts[0]}"


def test_layers_cover_every_top_level_module() -> None:
    tops = {_top(p.relative_to(SRC)) for p in _modules()}
    assert tops <= set(LAYERS)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = ("seqrisk", *rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Module -> seqrisk modules it imports anywhere in its body (function-level imports included)."""
    names = {_module_name(p) for p in _modules()}
    graph: dict[str, set[str]] = {}
    for p in _modules():
        me = _module_name(p)
        deps = set()
        for mod in _imports(p):
            # ``from seqrisk.x import y`` may name a module y or a name in x: take the longest module that exists
            while mod and mod not in names:
                mod = mod.rpartition(".")[0]
            if mod and mod != me and mod != "seqrisk":
                deps.add(mod)
        graph[me] = deps
    return graph


def _package(mod: str) -> str:
    return ".".join(mod.split(".")[:2])


@pytest.mark.parametrize("package", ["seqrisk.decide", "seqrisk.engine", "seqrisk.report", "seqrisk.stats",
                                     "seqrisk.catalog", "seqrisk.portfolio", "seqrisk.market"])
def test_no_import_circle_inside_a_package(package: str) -> None:
    """Inside a package, modules import each other in one direction (a package's ``__init__`` re-exports)."""
    graph = _graph()
    inner = {m: {d for d in deps if _package(d) == package and d != package}
             for m, deps in graph.items() if _package(m) == package and m != package}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for d in sorted(inner.get(m, ())):
            if state.get(d) == 1:
                circle = [*trail[trail.index(d):], d] if d in trail else [m, d]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if d not in state:
                visit(d, [*trail, d])
        state[m] = 2

    for m in sorted(inner):
        if m not in state:
            visit(m, [m])


def test_the_decision_layer_is_one_package() -> None:
    """Levers, comparison, insurance, allocation and scores live in ``seqrisk.decide``, not beside it."""
    loose = [n for n in ("mitigation", "insurance", "allocation", "scoring")
             if (SRC / n).exists() or (SRC / f"{n}.py").exists()]
    assert not loose, f"decision modules outside seqrisk.decide: {loose}"
