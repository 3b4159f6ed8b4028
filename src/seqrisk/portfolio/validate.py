"""Validate a parsed book document into a :class:`~seqrisk.portfolio.Book`; every error names the position id,
field and value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pydantic

from seqrisk.exceptions import DataError, UnknownChainError, ValidationError
from seqrisk.portfolio.models import Book

__all__ = ["book_from_dict", "correlation_matrix"]


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    cur = data
    for part in loc:
        in_map = isinstance(cur, Mapping) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_map or in_list:
            cur = cur[part]
        else:
            return None
    return cur


_TAGS = frozenset({"float", "int", "str", "bool"})


def _clean(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """``loc`` without pydantic's union tags (``vol.float``, ``vol.dict[str,...]``), which are not in the data."""
    out: list[Any] = []
    cur = data
    for part in loc:
        if _lookup(cur, (part,)) is not None:
            cur = _lookup(cur, (part,))
        elif not isinstance(cur, Mapping | list) or (isinstance(part, str) and ("[" in part or part in _TAGS)):
            continue
        out.append(part)
    return tuple(out)


def _translate(exc: pydantic.ValidationError, data: Any, file: str | None) -> ValidationError:
    errs = exc.errors()
    err = errs[0]
    loc = _clean(tuple(err["loc"]), data)
    for other in errs[1:]:  # of a union's alternatives, the one that got deepest into the value
        oloc = _clean(tuple(other["loc"]), data)
        if len(oloc) > len(loc) and oloc[:len(loc)] == loc:
            err, loc = other, oloc
    position = None
    rest = loc
    if len(loc) >= 2 and loc[0] in ("positions", "markets") and isinstance(loc[1], int):
        item = _lookup(data, loc[:2])
        position = item.get("id", f"{loc[0]}[{loc[1]}]") if isinstance(item, Mapping) else f"{loc[0]}[{loc[1]}]"
        rest = loc[2:]
        if rest and rest[0] in ("perp", "option", "loan"):
            rest = rest[1:]
        value = _lookup(item, rest) if rest else None
    else:
        value = _lookup(data, loc)
    field = ".".join(str(p) for p in rest) or None
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if field == "expiry_s":
        field = "expiry"
    if field is None and position is not None:
        for key in ("maintenance_margin", "size", "leverage", "weights"):
            if key.replace("_", " ") in msg:
                field, value = key, _lookup(data, (*loc[:2], key))
                break
    return ValidationError(msg, file=file, position=position, field=field, value=value)


def book_from_dict(data: Any, *, file: str | None = None, chains: Iterable[str] | None = None) -> Book:
    """Validate a parsed document into a :class:`Book`.

    ``chains`` is the set of known chain ids (default: the bundled catalog's).
    """
    if not isinstance(data, Mapping):
        raise DataError("a book is a mapping with assets and positions", file=file)
    try:
        book = Book.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _translate(exc, data, file) from None
    if chains is None:
        from seqrisk.catalog import load_catalog

        chains = load_catalog().chain_ids()
    known = set(chains)
    for p in book.positions:
        if p.chain not in known:
            import difflib

            err = UnknownChainError(p.chain, difflib.get_close_matches(p.chain, sorted(known), n=3),
                                    file=file, position=p.id, field="chain", value=p.chain)
            err.exit_code = 1  # a chain named in a file is bad data, not a usage error
            raise err
        asset = p.asset
        if asset not in book.assets:
            raise ValidationError("unknown asset (declare it under assets)", file=file, position=p.id,
                                  field="collateral_asset" if p.type == "loan" else "asset", value=asset)
        if p.type == "perp" and p.collateral_usd is not None:
            share = p.margin_share(book.assets[asset].spot_usd)
            if share <= p.maintenance_margin:
                raise ValidationError(f"perp is already liquidatable at spot: its margin is {share:.4g} of the "
                                      f"notional, not above the maintenance margin {p.maintenance_margin:g}",
                                      file=file, position=p.id, field="collateral_usd", value=p.collateral_usd)
        if p.type == "loan":
            spot = book.assets[asset].spot_usd
            hf = p.collateral_amount * spot * p.liquidation_threshold / p.debt_usd
            if hf < 1.0:
                raise ValidationError(f"loan is already liquidatable at spot (health factor {hf:.3f} < 1)",
                                      file=file, position=p.id, field="debt_usd", value=p.debt_usd)
    for m in book.markets:
        if m.chain not in known:
            err = UnknownChainError(m.chain, file=file, field="markets.chain", value=m.chain)
            err.exit_code = 1
            raise err
        if m.asset not in book.assets:
            raise ValidationError("unknown asset in market model", file=file, field="markets.asset", value=m.asset)
    regimes = {frozenset(a.vol) for a in book.assets.values() if isinstance(a.vol, dict)}
    if len(regimes) > 1:
        raise ValidationError("assets with per-regime volatility must name the same regimes", file=file,
                              field="assets.vol")
    corr = correlation_matrix(book)
    if np.linalg.eigvalsh(corr).min() <= 1e-10:
        raise ValidationError("correlation matrix is not positive definite", file=file, field="correlations")
    return book


def correlation_matrix(book: Book) -> np.ndarray:
    """The assets' correlation matrix in ``book.assets`` order (identity where not given)."""
    names = book.asset_names
    c = np.eye(len(names))
    for a, b, rho in book.correlations:
        i, j = names.index(a), names.index(b)
        c[i, j] = c[j, i] = rho
    return c
