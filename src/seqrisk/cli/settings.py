"""Settings, read once at the edge from options and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "default_home"]


@dataclass(frozen=True)
class Settings:
    """Where seqrisk keeps its state and finds a user's catalog files."""

    home: Path
    catalog_dir: Path | None = None

    @classmethod
    def from_env(cls, home: Path | None = None, catalog_dir: Path | None = None) -> Settings:
        env_home = os.environ.get("SEQRISK_HOME")
        h = home or (Path(env_home) if env_home else default_home())
        env_cat = os.environ.get("SEQRISK_CATALOG_DIR")
        c = catalog_dir or (Path(env_cat) if env_cat else None)
        return cls(home=h.expanduser(), catalog_dir=c.expanduser() if c else None)


def default_home() -> Path:
    """The state directory when neither ``--home`` nor ``$SEQRISK_HOME`` is given: ``$XDG_DATA_HOME/seqrisk``,
    else ``%LOCALAPPDATA%\\seqrisk`` on Windows, else ``~/.local/share/seqrisk``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "seqrisk"
    local = os.environ.get("LOCALAPPDATA")
    if os.name == "nt" and local:
        return Path(local) / "seqrisk"
    return Path.home() / ".local" / "share" / "seqrisk"
