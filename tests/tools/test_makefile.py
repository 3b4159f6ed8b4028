"""``make demo`` installs seqrisk alone (its runtime dependencies, pinned by constraints.txt), not the development
extras ``make test`` needs (QuantLib, Playwright, mypy ...): read from make's own dry run of each target."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def installs(target: str) -> list[list[str]]:
    """What each ``pip install`` that ``make TARGET`` would run (every prerequisite remade) installs."""
    r = subprocess.run(["make", "-n", "-B", "--no-print-directory", target], cwd=ROOT, capture_output=True,
                       text=True, check=True)
    out = []
    for line in r.stdout.splitlines():
        words = shlex.split(line) if " pip install " in line else []
        if words and "--upgrade" not in words:
            args = words[words.index("install") + 1:]
            out.append([a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-c"])
    return out


def test_demo_installs_the_package_without_extras() -> None:
    demo = installs("demo")
    assert demo == [["."]]  # the package alone: its [project].dependencies
    r = subprocess.run(["make", "-n", "-B", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "-c constraints.txt" in r.stdout  # at the pinned versions
    assert [".[dev]"] in installs("lint")  # the dry run does show extras where a target needs them
