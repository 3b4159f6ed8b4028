"""The import direction of STYLE.md: each module imports only its own layer or below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqrisk"

LAYERS = {
    "units": 0, "exceptions": 0, "rng": 0, "_typing": 0,
    "catalog": 1,
    "stats": 2, "market": 2, "portfolio": 2, "outage": 2, "detect": 2,
    "engine": 3,
    "mitigation": 4, "scoring": 4, "insurance": 4, "allocation": 4, "report": 4,
    "__init__": 5,
    "__main__": 6, "store": 6, "rpc": 6, "ingest": 6, "cli": 6, "web": 6, "monitor": 6, "distributed": 6,
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
