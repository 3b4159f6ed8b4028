"""Books from tables: a CSV or Parquet file, or a pandas DataFrame, with one position per row.

A table holds the positions; the assets (spot, volatility, jumps, depth), their
correlations and the rest-of-market models come from a *market* document (a
mapping, a YAML or JSON file, or a :class:`~seqrisk.portfolio.Book` whose
positions are ignored). Columns are position fields (``docs/positions.md``),
or a venue's own columns translated by a *mapping*::

    columns:          # venue column -> position field
      Position ID: id
      Market: asset
      Side: side
      Size: size
      Entry Px: entry_price_usd
      Margin: collateral_usd
    constants:        # fields every row gets
      type: perp
      chain: arbitrum
      leverage: 20
    values:           # a field's venue values -> seqrisk values
      side: {LONG: long, SHORT: short}
    units:            # percent, bp, or a duration unit (s, m, h, d, w, y) for expiry
      maintenance_margin: percent
    scale:            # a factor applied after the unit
      collateral_usd: 1000

An empty cell (or a null) leaves the field at its default. Every error names the
file, the row (as a spreadsheet numbers it: the header is row 1; a DataFrame's
index label), the column and the value.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from seqrisk._documents import too_deep
from seqrisk.exceptions import DataError, SeqriskError, UsageError, ValidationError
from seqrisk.portfolio.models import Book, Loan, Option, Perp
from seqrisk.portfolio.validate import book_from_dict
from seqrisk.units import parse_duration

if typing.TYPE_CHECKING:
    import pandas as pd

__all__ = ["MARKET_KEYS", "POSITION_FIELDS", "ColumnMapping", "book_from_frame", "read_document", "read_mapping"]

#: Keys a market document may hold.
MARKET_KEYS = ("name", "assets", "correlations", "markets", "mapping")
_DURATION_FIELDS = frozenset({"expiry"})
_RATIO_UNITS = {"percent": 0.01, "%": 0.01, "bp": 1e-4, "bps": 1e-4}


def _field_kinds() -> dict[str, str]:
    """Every position field (by the name a book uses) and how a cell is read: number, bool, duration or text."""
    kinds: dict[str, str] = {"type": "text"}
    for model in (Perp, Option, Loan):
        for name, info in model.model_fields.items():
            key = info.validation_alias if isinstance(info.validation_alias, str) else name
            args = typing.get_args(info.annotation) or (info.annotation,)
            kind = ("duration" if key in _DURATION_FIELDS else "bool" if bool in args
                    else "number" if float in args else "text")
            kinds.setdefault(key, kind)
    return kinds


#: Position fields a column may carry, and how its cells are read.
POSITION_FIELDS: dict[str, str] = _field_kinds()


class ColumnMapping(BaseModel):
    """How a venue's export becomes positions: column names, constant fields, value codes, units and scales."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict, description="venue column -> position field")
    constants: dict[str, Any] = Field(default_factory=dict, description="position field -> value for every row")
    values: dict[str, dict[str, Any]] = Field(default_factory=dict, description="field -> {venue value: value}")
    units: dict[str, str] = Field(default_factory=dict, description="field -> percent, bp or a duration unit")
    scale: dict[str, float] = Field(default_factory=dict, description="field -> factor applied to its numbers")

    def factor(self, field: str) -> float:
        """The number a field's values are multiplied by (its unit, then its scale)."""
        unit = self.units.get(field)
        f = 1.0 if unit is None else _RATIO_UNITS.get(unit.lower()) or parse_duration(f"1{unit}")
        return f * self.scale.get(field, 1.0)


def _check_mapping(m: ColumnMapping, file: str | None) -> None:
    def known(field: str, key: str) -> None:
        if field not in POSITION_FIELDS:
            import difflib

            near = difflib.get_close_matches(field, POSITION_FIELDS, n=1)
            raise ValidationError("not a position field" + (f"; did you mean {near[0]!r}?" if near else
                                                            " (see docs/positions.md)"),
                                  file=file, field=key, value=field)

    seen: dict[str, str] = {}
    for col, field in m.columns.items():
        known(field, f"columns.{col}")
        if field in seen:
            raise ValidationError(f"columns {seen[field]!r} and {col!r} both map to the same field", file=file,
                                  field=f"columns.{col}", value=field)
        seen[field] = col
    for field in m.constants:
        known(field, f"constants.{field}")
        if field in seen:
            raise ValidationError(f"field is given by column {seen[field]!r} and by a constant", file=file,
                                  field=f"constants.{field}", value=m.constants[field])
    for key in ("values", "units", "scale"):
        for field in getattr(m, key):
            known(field, f"{key}.{field}")
    for field, unit in m.units.items():
        kind = POSITION_FIELDS[field]
        ok = (unit.lower() in _RATIO_UNITS and kind == "number") or (kind == "duration" and _is_duration_unit(unit))
        if not ok:
            raise ValidationError("unit must be percent or bp for a number, a duration unit (s, m, h, d, w, y) for "
                                  "expiry", file=file, field=f"units.{field}", value=unit)
    for field, f in m.scale.items():
        if POSITION_FIELDS[field] not in ("number", "duration") or not (math.isfinite(f) and f > 0):
            raise ValidationError("scale applies to number fields and must be > 0", file=file,
                                  field=f"scale.{field}", value=f)


