"""``seqrisk schema ...``: the JSON Schemas of seqrisk's documents, printed or written to a file.

A command group: each document is a subcommand (``seqrisk schema book``). Inputs
are generated from the models that validate them, so a schema never disagrees
with what seqrisk accepts. ``seqrisk schema output [COMMAND]`` lists the
layouts of the commands' ``--json`` outputs, or prints one (published in
:mod:`seqrisk.schemas`, checked against every command's output by the tests).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from seqrisk.cli.app import app
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, table
from seqrisk.exceptions import UsageError

__all__ = ["SCHEMAS", "schema_app"]

schema_app = typer.Typer(help="JSON Schemas of seqrisk's documents (books, column mappings).", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


def _book() -> dict[str, Any]:
    from seqrisk.portfolio.schema import book_schema

    return book_schema()


def _mapping() -> dict[str, Any]:
    from seqrisk.portfolio.schema import mapping_schema

    return mapping_schema()


#: Document name -> its schema (a subcommand each).
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {"book": _book, "mapping": _mapping}

OutOpt = Annotated[Path | None, typer.Option("--out", metavar="FILE.json",
                                             help="Write the schema to this file (default: standard output).")]


def emit(doc: dict[str, Any], out: Path | None) -> None:
    """The schema as indented JSON on standard output, or into ``out`` (a ``.json`` file)."""
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    if out.suffix.lower() != ".json":
        raise UsageError("a JSON Schema is written to a .json file", field="--out", value=str(out))
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the schema: {exc.strerror or exc}", field="--out", value=str(out)) from None


#: ``--json`` of a command whose output is a JSON Schema: that document is the output, with or without it.
SchemaJsonOpt = Annotated[bool, typer.Option("--json", help="The schema is JSON already: accepted, changes nothing.")]


@schema_app.command("book")
def book_cmd(out: OutOpt = None, as_json: SchemaJsonOpt = False, quiet: QuietOpt = False) -> None:
    """The JSON Schema of a book document (YAML or JSON; a CSV or Parquet row is one of its positions): every field,
    its type, unit, default and meaning."""
    emit(SCHEMAS["book"](), out)


@schema_app.command("mapping")
def mapping_cmd(out: OutOpt = None, as_json: SchemaJsonOpt = False, quiet: QuietOpt = False) -> None:
    """The JSON Schema of a column mapping: how a venue's CSV or Parquet export becomes positions."""
    emit(SCHEMAS["mapping"](), out)


@schema_app.command("output")
def output_cmd(
    command: Annotated[str | None, typer.Argument(metavar="[COMMAND]", help="A command (simulate, store info, "
                                                  "compare.sweep ...): print the JSON Schema of its --json "
                                                  "output. Without it: every layout.")] = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The layouts of the commands' --json outputs ("schema": "seqrisk.<command>/<version>"), or one as a JSON
    Schema."""
    from seqrisk.schemas import output_id, output_names, output_schema

    if command is not None:
        emit(output_schema(".".join(command.split())), out)
        return
    rows = [{"command": n, "id": output_id(n), "description": str(output_schema(n).get("description", ""))}
            for n in output_names()]
    if as_json:
        echo_json("schema.output", {"layouts": rows}, None)
        return
    t = table(None, "command", "schema", "what it holds")
    for r in rows:
        t.add_row(r["command"].replace(".", " "), r["id"], r["description"])
    console().print(t)
