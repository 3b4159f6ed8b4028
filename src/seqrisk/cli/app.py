"""The ``seqrisk`` command: a typer app whose command groups live in sibling modules.

Library errors (:class:`~seqrisk.exceptions.SeqriskError`) become one line on
stderr and exit code 1 (bad data) or 2 (usage); no traceback is shown for them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seqrisk import __version__
from seqrisk.catalog import Catalog, load_catalog
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
    "seqrisk.cli.store_query_cmds",
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
    "seqrisk.cli.schema_cmds",
)
for _m in COMMAND_MODULES:
    importlib.import_module(_m)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning seqrisk errors into one line and an exit code."""
    try:
        app(args=argv, prog_name="seqrisk")
    except SeqriskError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, markup=True, highlight=False)
        sys.exit(exc.exit_code)
