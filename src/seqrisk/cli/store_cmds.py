"""``seqrisk store info``: where the state lives and what it holds."""

from __future__ import annotations

from typing import Annotated

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.modeling import catalog_provenance
from seqrisk.cli.render import JSON_SCHEMA, console, echo_json, table
from seqrisk.store import SCHEMA_VERSION

__all__: list[str] = []

store_app = typer.Typer(help="The local store (state database and block files).", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("info")
def info_cmd(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """Show the store's location, schema version, row counts and block partitions."""
    home = state.home
    with home.state() as st:
        counts = st.counts()
        version = st.version
        ok = st.integrity_ok()
    blocks = home.blocks()
    chains = {c: {"partitions": len(blocks.partitions(c)), "bytes": blocks.size_bytes(c)} for c in blocks.chains()}
    doc = {"schema": JSON_SCHEMA, "kind": "seqrisk.store", "home": str(home.root), "state_file": str(home.state_path),
           "state_schema": version, "state_schema_supported": SCHEMA_VERSION, "integrity_ok": ok,
           "tables": counts, "block_chains": chains}
    if as_json:
        echo_json(doc, catalog_provenance())
        return
    out = console()
    out.print(f"home:   {home.root}")
    out.print(f"state:  {home.state_path} (schema {version}, integrity {'ok' if ok else 'FAILED'})")
    t = table(None, "table", "rows", right=("rows",))
    for k, v in counts.items():
        t.add_row(k, str(v))
    out.print(t)
    if chains:
        b = table("\nBlock store", "chain", "partitions", "MB", right=("partitions", "MB"))
        for c, d in chains.items():
            b.add_row(c, str(d["partitions"]), f"{d['bytes'] / 1e6:.2f}")
        out.print(b)
    else:
        out.print("block store: empty")
