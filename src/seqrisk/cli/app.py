"""The ``seqrisk`` command: a typer app whose command groups live in sibling modules.

Every input is checked before any work (:mod:`seqrisk.cli.checks`). Exit codes:
0 done; 1 bad data (a library :class:`~seqrisk.exceptions.SeqriskError` that
is not a usage error) or a check that failed (``store info --verify``); 2 bad
usage or input (a misspelt option, a value out of range, an unreadable file);
130 interrupted; 70 an internal error (a bug: one line and the file holding the
traceback; ``SEQRISK_DEBUG=1`` prints it instead). Each error is one line on
stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seqrisk import __version__
from seqrisk.catalog import Catalog, load_catalog
from seqrisk.cli import checks
from seqrisk.cli.settings import Settings
from seqrisk.exceptions import SeqriskError
from seqrisk.store import Home

__all__ = ["app", "main", "state"]

app = typer.Typer(
    name="seqrisk",
    help="Measure and reduce Layer-2 sequencer risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err_console = Console(stderr=True, highlight=False)


class _State:
    """Per-invocation context: settings, and the catalog loaded lazily once."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._catalog: Catalog | None = None
        self._home_checked: Path | None = None

    def configure(self, home: Path | None, catalog_dir: Path | None) -> None:
        self.settings = Settings.from_env(home, catalog_dir)
        self._catalog = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.catalog_dir)
        return self._catalog

    @property
    def home(self) -> Home:
        if self._home_checked != self.settings.home:  # $SEQRISK_HOME or the default, checked like --home
            checks.home_dir(self.settings.home)
            self._home_checked = self.settings.home
        return Home(self.settings.home)


state = _State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seqrisk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    home: Annotated[Path | None, typer.Option("--home", help="State directory (default $SEQRISK_HOME "
                                              "or $XDG_DATA_HOME/seqrisk, ~/.local/share/seqrisk).")] = None,
    catalog_dir: Annotated[Path | None, typer.Option(
        "--catalog-dir", help="Directory of your own chains*/incidents* files, merged over the bundled "
        "catalog (default $SEQRISK_CATALOG_DIR).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """seqrisk: what Layer-2 sequencer outages can cost a book, and what reduces it."""
    state.configure(home, catalog_dir)


#: Command modules, each registering its commands on ``app`` when imported.
COMMAND_MODULES = (
    "seqrisk.cli.catalog_cmds",
    "seqrisk.cli.catalog_admin_cmds",
    "seqrisk.cli.store_cmds",
    "seqrisk.cli.simulate_cmds",
    "seqrisk.cli.report_cmds",
    "seqrisk.cli.fit_cmds",
    "seqrisk.cli.backtest_cmds",
    "seqrisk.cli.chain_cmds",
    "seqrisk.cli.monitor_cmds",
    "seqrisk.cli.compare_cmds",
    "seqrisk.cli.insure_cmds",
    "seqrisk.cli.place_cmds",
    "seqrisk.cli.serve_cmds",
    "seqrisk.cli.nowcast_cmds",
)
for _m in COMMAND_MODULES:
    importlib.import_module(_m)
checks.install(app)


def _line(text: str, code: int) -> None:
    err_console.print(text, soft_wrap=True, markup=False, highlight=False)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; every error ends as one line on stderr and its exit code (module docstring)."""
    try:
        rv = app(args=argv, prog_name="seqrisk", standalone_mode=False)
    except SeqriskError as exc:
        _line(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _line("interrupted", 130)
    except Exception as exc:  # click's usage errors (typer vendors click: matched by their shape), then bugs
        if type(exc).__name__ == "Abort":  # Ctrl-C at a prompt
            _line("interrupted", 130)
        code = getattr(exc, "exit_code", None)
        if hasattr(exc, "format_message") and isinstance(code, int):
            if type(exc).__name__ == "NoArgsIsHelpError":  # `seqrisk` alone, or a group alone: its help
                if exc.format_message():  # (some click versions print it before raising)
                    sys.stderr.write(exc.format_message().rstrip("\n") + "\n")
                sys.exit(code)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _line(f"error: {exc.format_message()}{hint}", code)
        if os.environ.get("SEQRISK_DEBUG"):
            raise
        with tempfile.NamedTemporaryFile("w", prefix="seqrisk-error-", suffix=".txt", delete=False) as fh:
            traceback.print_exc(file=fh)
        _line(f"internal error (a bug in seqrisk): {type(exc).__name__}: {exc}; traceback in {fh.name} "
              "(SEQRISK_DEBUG=1 prints it)", 70)
    sys.exit(rv if isinstance(rv, int) else 0)
