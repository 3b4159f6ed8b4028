"""JSON Schemas of the book documents, from the pydantic models (``seqrisk schema book``)."""

from __future__ import annotations

from typing import Any

from seqrisk.portfolio.frame import ColumnMapping
from seqrisk.portfolio.models import Book

__all__ = ["DIALECT", "book_schema", "mapping_schema"]

#: The JSON Schema dialect of the documents.
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: Any, title: str, description: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, **body, "title": title, "description": description}


def book_schema() -> dict[str, Any]:
    """The JSON Schema of a book document (YAML or JSON); each number's unit is its ``unit`` keyword."""
    return _schema(Book, "seqrisk book", "A book of perps, options and loans on Layer-2 chains, with the assets they "
                   "trade and the rest of each venue's market. Money in USD, sizes in units of the asset, "
                   "volatilities per square-root year, durations in seconds or strings such as 7d; each number's "
                   "unit is its 'unit' keyword. Field reference: docs/positions.md.")


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of a column mapping (a venue's export -> position fields)."""
    return _schema(ColumnMapping, "seqrisk column mapping", "How a venue's position export becomes seqrisk "
                   "positions: venue column -> position field, constant fields, value codes, units and scales.")
