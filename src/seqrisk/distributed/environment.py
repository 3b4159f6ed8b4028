"""What a worker must share with the client for its numbers to be the client's: versions, checked at connect time.

A chunk computed on a worker is merged into the client's result as is, so a
worker with another seqrisk (or the same version number with other source
files, as in a development checkout), another NumPy or SciPy, or another
Python would silently change numbers. :func:`environment` describes a
process; :func:`first_difference` names the first package where two differ.
The CPU's vector instructions are compared too, as a note: NumPy picks its
math routines by them, which can move the last bits of a result.
"""

from __future__ import annotations

import hashlib
import importlib
import platform
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["DASK_PACKAGES", "PACKAGES", "cpu_note", "environment", "first_difference"]

#: Packages whose version a worker must share with the client (those missing on both sides are skipped).
PACKAGES = ("python", "seqrisk", "seqrisk-source", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "PyYAML",
            "numba", "llvmlite", "dask", "distributed", "cloudpickle", "msgpack")
#: What the scheduler must share with the client (it runs no seqrisk code).
DASK_PACKAGES = ("python", "dask", "distributed", "cloudpickle", "msgpack")


@lru_cache(maxsize=1)
def _source_digest() -> str:
    """SHA-256 (12 hex digits) of seqrisk's Python files, so two checkouts with one version number differ."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _cpu() -> str:
    try:
        um = importlib.import_module("numpy._core._multiarray_umath")  # where NumPy keeps its CPU dispatch table
    except ImportError:  # pragma: no cover - NumPy < 2
        return platform.machine()
    on = [t for t in um.__cpu_dispatch__ if um.__cpu_features__.get(t)]
    return f"{platform.machine()} {' '.join(on) or 'baseline'}"


def environment() -> dict[str, str]:
    """This process: Python (major.minor), seqrisk (version and source digest), package versions and the CPU.

    Packages that are not installed are left out.
    """
    env = {"python": ".".join(platform.python_version_tuple()[:2]),
           "seqrisk": _version(),
           "seqrisk-source": _source_digest(), "cpu": _cpu()}
    for name in PACKAGES:
        if name in env:
            continue
        try:
            env[name] = version(name)
        except PackageNotFoundError:
            continue
    return env


def _version() -> str:
    from seqrisk._version import __version__  # read at each call

    return __version__


def first_difference(mine: dict[str, str], theirs: dict[str, str],
                     packages: tuple[str, ...] = PACKAGES) -> tuple[str, str, str] | None:
    """The first package of ``packages`` whose version differs: ``(package, mine, theirs)``; ``"none"`` if absent."""
    for name in packages:
        a, b = mine.get(name), theirs.get(name)
        if a != b:
            return name, a or "none", b or "none"
    return None


def cpu_note(mine: dict[str, str], theirs: dict[str, str], where: str) -> str | None:
    """A note when ``where`` has other vector instructions than this process (``None`` when alike)."""
    if mine.get("cpu") == theirs.get("cpu"):
        return None
    return (f"{where} has other CPU vector instructions ({theirs.get('cpu')}) than this machine ({mine.get('cpu')}): "
            "NumPy's math routines may then differ in the last bits, so results can differ from a local run in "
            "the last digits")
