"""Books sent to the service: parsed from the text of a YAML, JSON or CSV file, validated, stored by content.

A book is stored once per content (its id is the digest of the canonical JSON
document, :func:`~seqrisk.service.requests.book_digest`), so uploading the same
file twice gives the same id. YAML anchors and aliases are refused: a few
kilobytes of aliases can stand for gigabytes of data.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seqrisk._documents import deep_at, too_deep
from seqrisk.catalog import Catalog
from seqrisk.exceptions import UsageError, ValidationError
from seqrisk.service.config import ServiceConfig
from seqrisk.service.jobs import LimitError
from seqrisk.service.requests import book_digest, validate_book
from seqrisk.store import StateStore

__all__ = ["BookStore", "BookUpload", "parse_upload"]


class BookUpload(BaseModel):
    """A book file's text (``content``) and its format, or the parsed document (``book``)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="the file name (shown; the format may come from "
                             "its suffix)")
    format: Literal["yaml", "json", "csv"] | None = Field(None, description="default: from the name's suffix, "
                                                          "else yaml")
    content: str | None = Field(None, description="the file's text")
    book: dict[str, Any] | None = Field(None, description="the book document itself")
    market: dict[str, Any] | None = Field(None, description="CSV only: assets, correlations, markets of the book")
    market_content: str | None = Field(None, description="CSV only: the market file's text (YAML or JSON)")
    mapping: dict[str, Any] | None = Field(None, description="CSV only: the column mapping of a venue's export")


def _yaml(text: str, field: str = "content") -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for ev in yaml.parse(text, Loader=loader):
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise ValidationError("YAML anchors and aliases are not accepted in an uploaded book",
                                      field=field)
        return yaml.load(text, Loader=loader)
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested too deeply
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValidationError(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}",
                              field=field) from None


def _csv(up: BookUpload, catalog: Catalog) -> dict[str, Any]:
    import pandas as pd

    from seqrisk.portfolio import book_from_frame

    market = up.market
    if market is None and up.market_content is not None:
        market = _yaml(up.market_content, field="market_content")
    if not isinstance(market, dict):
        raise UsageError("a CSV book needs its market (assets, correlations, markets): the field market or "
                         "market_content", field="market")
    try:
        frame = pd.read_csv(io.StringIO(up.content or ""), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"not valid CSV: {str(exc).splitlines()[0]}", field="content") from None
    book = book_from_frame(frame, market=market, mapping=up.mapping, name=up.name and up.name.rsplit(".", 1)[0],
                           chains=catalog.chain_ids(), file=up.name or "upload.csv", header_rows=1)
    return json.loads(book.model_dump_json(by_alias=True))


def parse_upload(up: BookUpload, catalog: Catalog, config: ServiceConfig) -> tuple[dict[str, Any], Any]:
    """The book document and :class:`~seqrisk.portfolio.Book` of an upload (limits and validation applied)."""
    if (up.content is None) == (up.book is None):
        raise UsageError("give the file's content or the book document, one of them", field="content")
    if up.book is not None:
        doc: Any = up.book
    else:
        text = up.content or ""
        size = len(text.encode("utf-8"))
        if size > config.max_book_bytes:
            raise LimitError(f"the book file is {size:,} bytes", limit="max_book_bytes",
                             allowed=config.max_book_bytes, field="content")
        fmt: str | None = up.format
        if fmt is None and up.name:
            suffix = up.name.rsplit(".", 1)[-1].lower() if "." in up.name else ""
            fmt = {"yml": "yaml", "yaml": "yaml", "json": "json", "csv": "csv"}.get(suffix)
        fmt = fmt or "yaml"
        if fmt != "csv" and deep_at(text) is not None:  # before a parser overflows on it: say where
            raise too_deep("the book", text, field="content")
        if fmt == "csv":
            doc = _csv(up, catalog)
        elif fmt == "json":
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
                raise ValidationError(f"not valid JSON: {exc}", field="content") from None
        else:
            doc = _yaml(text)
    if isinstance(doc, dict) and up.name and "name" not in doc:
        doc = {"name": up.name.rsplit(".", 1)[0], **doc}
    book = validate_book(doc, catalog, config, field="book" if up.book is not None else "content")
    return doc, book


class BookStore:
    """The ``books`` table: uploaded books by content digest."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def put(self, doc: dict[str, Any], book: Any, token_id: str | None) -> dict[str, Any]:
        digest = book_digest(doc)
        with self.state.transaction() as c:
            c.execute("INSERT OR IGNORE INTO books(digest, name, document, positions, chains, token_id, added_utc) "
                      "VALUES (?,?,?,?,?,?,?)", (digest, book.name, json.dumps(doc),
                                                 len(book.positions), json.dumps(list(book.chains)), token_id,
                                                 time.time()))  # clock-ok: when it was uploaded (shown)
        return self.info(digest) or {}

    def info(self, digest: str) -> dict[str, Any] | None:
        row = self.state._conn.execute("SELECT digest, name, positions, chains, added_utc FROM books WHERE digest=?",
                                       (digest,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "name": row[1], "positions": row[2], "chains": json.loads(row[3]),
                "added_utc": row[4]}

    def document(self, digest: str) -> dict[str, Any] | None:
        row = self.state._conn.execute("SELECT document FROM books WHERE digest=?", (digest,)).fetchone()
        return json.loads(row[0]) if row else None
