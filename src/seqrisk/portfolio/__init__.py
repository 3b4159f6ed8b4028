"""Positions as frozen data (layer 2): perps, options, loans, the book, and its arrays."""

from seqrisk.portfolio.arrays import PositionArrays, position_arrays
from seqrisk.portfolio.load import book_from_dict, correlation_matrix, load_book
from seqrisk.portfolio.models import Asset, Book, Jumps, Loan, MarketModel, Option, Perp, Position

__all__ = [
    "Asset",
    "Book",
    "Jumps",
    "Loan",
    "MarketModel",
    "Option",
    "Perp",
    "Position",
    "PositionArrays",
    "book_from_dict",
    "correlation_matrix",
    "load_book",
    "position_arrays",
]
