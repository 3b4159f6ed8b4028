"""Fitted outage models kept in the store, so a command does not refit what an earlier one fitted.

``<home>/cache/models/<key>.json`` holds a model file (the layout of
:meth:`~seqrisk.outage.OutageModel.to_json`). The key is a digest of
everything the fit depends on: the catalog's content digest, the as-of date,
the fit options (detected events included), and the fitting code and the
numerical libraries it runs on, so a changed catalog, date, option or version
never reads an old model. An entry that cannot be read (truncated, edited,
from another layout) is a miss: the caller fits again and the entry is
rewritten. Entries are written atomically; the oldest are removed beyond
:data:`KEEP`. A cache that cannot be written (a read-only home) is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqrisk.outage import OutageModel

__all__ = ["KEEP", "ModelCache", "fit_key"]

#: Entries kept (most recently used first); each is one model file, tens to hundreds of kB.
KEEP = 32


@cache
def _code_digest() -> str:
    """The fitting code and the libraries it computes with: a change to either is a different fit."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in [root / "outage.py", *sorted((root / "stats").glob("*.py"))]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    for dist in ("seqrisk", "numpy", "scipy"):
        try:
            h.update(f"{dist}=={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}: not installed".encode())
    return h.hexdigest()


def fit_key(catalog_digest: str, as_of: str | None, options: dict[str, Any]) -> str:
    """The cache key of a fit: catalog content digest, as-of date (ISO, or None for the catalog's coverage
    date), the fit options (any JSON-able values; events by their contents) and the code digest."""
    doc = json.dumps({"catalog": catalog_digest, "as_of": as_of, "options": options, "code": _code_digest()},
                     sort_keys=True, default=repr)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:32]


class ModelCache:
    """Fitted models by :func:`fit_key` in ``directory`` (``<home>/cache/models``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> tuple[OutageModel | None, str | None]:
        """The cached model (``None`` when absent) and why an entry present was not used (``None`` if it was)."""
        from seqrisk.outage import OutageModel

        p = self.path(key)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot read it ({exc.__class__.__name__})"
        try:
            model = OutageModel.from_json(text, file=str(p))
        except Exception as exc:  # any damage at all is a miss: the fit is redone and the entry rewritten
            return None, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        with contextlib.suppress(OSError):
            os.utime(p)  # recently used: kept longest
        return model, None

    def put(self, key: str, model: OutageModel) -> bool:
        """Store ``model`` under ``key`` (atomically); False when the directory cannot be written."""
        text = model.to_json()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, self.path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._prune()
        except OSError:
            return False
        return True

    def _prune(self) -> None:
        entries = sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for p in entries[KEEP:]:
            p.unlink(missing_ok=True)