def _is_duration_unit(unit: str) -> bool:
    try:
        parse_duration(f"1{unit}")
    except UsageError:
        return False
    return True


def read_mapping(mapping: ColumnMapping | Mapping[str, Any] | Path | str, *, file: str | None = None) -> ColumnMapping:
    """A :class:`ColumnMapping` from itself, a parsed document or a YAML/JSON file; errors name file and key."""
    if isinstance(mapping, ColumnMapping):
        return mapping
    if isinstance(mapping, Path | str):
        file = str(mapping)
        mapping = read_document(Path(mapping), "column mapping")
    if not isinstance(mapping, Mapping):
        raise DataError("a column mapping is a mapping with columns, constants, values, units, scale", file=file)
    try:
        m = ColumnMapping.model_validate(mapping)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ValidationError(err["msg"], file=file, field=loc or None, value=err.get("input")) from None
    _check_mapping(m, file)
    return m


def read_document(path: Path, what: str) -> Any:
    """A YAML or JSON file's parsed content (JSON by the ``.json`` suffix); errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {what}: {exc}", file=str(path)) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"cannot parse {what}: {str(exc).splitlines()[0]}", file=str(path)) from None
    except RecursionError:  # nested deeper than the parser can follow
        raise too_deep(f"the {what}", text, file=str(path)) from None


def _market_doc(market: Any, file: str | None) -> tuple[dict[str, Any], str | None, Path | None]:
    """The market document, the file it came from and the directory a mapping path is relative to."""
    base = None
    if isinstance(market, Book):
        return {"name": market.name, **market.model_dump(include={"assets", "correlations", "markets"})}, file, None
    if isinstance(market, Path | str):
        path = Path(market)
        file, base = str(path), path.parent
        market = read_document(path, "market")
    if not isinstance(market, Mapping):
        raise DataError("a market is a mapping with assets (and correlations, markets)", file=file)
    extra = [k for k in market if k not in MARKET_KEYS]
    if extra:
        why = ("positions come from the table, not the market" if extra[0] == "positions"
               else f"a market holds {', '.join(MARKET_KEYS)}")
        raise ValidationError(why, file=file, field=str(extra[0]))
    return dict(market), file, base


def _row_label(frame: pd.DataFrame, i: int, header_rows: int | None) -> Any:
    if header_rows is not None:
        return i + 1 + header_rows
    label = frame.index[i]
    return label.item() if isinstance(label, np.generic) else label


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        import pandas as pd

        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _cell(kind: str, raw: Any, factor: float) -> Any:
    """The cell's value for a field of ``kind``; ValueError (with the reason) when it cannot be read."""
    if kind == "text":
        if isinstance(raw, float) and raw.is_integer():
            return str(int(raw))
        return str(raw).strip()
    if kind == "bool":
        if isinstance(raw, bool | np.bool_):
            return bool(raw)
        s = str(raw).strip().lower()
        if s in ("true", "yes", "y", "1"):
            return True
        if s in ("false", "no", "n", "0"):
            return False
        raise ValueError("not true or false")
    if isinstance(raw, str):
        s = raw.strip()
        try:
            v = float(s)
        except ValueError:
            if kind != "duration":
                raise ValueError("not a number") from None
            try:
                return parse_duration(s)  # a duration with its own unit: no unit or scale applies
            except UsageError:
                raise ValueError("not a duration (seconds, or e.g. 7d, 12h)") from None
    elif isinstance(raw, bool):
        raise ValueError("not a number")
    else:
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise ValueError("not a number") from None
    if not math.isfinite(v):
        raise ValueError("not a finite number")
    return v * factor


