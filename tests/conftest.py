"""Shared fixtures: an isolated seqrisk home for every test that asks for one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$SEQRISK_HOME`` (and no user catalog dir) for one test."""
    h = tmp_path / "home"
    monkeypatch.setenv("SEQRISK_HOME", str(h))
    monkeypatch.delenv("SEQRISK_CATALOG_DIR", raising=False)
    return h
