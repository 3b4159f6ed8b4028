"""How results and fitters show themselves: a titled table with units and Monte Carlo errors.

A class mixes in :class:`Displayed` and defines ``_shown()``; it then prints
as a text table (``repr``) and renders as an HTML table in a notebook
(``_repr_html_``). Figures with an error read ``value ± standard error``.

>>> pm_usd(1234.5, 56.0)
'$1.23k ± $56'
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from seqrisk.exceptions import NotFittedError
from seqrisk.units import format_usd

__all__ = ["Displayed", "Shown", "pm", "pm_usd"]


def pm_usd(value: float, se: float) -> str:
    """``$v ± $se`` (USD, rounded for reading); ``$v`` alone when the error is unknown."""
    if not math.isfinite(se):
        return format_usd(value)
    return f"{format_usd(value)} ± {format_usd(se)}"


def pm(value: float, se: float, digits: int = 3) -> str:
    """``v ± se`` for a plain number (a probability, a rate), ``digits`` significant digits on the value."""
    if not math.isfinite(se):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} ± {se:.2g}"


@dataclass(frozen=True)
class Shown:
    """What an object shows: a title, a table (its index is the row label) and notes."""

    title: str
    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.title, self.table.to_string(), *self.notes]
        return "\n".join(lines)

    def html(self) -> str:
        notes = "".join(f"<br>{html.escape(n)}" for n in self.notes)
        return (f'<div class="seqrisk"><p><b>{html.escape(self.title)}</b></p>'
                f"{self.table.to_html(escape=True, border=0, na_rep='')}"
                + (f'<p style="font-size: smaller">{notes[4:]}</p>' if notes else "") + "</div>")


class Displayed:
    """Mixin: ``repr`` as a text table and ``_repr_html_`` as an HTML table, both from ``_shown()``."""

    def _shown(self) -> Shown:
        raise NotImplementedError

    def _unfitted(self) -> str:
        return f"<{type(self).__name__}: not fitted>"

    def __repr__(self) -> str:
        try:
            return self._shown().text()
        except NotFittedError:
            return self._unfitted()

    def _repr_html_(self) -> str:
        try:
            return self._shown().html()
        except NotFittedError:
            return f"<p>{html.escape(self._unfitted())}</p>"
