"""The ``seqrisk`` command: a typer app whose command groups live in sibling modules.

Every input is checked before any work (:mod:`seqrisk.cli.checks`). Exit codes:
0 done; 1 bad data (a library :class:`~seqrisk.exceptions.SeqriskError` that
is not a usage error) or a check that failed (``store info --verify``); 2 bad
usage or input (a misspelt option, a value out of range, an unreadable file);
130 interrupted; 70 an internal error (a bug: one line and the file holding the
traceback; ``SEQRISK_DEBUG=1`` prints it instead). Each error is one line on
stderr, never a traceback. Every command takes ``--json`` and ``--quiet``
(:mod:`seqrisk.cli.render`); the command modules import what they compute
with when they run, so the app and ``--help`` start without SciPy, Numba or
DuckDB.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
import typing
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from seqrisk import __version__
from seqrisk.catalog import Catalog, load_catalog
from seqrisk.cli import checks, render
from seqrisk.cli.settings import Settings
from seqrisk.exceptions import SeqriskError
from seqrisk.store import Home

__all__ = ["app", "main", "state"]

#: What the help shows for a value of each type (an option's own ``metavar`` wins; flags show none).
_WORDS = {int: "INTEGER", float: "NUMBER", str: "TEXT", "integer": "INTEGER", "float": "NUMBER", "text": "TEXT",
          "path": "PATH", "file": "FILE", "directory": "DIR"}


def _readable_metavars(cmd: Any) -> None:
    """Name every value in the help as a word (``PATH``, ``INTEGER``, ``TEXT``) instead of a Python type
    (``<path>``, ``<list[str]>``), and none for a flag (typer shows ``<bool>``)."""
    for sub in getattr(cmd, "commands", {}).values():
        _readable_metavars(sub)
    made = cmd.get_help_option

    def help_option(ctx: Any) -> Any:  # --help is made when asked for: no metavar either
        opt = made(ctx)
        if opt is not None:
            opt.metavar = ""
        return opt

    cmd.get_help_option = help_option
    for p in cmd.params:
        if p.param_type_name == "argument":  # its name is its metavar (ID, PORTFOLIO): no type beside it
            p.metavar = p.metavar or p.name.upper()
            p.display_type_rich = lambda ctx: None
        elif p.metavar is not None:
            continue
        elif getattr(p, "is_flag", False):
            p.metavar = ""
        elif (desc := getattr(p, "type_descriptor", None)) is not None:  # typer's own parameter types
            if not desc.is_choice:
                ann = typing.get_args(desc.annotation)[0] if desc.is_list else desc.annotation
                p.metavar = "PATH" if desc.is_path else _WORDS.get(ann, "VALUE")
        else:  # click's parameter types (older typer)
            name = str(getattr(p.type, "name", "text")).removesuffix(" range")
            p.metavar = _WORDS.get(name, name.upper())


class _Group(TyperGroup):
    """The root command group: readable metavars on every command (they are built before the group)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _readable_metavars(self)

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for p in params:  # the shell-completion flags are added after the group is built
            if p.metavar is None and getattr(p, "is_flag", False):
                p.metavar = ""
        return params


app = typer.Typer(
    name="seqrisk",
    cls=_Group,
    help="Measure and reduce Layer-2 sequencer risk.\n\nEvery command takes --json (one JSON object on stdout; "
    "its layout: seqrisk schema output COMMAND) and --quiet (nothing on stderr but errors). Results go to stdout, "
    "progress and notes to stderr; usage errors exit 2, bad data 1.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"show_default": True},
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
    render.reset()
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
checks.install(app)


def _refused_value(exc: BaseException) -> str:
    """`` (value='1')``: the value an option's type refused, when the message does not show it (typer's range
    checks say only the bound)."""
    errors = getattr(exc.__cause__, "errors", None)
    try:
        value = errors()[0]["input"] if callable(errors) else None
    except (IndexError, KeyError, TypeError):
        return ""
    return f" (value={value!r})" if isinstance(value, str | int | float) and str(value) not in str(exc) else ""


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
            _line(f"error: {exc.format_message()}{_refused_value(exc)}{hint}", code)
        if os.environ.get("SEQRISK_DEBUG"):
            raise
        with tempfile.NamedTemporaryFile("w", prefix="seqrisk-error-", suffix=".txt", delete=False) as fh:
            traceback.print_exc(file=fh)
        _line(f"internal error (a bug in seqrisk): {type(exc).__name__}: {exc}; traceback in {fh.name} "
              "(SEQRISK_DEBUG=1 prints it)", 70)
    sys.exit(rv if isinstance(rv, int) else 0)
