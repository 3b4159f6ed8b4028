"""Provenance: what a figure was computed from, stated the same way by every command.

One :class:`Provenance` goes into every JSON document seqrisk writes (key
``provenance``), the HTML report and the header line of every command that
fits or simulates. It names:

* ``seqrisk_version``: the installed package version;
* ``catalog``: the loaded catalog's ``version`` (``COVERAGE_DATE+DIGEST``), its
  content ``digest`` (bundle and user files), its ``coverage_date`` and whether
  a user directory was merged (``user_files``);
* ``as_of``: the date the outage model is fitted to (from the model file when
  one is given), None where nothing is fitted;
* ``seed``: the Monte Carlo seed, None where nothing is random;
* ``model``: where the outage model came from (``fitted`` from the catalog, or
  a ``file``), the catalog version it was fitted on and its fit options;
* ``notes``: one line each, e.g. an as-of date moved back to the coverage date.

The same catalog, as-of, seed, options and version give the same numbers on any
day. docs/provenance.md documents the layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

from seqrisk._version import __version__
from seqrisk.catalog import Catalog

__all__ = ["MODEL_OPTIONS", "PROVENANCE_SCHEMA", "Provenance"]

#: Version of the provenance layout (bumped when a key changes meaning or disappears).
PROVENANCE_SCHEMA = 1
#: Fit options recorded from a model's ``meta`` (those that change the fitted numbers).
MODEL_OPTIONS = ("include_deliberate", "include_planned", "since", "n_events", "detected_events")


@dataclass(frozen=True)
class Provenance:
    """What a result was computed from; :meth:`to_dict` is the JSON block, :meth:`header` the CLI line."""

    catalog_version: str
    catalog_digest: str
    coverage_date: date | None
    user_files: bool
    as_of: str | None = None
    seed: int | None = None
    model: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()
    seqrisk_version: str = __version__

    @classmethod
    def of_catalog(cls, catalog: Catalog, **kw: Any) -> Provenance:
        """Provenance naming ``catalog`` (as-of, seed and model given as keywords)."""
        return cls(catalog.version, catalog.digest, catalog.coverage_date, catalog.user_dir is not None, **kw)

    @classmethod
    def of_model(cls, catalog: Catalog, meta: Mapping[str, Any], *, seed: int | None = None,
                 model_file: str | None = None, notes: Sequence[str] = ()) -> Provenance:
        """Provenance of a result computed with an outage model whose ``meta`` came from a fit or a file.

        A model file fitted on another catalog than the loaded one gets a note saying so.
        """
        fitted_on = meta.get("catalog") or {}
        all_notes = list(notes)
        if model_file is None:
            all_notes += [n for n in meta.get("notes", ()) if str(n).startswith("as-of ")]
        elif fitted_on.get("version") not in (None, catalog.version):
            all_notes.append(f"model file fitted on catalog {fitted_on['version']}, not the loaded "
                             f"{catalog.version}")
        model = {"source": "file" if model_file else "fitted", "file": model_file,
                 "catalog_version": fitted_on.get("version"),
                 "options": {k: meta.get(k) for k in MODEL_OPTIONS if k in meta}}
        return cls.of_catalog(catalog, as_of=meta.get("as_of"), seed=seed, model=model, notes=tuple(all_notes))

    def to_dict(self) -> dict[str, Any]:
        """The ``provenance`` block of a JSON document (same keys always; None where not applicable)."""
        return {
            "schema": PROVENANCE_SCHEMA,
            "seqrisk_version": self.seqrisk_version,
            "catalog": {"version": self.catalog_version, "digest": self.catalog_digest,
                        "coverage_date": self.coverage_date.isoformat() if self.coverage_date else None,
                        "user_files": self.user_files},
            "as_of": self.as_of,
            "seed": self.seed,
            "model": dict(self.model) if self.model is not None else None,
            "notes": list(self.notes),
        }

    def header(self) -> str:
        """One line for the top of a command's output: version, catalog, as-of, seed."""
        parts = [f"seqrisk {self.seqrisk_version}", f"catalog {self.catalog_version}"]
        if self.as_of:
            parts.append(f"as of {_short(self.as_of)}")
        if self.model and self.model.get("source") == "file":
            parts.append(f"model {PurePath(str(self.model.get('file'))).name}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return " · ".join(parts)


def _short(when: str) -> str:
    """``2026-12-01T00:00:00Z`` -> ``2026-12-01``; other times stay whole."""
    return when[:10] if when.endswith("T00:00:00Z") else when

