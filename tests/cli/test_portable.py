"""The CLI starts and works where POSIX-only modules are missing (Windows has no fcntl, termios, pwd ...)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

#: Standard-library modules that exist on POSIX systems only.
POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource")

_SCRIPT = """
import importlib, json, sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now raises ImportError, as on Windows
from pathlib import Path
from seqrisk.cli.app import COMMAND_MODULES, main
for m in COMMAND_MODULES:
    importlib.import_module(m)
from seqrisk.exceptions import StoreError
from seqrisk.ingest.headers import _writer_lock
from seqrisk.store import Home
home = Home(Path({home!r}))
with _writer_lock(home, "base"):
    try:
        with _writer_lock(home, "base"):
            second = "acquired"
    except StoreError as exc:
        second = str(exc)
blocked_loaded = [n for n in {blocked!r} if sys.modules.get(n) is not None]
print(json.dumps({{"second": second, "loaded": blocked_loaded}}))
sys.stdout.flush()
main(["chains", "--json"])
"""


def test_every_command_module_imports_and_chains_runs_without_posix_modules(tmp_path: Path) -> None:
    code = _SCRIPT.format(blocked=POSIX_ONLY, home=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"SEQRISK_HOME": str(tmp_path / "home"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    first, _, rest = proc.stdout.partition("\n")
    probe = json.loads(first)
    assert probe["loaded"] == []
    assert probe["second"].startswith("another ingest of this chain is running"), probe
    doc = json.loads(rest)
    assert {c["id"] for c in doc["chains"]} >= {"arbitrum", "base", "optimism"}
