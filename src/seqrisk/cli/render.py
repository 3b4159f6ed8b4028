"""Shared rendering helpers for the CLI: consoles, JSON output, tables that fit 80 columns."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from seqrisk.provenance import Provenance

__all__ = ["JSON_SCHEMA", "console", "echo_json", "table"]

#: Version of the CLI's ``--json`` layouts (documented in the README).
JSON_SCHEMA = 1


def console() -> Console:
    """A stdout console; 80 columns when not a terminal so piped output is stable."""
    return Console(width=None if sys.stdout.isatty() else 80, highlight=False, soft_wrap=False)


def echo_json(doc: Mapping[str, Any], provenance: Provenance) -> None:
    """Print a JSON document with its ``provenance`` block (after ``schema`` and ``kind``)."""
    head = {k: doc[k] for k in ("schema", "kind") if k in doc}
    out = {**head, "provenance": provenance.to_dict(), **{k: v for k, v in doc.items() if k not in head}}
    sys.stdout.write(json.dumps(out, indent=2, default=str, ensure_ascii=False) + "\n")


def table(title: str | None, *columns: str, right: tuple[str, ...] = ()) -> Table:
    t = Table(title=title, title_justify="left", pad_edge=False, box=None, header_style="bold",
              show_edge=False, padding=(0, 1))
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", overflow="fold")
    return t
