"""What every command shares about its output: stdout for results, stderr for progress and messages.

* :func:`console` writes results to stdout. On a terminal Rich wraps to the
  terminal's width; elsewhere (a pipe, a file, ``$(...)``) nothing is wrapped:
  the width is ``$COLUMNS`` when set, else unlimited, so a row stays on one
  line for ``grep`` and ``cut``; trailing spaces are never written.
* :func:`messages` writes progress, spinners and notes to stderr; ``--quiet``
  silences it (errors are printed by the entry point and always shown).
* ``--json`` (:data:`JsonOpt`) prints one JSON object (:func:`echo_json`):
  ``{"schema": "seqrisk.<command>/<version>", "provenance": {...}, ...}``,
  the layout published as a JSON Schema in :mod:`seqrisk.schemas`.
"""

from __future__ import annotations

import io
import json
import os
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from seqrisk.exceptions import UsageError
from seqrisk.provenance import Provenance

__all__ = ["JsonOpt", "QuietOpt", "console", "echo_json", "json_text", "messages", "output_format", "reset",
           "set_quiet", "table"]

#: The width of output that goes to a pipe or a file when ``$COLUMNS`` is not set: no line is wrapped.
UNWRAPPED = 1 << 20


class _Settings:
    """This invocation's output settings (reset by the root command, set by ``--quiet``)."""

    quiet = False


_settings = _Settings()


def reset() -> None:
    """Back to the defaults: the start of every invocation (the app may run more than once in a process)."""
    _settings.quiet = False


def set_quiet(value: bool) -> bool:
    """``--quiet``'s callback: silence :func:`messages` for the rest of this invocation (a command whose
    ``--quiet`` also trims its stdout declares its own option with this callback)."""
    if value:
        _settings.quiet = True
    return value


JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON object on stdout (its layout: seqrisk schema output COMMAND).")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", callback=set_quiet, help="Nothing on stderr but errors (no progress, notes or messages).")]


class _NoTrailingSpace(io.TextIOBase):
    """A text stream that writes each line without its trailing spaces (Rich pads table cells)."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__()
        self.out = out
        self.pending = ""

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        if lines:
            self.out.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.out.write(self.pending.rstrip(" "))
            self.pending = ""
        self.out.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.out.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.out, "encoding", "utf-8") or "utf-8"


def console() -> Console:
    """The stdout console: a terminal's width on a terminal; elsewhere ``$COLUMNS`` or unwrapped."""
    out = sys.stdout
    if out.isatty():
        return Console(file=out, highlight=False, soft_wrap=False)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else UNWRAPPED
    return Console(file=typing.cast(IO[str], _NoTrailingSpace(out)), width=width, highlight=False, soft_wrap=False)


def messages() -> Console:
    """The stderr console for progress, spinners and notes; silent under ``--quiet``."""
    return Console(stderr=True, highlight=False, soft_wrap=True, quiet=_settings.quiet)


def json_text(command: str, doc: Mapping[str, Any], provenance: Provenance | None) -> str:
    """``doc`` as the JSON object of ``command``: its ``schema`` id first, then ``provenance`` (when the output
    states one), then the data (a library document's own ``schema``/``kind`` keys are replaced)."""
    from seqrisk.schemas import output_id

    out: dict[str, Any] = {"schema": output_id(command)}
    if provenance is not None:
        out["provenance"] = provenance.to_dict()
    out.update((k, v) for k, v in doc.items() if k not in ("schema", "kind"))
    return json.dumps(out, indent=2, default=str, ensure_ascii=False) + "\n"


def echo_json(command: str, doc: Mapping[str, Any], provenance: Provenance | None) -> None:
    """Print the JSON object of ``command`` (:func:`json_text`) on stdout."""
    sys.stdout.write(json_text(command, doc, provenance))


def output_format(path: Path, field: str, formats: Mapping[str, str]) -> str:
    """The format to write ``path`` in, from its suffix (``formats`` maps ``.csv`` to ``csv`` ...); another
    suffix is a usage error naming the ones known (``--out run.csv`` never writes Parquet)."""
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(formats))
        raise UsageError(f"cannot tell the file format from its suffix (use {known})", field=field, file=str(path))
    return fmt


def table(title: str | None, *columns: str, right: tuple[str, ...] = ()) -> Table:
    t = Table(title=title, title_justify="left", pad_edge=False, box=None, header_style="bold",
              show_edge=False, padding=(0, 1))
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", overflow="fold")
    return t
