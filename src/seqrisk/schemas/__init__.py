"""JSON Schemas of the CLI's ``--json`` outputs, published with the package.

Every ``--json`` output is one object whose ``schema`` names its layout and
version, ``"seqrisk.<command>/<version>"`` (``seqrisk.chains/1``,
``seqrisk.store.info/1``, ``seqrisk.compare.sweep/1`` for the sweep form of
``compare``), followed by the ``provenance`` block of the numbers and the data.
The layout of ``seqrisk.NAME/V`` is the JSON Schema (draft 2020-12) in
``seqrisk/schemas/NAME.json``, whose ``$id`` is the same string; a version
changes when a field is removed or changes meaning (new fields may be added
within a version only where the schema allows them).

    >>> from seqrisk.schemas import output_schema
    >>> output_schema("chains")["$id"]
    'seqrisk.chains/1'
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from seqrisk.exceptions import UsageError

__all__ = ["output_id", "output_names", "output_schema"]


def output_names() -> list[str]:
    """Every published output layout, sorted (``chains``, ``compare``, ``compare.sweep`` ...)."""
    return sorted(p.name.removesuffix(".json") for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".json"))


@cache
def output_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the output ``name`` (a command, or ``command.variant``)."""
    if name not in output_names():
        raise UsageError(f"no published output layout (known: {', '.join(output_names())})", field="command",
                         value=name)
    doc: dict[str, Any] = json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text("utf-8"))
    return doc


def output_id(name: str) -> str:
    """``seqrisk.<name>/<version>``: the ``schema`` value of the output ``name``."""
    return str(output_schema(name)["$id"])
