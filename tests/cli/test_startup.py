"""Start-up: the catalog commands and ``--help`` run without the heavy libraries (speed is in
benchmarks/bench_startup.py; this checks what is imported, which is what makes it fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.oldest

#: Libraries a command that lists the catalog must not import: the statistics, the engine's compiler, the block
#: store, dataframes, the HTTP client and arrays.
HEAVY = ("scipy", "numba", "duckdb", "pyarrow", "pandas", "numpy", "httpx", "plotly")

_PROBE = """
import contextlib, io, json, sys
from seqrisk.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main({argv!r})
    except SystemExit as exc:
        assert not exc.code, exc.code
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


@pytest.mark.parametrize("argv", [["--help"], ["chains"], ["chains", "--json"], ["incidents"], ["chain", "base"],
                                  ["overview"], ["incidents", "--json"]], ids=" ".join)
def test_catalog_commands_import_no_heavy_library(argv: list[str], home: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True, text=True,
                         check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "typer" in loaded and "seqrisk" in loaded  # the probe ran the command
    assert not loaded & set(HEAVY), f"seqrisk {' '.join(argv)} imported {sorted(loaded & set(HEAVY))}"


def test_the_heavy_libraries_are_still_there_when_a_command_needs_them(home: Path) -> None:
    """The probe can see a heavy import: ``fit`` loads SciPy (so the test above is not vacuous)."""
    code = _PROBE.format(argv=["fit", "--json"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "scipy" in json.loads(out.splitlines()[-1])
