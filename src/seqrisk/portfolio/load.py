"""Load a book from a file by its suffix: YAML or JSON documents, CSV or Parquet tables of positions.

Every error names the file and, where there is one, the position id (or row and column), field and value.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seqrisk.exceptions import DataError, UsageError
from seqrisk.portfolio.frame import book_from_frame, read_document
from seqrisk.portfolio.models import Book
from seqrisk.portfolio.validate import book_from_dict, correlation_matrix

if typing.TYPE_CHECKING:
    import pandas as pd

__all__ = ["BOOK_SUFFIXES", "book_from_dict", "correlation_matrix", "load_book", "market_beside", "read_table"]

#: Book file suffixes :func:`load_book` reads.
BOOK_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".parquet")


def load_book(path: Path | str, *, chains: Iterable[str] | None = None, market: Any = None,
              mapping: Any = None) -> Book:
    """Read a book from a ``.yaml``/``.yml``, ``.json``, ``.csv`` or ``.parquet`` file (by its suffix).

    A CSV or Parquet file holds the positions, one per row
    (:func:`~seqrisk.portfolio.book_from_frame`); ``market`` (the assets,
    correlations and rest-of-market models) defaults to ``<stem>.market.yaml``
    beside it, and ``mapping`` (a venue's columns) to the market's ``mapping``.
    Raises :class:`~seqrisk.exceptions.DataError` (or a subclass) naming the
    file, the position id (or row and column), the field and the value of the
    first problem.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in BOOK_SUFFIXES:
        raise UsageError(f"a book file is {', '.join(BOOK_SUFFIXES)} (by its suffix)", file=str(p), value=p.suffix)
    if suffix in (".csv", ".parquet"):
        return load_table_book(p, market=market, mapping=mapping, chains=chains)
    if market is not None or mapping is not None:
        raise UsageError("market and mapping apply to CSV and Parquet books", file=str(p))
    data = read_document(p, "book")
    return book_from_dict(data, file=str(p), chains=chains)


def read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """A CSV (every cell as text) or Parquet file as a DataFrame, and the number of header rows."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True), 1
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pandas(), 1
        except pa.ArrowException as exc:
            raise DataError(f"cannot read Parquet: {str(exc).splitlines()[0]}", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read book: {exc}", file=str(path)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot parse CSV: {str(exc).splitlines()[0]}", file=str(path)) from None


def market_beside(path: Path) -> Path | None:
    """The market file beside a table book: ``<stem>.market.yaml`` (or ``.yml``, ``.json``)."""
    for suffix in (".yaml", ".yml", ".json"):
        p = path.with_name(f"{path.stem}.market{suffix}")
        if p.is_file():
            return p
    return None


def load_table_book(path: Path, *, market: Any = None, mapping: Any = None,
                    chains: Iterable[str] | None = None) -> Book:
    """A book from a ``.csv`` or ``.parquet`` file; ``market`` defaults to ``<stem>.market.yaml`` beside it."""
    if market is None:
        market = market_beside(path)
        if market is None:
            raise DataError(f"a {path.suffix.lower()[1:].upper()} book needs its market (assets, correlations, "
                            f"rest-of-market models): write {path.stem}.market.yaml beside it (docs/model.md)",
                            file=str(path))
    frame, header = read_table(path)
    return book_from_frame(frame, market=market, mapping=mapping, chains=chains, file=str(path), header_rows=header)

