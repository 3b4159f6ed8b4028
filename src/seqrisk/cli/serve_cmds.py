"""``seqrisk serve``: the dashboard and JSON API; ``seqrisk serve token create|list|revoke``: its API tokens.

The web framework is imported only when the server starts, so every other
command runs without the ``serve`` extra.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from seqrisk.cli.app import app, state
from seqrisk.cli.backend_opts import SchedulerOpt
from seqrisk.cli.render import JsonOpt, QuietOpt, console, echo_json, messages, table

__all__: list[str] = []

serve_app = typer.Typer(help="The team's web dashboard and JSON API (docs/serve.md).", invoke_without_command=True)
token_app = typer.Typer(help="API tokens of the service (stored hashed; shown once).", no_args_is_help=True)
serve_app.add_typer(token_app, name="token")
app.add_typer(serve_app, name="serve")


@serve_app.callback()
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1; another "
                                             "address needs --auth all and a token).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port (default 8000; 0: any free port).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Service config file (YAML); "
                                                "SEQRISK_SERVE_<SETTING> variables override it.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Job worker processes (default 2).")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="Where the jobs' simulations run: local (in each worker process) or dask (a Dask "
        "cluster: --scheduler, or a local cluster on 127.0.0.1 sized by the dask_workers setting). Numbers do not "
        "change.")] = None,
    scheduler: SchedulerOpt = None,
    auth: Annotated[str | None, typer.Option("--auth", help="writes (default: a write token for every write, "
                                             "reads open) or all (a token for everything).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="When listening, print one JSON object on stdout: the "
                                          "address (e.g. with --port 0), auth, workers, home.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Serve the dashboard and the API (on 127.0.0.1:8000 unless told otherwise) until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    from seqrisk.cli.backend_opts import backend_kind
    from seqrisk.service.config import load_config
    from seqrisk.service.server import serve

    if backend is not None or scheduler is not None:
        backend = backend_kind(backend, scheduler)
    cfg = load_config(config, host=host, port=port, workers=workers, auth=auth, backend=backend,
                      scheduler=scheduler, catalog_dir=state.settings.catalog_dir,
                      log_level="warning" if quiet else None)
    root = cfg.home or state.home.root

    def announce(url: str) -> None:
        if as_json:
            echo_json("serve", {"url": url, "auth": cfg.auth, "workers": cfg.workers, "home": str(root)}, None)
            sys.stdout.flush()
        messages().print(f"seqrisk serve: {url} (auth: {cfg.auth}, {cfg.workers} workers, home {root})",
                         markup=False)

    serve(cfg, root, announce=announce)


@contextmanager
def _tokens():  # type: ignore[no-untyped-def]
    from seqrisk.service.tokens import TokenStore

    with state.home.state() as st:  # closed after the command: no connection (nor its WAL file) left open
        yield TokenStore(st)


@token_app.command("create")
def token_create(
    scope: Annotated[str, typer.Option("--scope", help="read (pages and read endpoints) or write (also submit, "
                                       "cancel, upload).")] = "read",
    name: Annotated[str, typer.Option("--name", help="A name to recognise it by (who or what uses it).")] = "",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create a token; it is printed once and only its SHA-256 digest is kept."""
    with _tokens() as ts:
        secret, tok = ts.create(scope, name)
    if as_json:
        echo_json("serve.token.create", {"token": secret, **tok.to_dict()}, None)
        return
    typer.echo(secret)
    messages().print(f"{tok.id} ({tok.scope}, {tok.name}): keep the token above, it is not stored and cannot be "
                     "shown again", style="dim", markup=False)


@token_app.command("list")
def token_list(as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """The tokens (ids, names, scopes, dates; never the secrets)."""
    with _tokens() as ts:
        toks = ts.list()
    if as_json:
        echo_json("serve.token.list", {"tokens": [t.to_dict() for t in toks]}, None)
        return
    from datetime import UTC, datetime

    def when(t: float | None) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") if t else "-"

    t = table(None, "id", "scope", "name", "created", "last used", "revoked")
    for k in toks:
        t.add_row(k.id, k.scope, k.name, when(k.created_utc), when(k.last_used_utc), when(k.revoked_utc))
    console().print(t)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (tok_...).")],
                 as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Revoke a token: every request with it is refused from now on."""
    with _tokens() as ts:
        tok = ts.revoke(token_id)
    if as_json:
        echo_json("serve.token.revoke", {"revoked": tok.to_dict()}, None)
        return
    typer.echo(f"revoked {tok.id} ({tok.scope}, {tok.name})")
