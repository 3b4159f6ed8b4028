"""The one exception tree of seqrisk.

Every error the library raises on purpose is a :class:`SeqriskError`. Errors
carry keyword context (``file=``, ``field=``, ``value=``, ``chain=`` ...) so the
CLI and the web service can render one readable line, and so callers can react
to the fields programmatically.

Exit codes used by the CLI: :class:`UsageError` -> 2, anything else -> 1.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = [
    "BackendError",
    "CatalogError",
    "ConflictError",
    "DataError",
    "NotFittedError",
    "RpcError",
    "SeqriskError",
    "StoreError",
    "UnknownChainError",
    "UsageError",
    "ValidationError",
]

_CONTEXT_ORDER = ("file", "row", "column", "id", "position", "chain", "field", "value", "endpoint", "method", "block")


class SeqriskError(Exception):
    """Base of every error seqrisk raises on purpose.

    ``message`` says what is wrong; keyword ``context`` names where (file, row,
    id, field, value, ...). ``str(err)`` renders both on one line.
    """

    exit_code = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        keys = sorted(self.context, key=lambda k: (_CONTEXT_ORDER.index(k) if k in _CONTEXT_ORDER else 99, k))
        where = ", ".join(f"value={_shown(self.context[k])}" if k == "value" else (
            str(self.context[k]) if k == "row" and str(self.context[k]).startswith(("row ", "item "))
            else f"{k}={self.context[k]}") for k in keys)
        return f"{self.message} ({where})" if where else self.message


#: How a value too long (or too deeply nested) for one line is shown: its outer levels and ends.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 4, 120, 120
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 8
_LONGEST = 240


def _shown(value: Any) -> str:
    """``repr(value)``, shortened when it is longer than a line allows or nested past what ``repr`` can follow."""
    try:
        text = repr(value)
    except RecursionError:
        return _SHORT.repr(value)
    return text if len(text) <= _LONGEST else _SHORT.repr(value)


class UsageError(SeqriskError):
    """The caller asked for something malformed (bad option, unknown unit)."""

    exit_code = 2


class DataError(SeqriskError):
    """Input data is malformed: a file, row, field or value is wrong."""


class ValidationError(DataError):
    """A record failed schema validation."""


class CatalogError(DataError):
    """The chain or incident catalog is inconsistent."""


class ConflictError(CatalogError):
    """Two sources define the same id in incompatible ways."""


class UnknownChainError(CatalogError):
    """A chain id is not in the catalog; ``suggestions`` lists close ids."""

    exit_code = 2

    def __init__(self, chain: str, suggestions: list[str] | None = None, **context: Any) -> None:
        self.suggestions = list(suggestions or [])
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown chain {chain!r}{hint}", **context)
        self.chain = chain


class NotFittedError(SeqriskError):
    """A model was used before ``fit`` was called."""


class StoreError(SeqriskError):
    """The local store is unreadable, from a newer schema, or a write failed."""


class RpcError(SeqriskError):
    """A JSON-RPC call failed; context names endpoint, method and block."""


class BackendError(SeqriskError):
    """The execution backend failed: a cluster unreachable or lost, no workers, or workers unlike this process.

    The message names the scheduler or worker and, for an environment
    mismatch, the package and both versions.
    """
