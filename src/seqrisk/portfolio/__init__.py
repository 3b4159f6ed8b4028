"""Positions as frozen data (layer 2): perps, options, loans, the book, and its arrays.

Books load from YAML, JSON, CSV or Parquet files (:func:`load_book`), parsed
documents (:func:`book_from_dict`) and pandas DataFrames (:func:`book_from_frame`,
:meth:`Book.from_frame`).
"""

from seqrisk.portfolio.arrays import PositionArrays, position_arrays
from seqrisk.portfolio.frame import ColumnMapping, book_from_frame, read_mapping
from seqrisk.portfolio.load import BOOK_SUFFIXES, load_book
from seqrisk.portfolio.models import Asset, Book, Jumps, Loan, MarketModel, Option, Perp, Position
from seqrisk.portfolio.validate import book_from_dict, correlation_matrix

__all__ = [
    "BOOK_SUFFIXES",
    "Asset",
    "Book",
    "ColumnMapping",
    "Jumps",
    "Loan",
    "MarketModel",
    "Option",
    "Perp",
    "Position",
    "PositionArrays",
    "book_from_dict",
    "book_from_frame",
    "correlation_matrix",
    "load_book",
    "position_arrays",
    "read_mapping",
]
