"""seqrisk installs beside other libraries: its requirements are ranges (a lower bound each, no exact pin), each
lower bound is the version the oldest-environment tier installs and tests (constraints-oldest.txt, ``make
test-oldest``), and the exact versions ``make`` installs (constraints.txt) satisfy every range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQ = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*(?P<low>[0-9][0-9A-Za-z.]*)(?P<rest>[^;]*)(;.*)?$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: not an exact pin: {line}"
            out[_norm(name)] = version.strip()
    return out


def _key(version: str) -> tuple[int, ...]:
    """Release numbers, three of them (``0.26`` is ``0.26.0``)."""
    return (*(int(x) for x in re.findall(r"\d+", version)[:3]), 0, 0, 0)[:3]


def test_requirements_are_ranges_whose_floors_the_oldest_tier_installs() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned, oldest = _pins(ROOT / "constraints.txt"), _pins(ROOT / "constraints-oldest.txt")
    assert len(deps) >= 10
    for dep in deps:
        m = REQ.match(dep.strip())
        assert m, f"not a range with a lower bound: {dep}"
        assert "==" not in dep and "~=" not in dep, f"an exact pin belongs in constraints.txt: {dep}"
        name, low = _norm(m["name"]), m["low"]
        assert name in oldest and _key(oldest[name]) == _key(low), f"{name}: {low} is not what the oldest tier tests"
        assert name in pinned and _key(pinned[name]) >= _key(low), f"{name}: constraints.txt is below the range"
        for upper in re.findall(r"<\s*([0-9][0-9A-Za-z.]*)", m["rest"]):  # an upper bound, where one is known
            assert _key(pinned[name]) < _key(upper), f"{name}: constraints.txt is above the range"
