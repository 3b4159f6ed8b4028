"""``seqrisk store info [--verify]`` and ``seqrisk store recover``: where the state lives, what it holds,
whether every block partition is intact, and rebuilding a lost state database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from seqrisk.cli.app import app, err_console, state
from seqrisk.cli.modeling import catalog_provenance
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, table

__all__: list[str] = []

store_app = typer.Typer(help="The local store (state database and block files).", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("info")
def info_cmd(
    verify_all: Annotated[bool, typer.Option("--verify", help="Check every block partition (SHA-256, page "
                                             "checksums, contents); quarantine what fails (exit 1).")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Show the store's location, schema version, row counts and block partitions."""
    from seqrisk.store import SCHEMA_VERSION
    from seqrisk.store.ledger import repairs
    from seqrisk.store.recover import verify

    home = state.home
    problems = verify(home) if verify_all else []
    with home.state() as st:
        counts = st.counts()
        version = st.version
        ok = st.integrity_ok()
        todo = repairs(st)
    blocks = home.blocks()
    chains = {c: {"partitions": len(blocks.partitions(c)), "bytes": blocks.size_bytes(c)} for c in blocks.chains()}
    doc = {"home": str(home.root), "state_file": str(home.state_path),
           "state_schema": version, "state_schema_supported": SCHEMA_VERSION, "integrity_ok": ok,
           "tables": counts, "block_chains": chains,
           "verified": None if not verify_all else {"problems": [p.line() for p in problems]},
           "to_refetch": [{"chain": r.chain, "first": r.first, "last": r.last, "reason": r.reason} for r in todo]}
    if as_json:
        echo_json("store.info", doc, catalog_provenance())
    else:
        _render_info(doc, problems, todo, verify_all)
    if problems or not ok:
        raise typer.Exit(1)


def _render_info(doc: dict[str, Any], problems: list[Any], todo: list[Any], verified: bool) -> None:
    out = console()
    out.print(f"home:   {doc['home']}")
    out.print(f"state:  {doc['state_file']} (schema {doc['state_schema']}, integrity "
              f"{'ok' if doc['integrity_ok'] else 'FAILED'})")
    t = table(None, "table", "rows", right=("rows",))
    for k, v in doc["tables"].items():
        t.add_row(k, str(v))
    out.print(t)
    if doc["block_chains"]:
        b = table("\nBlock store", "chain", "partitions", "MB", right=("partitions", "MB"))
        for c, d in doc["block_chains"].items():
            b.add_row(c, str(d["partitions"]), f"{d['bytes'] / 1e6:.2f}")
        out.print(b)
    else:
        out.print("block store: empty")
    if verified:
        out.print(f"verify: {len(problems)} partition(s) failed" if problems else "verify: every partition intact")
        for p in problems:
            err_console.print(p.line(), soft_wrap=True, markup=False, highlight=False)
    elif doc["block_chains"]:  # the integrity above is the state database's; the files are checked when read
        out.print("verify: block partitions not checked now (`seqrisk store info --verify` checks every one)")
    for r in todo:
        out.print(f"to fetch again: {r.chain} blocks {r.first}..{r.last} ({r.reason}); run `seqrisk ingest "
                  f"{r.chain} --rpc URL`", soft_wrap=True)


@store_app.command("recover")
def recover_cmd(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the state database looks intact.")]
    = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rebuild a lost or damaged state database from what is left of it and from the block store."""
    from seqrisk.store.recover import recover

    rep = recover(state.home, force=force)
    if as_json:
        echo_json("store.recover", rep.as_dict(), catalog_provenance())
        return
    out = console()
    if rep.state_was == "ok" and not force:
        out.print(f"state database {state.home.state_path} is intact: nothing to recover")
        return
    out.print(f"state database was {rep.state_was}" + (f"; kept as {rep.moved_to}" if rep.moved_to else ""),
              soft_wrap=True)
    if rep.salvaged:
        out.print("salvaged rows: " + ", ".join(f"{t} {n}" for t, n in rep.salvaged.items()))
    if rep.unreadable:
        out.print("unreadable tables: " + ", ".join(rep.unreadable))
    out.print(f"block partitions checked into the ledger: {rep.partitions}")
    for p in rep.problems:
        err_console.print(p.line(), soft_wrap=True, markup=False, highlight=False)
    for c in sorted(set(rep.cursors) | set(rep.chain_ids)):
        out.print(f"{c}: chain id {rep.chain_ids.get(c, '?')}, next block {rep.cursors.get(c, '?')}")
    if rep.reorg_events:
        out.print(f"reorg events restored from truncation markers: {rep.reorg_events}")
    if rep.lost:
        out.print("not recoverable from the block store: " + ", ".join(rep.lost), soft_wrap=True)
