"""Shared fixtures: an isolated seqrisk home for every test that asks for one, and a count of the model's fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$SEQRISK_HOME`` (and no user catalog dir) for one test."""
    h = tmp_path / "home"
    monkeypatch.setenv("SEQRISK_HOME", str(h))
    monkeypatch.delenv("SEQRISK_CATALOG_DIR", raising=False)
    return h


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call of the outage model's fitter (:func:`seqrisk.stats.fit_outage_statistics`), with its options."""
    import seqrisk.stats

    calls: list[dict[str, Any]] = []
    real = seqrisk.stats.fit_outage_statistics

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(seqrisk.stats, "fit_outage_statistics", counting)
    return calls
