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

``<home>/cache/statistics/<key>.pickle`` holds every fitted piece of the
model (:class:`~seqrisk.stats.OutageStatistics`, what ``fit`` and ``report``
show), pickled: its fitters and tables have no file layout of their own. An
entry is signed (HMAC-SHA256 under ``<home>/cache/secret``, a random key
readable by its owner only) and read only when the signature holds, so a
damaged or foreign file is a miss, never unpickled. Its key also covers the
whole package's code and pandas (the pickle holds objects of both).

:func:`cached_model` and :func:`cached_statistics` are the one way to a fit
through both: the commands (``fit``, ``report``, the decision commands) and the
service's job workers call them on the same home, so a model fitted by either is
read back by both.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqrisk.catalog import Catalog
    from seqrisk.outage import OutageModel
    from seqrisk.stats import OutageStatistics

__all__ = ["KEEP", "KEEP_STATISTICS", "ModelCache", "Refit", "StatisticsCache", "cached_model", "cached_statistics",
           "fit_key"]

#: ``refit(what, entry, why)``: an entry present was not used (``what`` is ``model`` or ``statistics``)
Refit = Callable[[str, Path, str], None]

#: Entries kept (most recently used first); each is one model file, tens to hundreds of kB.
KEEP = 32
#: Statistics entries kept; each is a few MB.
KEEP_STATISTICS = 8


@cache
def _code_digest(whole: bool = False) -> str:
    """The fitting code and the libraries it computes with: a change to either is a different fit (``whole``:
    every module of the package, and pandas, for an entry that holds their objects)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    files = sorted(root.rglob("*.py")) if whole else [root / "outage.py", *sorted((root / "stats").glob("*.py"))]
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    for dist in ("seqrisk", "numpy", "scipy", *(("pandas",) if whole else ())):
        try:
            h.update(f"{dist}=={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}: not installed".encode())
    return h.hexdigest()


def fit_key(catalog_digest: str, as_of: str | None, options: dict[str, Any], *, statistics: bool = False) -> str:
    """The cache key of a fit: catalog content digest, as-of date (ISO, or None for the catalog's coverage
    date), the fit options (any JSON-able values; events by their contents) and the code digest (``statistics``:
    of a :class:`StatisticsCache` entry, whose code digest covers the whole package)."""
    doc = json.dumps({"catalog": catalog_digest, "as_of": as_of, "options": options, "statistics": statistics,
                      "code": _code_digest(statistics)}, sort_keys=True, default=repr)
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
        return _write(self.directory, self.path(key), model.to_json().encode("utf-8"), KEEP)


class StatisticsCache:
    """Fitted statistics by :func:`fit_key` (``statistics=True``) in ``directory`` (``<home>/cache/statistics``),
    signed with the key in ``secret`` (``<home>/cache/secret``, made on first use)."""

    def __init__(self, directory: Path, secret: Path) -> None:
        self.directory = directory
        self.secret = secret

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pickle"

    def _key(self, create: bool) -> bytes | None:
        """The signing key; made (owner-only) when ``create`` and absent; None when it cannot be read or made."""
        try:
            key = self.secret.read_bytes()
            return key if len(key) == 32 else None
        except FileNotFoundError:
            if not create:
                return None
        except OSError:
            return None
        try:
            self.secret.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another command made it meanwhile
            return self._key(False)
        except OSError:
            return None
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        return self._key(False)

    def get(self, key: str) -> tuple[OutageStatistics | None, str | None]:
        """The cached statistics (``None`` when absent) and why an entry present was not used."""
        p = self.path(key)
        try:
            blob = p.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"cannot read it ({exc.__class__.__name__})"
        secret = self._key(False)
        sig, payload = blob[:32], blob[32:]
        if secret is None or not hmac.compare_digest(sig, hmac.digest(secret, key.encode() + payload, "sha256")):
            return None, "its signature does not match"
        try:
            stats = pickle.loads(payload)  # signed by this home's key (above): written by seqrisk
        except Exception as exc:  # a signed entry of code since changed: a miss like any damage
            return None, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        with contextlib.suppress(OSError):
            os.utime(p)
        return stats, None

    def put(self, key: str, stats: OutageStatistics) -> bool:
        """Store ``stats`` under ``key`` (signed, atomically); False when it cannot be written."""
        secret = self._key(True)
        if secret is None:
            return False
        try:
            payload = pickle.dumps(stats, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an object that cannot be pickled: not cached, the command goes on
            return False
        sig = hmac.digest(secret, key.encode() + payload, "sha256")
        return _write(self.directory, self.path(key), sig + payload, KEEP_STATISTICS)


def _write(directory: Path, path: Path, data: bytes, keep: int) -> bool:
    """Write ``data`` to ``path`` atomically, then keep the ``keep`` most recently used entries of its kind."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        entries = sorted(directory.glob(f"*{path.suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for p in entries[keep:]:
            p.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def cached_model(root: Path, catalog: Catalog, when: datetime | None, fit: dict[str, Any], *,
                 refit: Refit | None = None) -> OutageModel:
    """The outage model fitted to ``catalog`` as of ``when`` with the options ``fit``: from the model cache under
    ``root`` (``<home>/cache``) when anyone fitted the same before, else fitted and cached. ``refit`` hears of an
    entry present but not used (damaged, from other code)."""
    models = ModelCache(root / "models")
    key = fit_key(catalog.digest, when.isoformat() if when else None, fit)
    om, damaged = models.get(key)
    if om is not None:
        return om
    if damaged and refit is not None:
        refit("model", models.path(key), damaged)
    from seqrisk.stats import fit_outage_statistics

    om = fit_outage_statistics(catalog, as_of=when, group_hawkes=False, **fit).model
    models.put(key, om)
    return om


def cached_statistics(root: Path, catalog: Catalog, when: datetime | None, fit: dict[str, Any], *,
                      refit: Refit | None = None) -> OutageStatistics:
    """Every fitted piece of the model (with the per-group Hawkes fits ``fit`` and ``report`` show) as of ``when``
    with the options ``fit``: from the statistics cache under ``root`` when anyone fitted the same before (an
    entry whose signature holds), else fitted and cached, its model in the model cache too."""
    cached = StatisticsCache(root / "statistics", root / "secret")
    day = when.isoformat() if when else None
    key = fit_key(catalog.digest, day, fit, statistics=True)
    stats, damaged = cached.get(key)
    if stats is not None:
        return stats
    if damaged and refit is not None:
        refit("statistics", cached.path(key), damaged)
    from seqrisk.stats import fit_outage_statistics

    stats = fit_outage_statistics(catalog, as_of=when, group_hawkes=True, **fit)
    cached.put(key, stats)
    # the per-group fits are reported only: the model is the one cached_model fits, so the decision commands reuse it
    ModelCache(root / "models").put(fit_key(catalog.digest, day, fit), stats.model)
    return stats
