"""Settings, read once at the edge from options and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Where seqrisk keeps its state and finds a user's catalog files."""

    home: Path
    catalog_dir: Path | None = None

    @classmethod
    def from_env(cls, home: Path | None = None, catalog_dir: Path | None = None) -> Settings:
        env_home = os.environ.get("SEQRISK_HOME")
        xdg = os.environ.get("XDG_DATA_HOME")
        default = Path(xdg) / "seqrisk" if xdg else Path.home() / ".local" / "share" / "seqrisk"
        h = home or (Path(env_home) if env_home else default)
        env_cat = os.environ.get("SEQRISK_CATALOG_DIR")
        c = catalog_dir or (Path(env_cat) if env_cat else None)
        return cls(home=h.expanduser(), catalog_dir=c.expanduser() if c else None)