def book_from_frame(frame: pd.DataFrame, *, market: Any = None, mapping: Any = None, name: str | None = None,
                    chains: Iterable[str] | None = None, file: str | None = None,
                    header_rows: int | None = None) -> Book:
    """A :class:`~seqrisk.portfolio.Book` from a table of positions (one per row) and its market.

    ``market``: the assets, correlations and rest-of-market models (a mapping, a YAML/JSON file, or a Book whose
    positions are ignored); it may name its ``mapping`` (a path relative to the market file, or the mapping
    itself). ``mapping``: a :class:`ColumnMapping`, its document or file (default: the columns are position
    fields). ``name``: the book's name (default: the market's, else ``"book"``). ``chains``: the known chain ids
    (default: the bundled catalog's). ``file`` names the table in errors; ``header_rows`` (1 for a CSV with a
    header) numbers rows as a spreadsheet does, else rows are the frame's index labels.

    Raises :class:`~seqrisk.exceptions.DataError` (or a subclass) naming the file, row, column and value of the
    first problem.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise UsageError("book_from_frame takes a pandas DataFrame", field="frame", value=type(frame).__name__)
    if market is None:
        raise UsageError("a book from a table needs its market: assets (spot, volatility), correlations and "
                         "rest-of-market models (docs/model.md)", file=file, field="market")
    doc, market_file, base = _market_doc(market, None)
    in_market = doc.pop("mapping", None)
    if mapping is None and in_market is not None:
        if isinstance(in_market, str):  # a file relative to the market file; never read from a market document
            if base is None:
                raise UsageError("a market's mapping names a file only in a market file; pass the mapping itself",
                                 field="mapping", value=in_market)
            in_market = base / in_market
        mapping = in_market
    mapping_file = str(mapping) if isinstance(mapping, Path | str) else market_file
    m = read_mapping(mapping, file=mapping_file) if mapping is not None else ColumnMapping()
    columns = [str(c) for c in frame.columns]
    for col in m.columns:
        if col not in columns:
            raise DataError("the mapping names a column the table does not have", file=file, column=col)
    field_of: dict[str, str] = {}
    for col in columns:
        field = m.columns.get(col) if m.columns else col
        if field is None:
            continue  # a venue column the mapping does not use
        if field not in POSITION_FIELDS:
            import difflib

            near = difflib.get_close_matches(field, POSITION_FIELDS, n=1)
            raise DataError("unknown column: not a position field" + (f" (did you mean {near[0]!r}?)" if near else
                                                                      "; map it in a column mapping"),
                            file=file, column=col)
        if field in m.constants:
            raise DataError("the column and a mapping constant give the same field", file=file, column=col)
        field_of[col] = field
    if "type" not in field_of.values() and "type" not in m.constants:
        raise DataError("no type column (perp, option or loan): add one, or a constant type in the mapping",
                        file=file)
    factors = {f: m.factor(f) for f in field_of.values()}
    col_index = [(j, col, field_of[col]) for j, col in enumerate(columns) if col in field_of]
    positions: list[dict[str, Any]] = []
    labels = [_row_label(frame, i, header_rows) for i in range(len(frame))]
    rows: dict[str, Any] = {}
    for i, values in enumerate(frame.itertuples(index=False, name=None)):
        pos: dict[str, Any] = dict(m.constants)
        for j, col, field in col_index:
            raw = values[j]
            codes = m.values.get(field)
            if codes is not None and not _is_missing(raw) and str(raw).strip() in codes:
                raw = codes[str(raw).strip()]
            if _is_missing(raw):
                continue
            try:
                pos[field] = _cell(POSITION_FIELDS[field], raw, factors[field])
            except ValueError as exc:
                raise ValidationError(str(exc), file=file, row=labels[i], column=col,
                                      value=raw) from None
        pid = str(pos.get("id", ""))
        if pid in rows:
            raise ValidationError(f"position id is used twice (first in row {rows[pid]})", file=file,
                                  row=labels[i], column=_column(field_of, "id"), value=pid)
        if pid:
            rows[pid] = labels[i]
        positions.append(pos)
    doc["positions"] = positions
    doc["name"] = name or doc.get("name") or (Path(file).stem if file else "book")
    try:
        return book_from_dict(doc, file=file, chains=chains)
    except SeqriskError as exc:
        raise _locate(exc, rows, labels, field_of, m, file, market_file, mapping_file) from None


def _column(field_of: Mapping[str, str], field: str) -> str | None:
    return next((c for c, f in field_of.items() if f == field), None)


def _locate(exc: SeqriskError, rows: Mapping[str, Any], labels: list[Any], field_of: Mapping[str, str],
            m: ColumnMapping, file: str | None, market_file: str | None, mapping_file: str | None) -> SeqriskError:
    """``exc`` with the row and column of the position it names (or the market file when it names none)."""
    ctx = exc.context
    pid = str(ctx.get("position", ""))
    if pid in rows:
        ctx["row"] = rows[pid]
    elif pid.startswith("positions[") and pid[10:-1].isdigit() and int(pid[10:-1]) < len(labels):
        ctx["row"] = labels[int(pid[10:-1])]
        ctx.pop("position")
    else:
        if market_file is not None:
            ctx["file"] = market_file
        return exc
    field = ctx.get("field")
    field = "expiry" if field == "expiry_s" else field
    col = _column(field_of, field) if field else None
    if col is not None:
        ctx["column"] = col
        ctx.pop("field", None)
    elif field in m.constants:
        ctx["field"] = f"constants.{field}"
        ctx["file"] = mapping_file or file
    return exc
