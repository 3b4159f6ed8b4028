"""Property-based fuzz of the whole command line (hypothesis): every registered command, found by walking the app,
gets option values drawn from each option's type plus hostile ones (nan, inf, negatives, zero, huge numbers, empty
and unit-less strings, unicode, missing, binary, folder and unwritable files). Whatever the input, the command ends
with exit 0 (a result), 1 (bad data) or 2 (bad usage), never a traceback, one ``error:`` line on stderr when it
fails, and a store that is byte for byte what it was before when it fails.

Commands that read a node get an unreachable loopback URL (never the internet); ``serve`` is stopped before it
listens (its options and config are what is fuzzed). ``SEQRISK_FUZZ_EXAMPLES`` sets the examples per command (a
longer hunt: ``SEQRISK_FUZZ_EXAMPLES=200``); the suite runs a fixed, derandomised few.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import ipaddress
import json
import os
import shutil
import socket
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqrisk.cli.app import app, main
from seqrisk.cli.checks import option_names
from seqrisk.ingest import Ingestor, config_for_chain, run_detection
from seqrisk.rpc import RpcClient
from seqrisk.store import Home

HUNT = os.environ.get("SEQRISK_FUZZ_EXAMPLES")  # a hunt: random examples, this many per command
EXAMPLES = int(HUNT or 4)  # the suite: the same few examples every run
UNREACHABLE = "http://127.0.0.1:9"  # the discard port on loopback: refused at once, nothing sent anywhere
BOOK = Path(__file__).resolve().parents[2] / "examples" / "desk.yaml"


@dataclass(frozen=True)
class Param:
    """One parameter of a command: how it is written and what type typer converts it to."""

    decls: tuple[str, ...]   # option forms ("--json",) or ("--a", "--no-a") for a flag pair; () for an argument
    kind: type               # str, int, float, bool, Path
    many: bool               # repeatable option (list)
    required: bool


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    params: tuple[Param, ...]

    @property
    def name(self) -> str:
        return " ".join(self.path) or "seqrisk"


def _param(name: str, hint: Any, default: Any) -> Param | None:
    base = hint.__origin__ if hasattr(hint, "__metadata__") else hint
    if inspect.isclass(base) and base.__name__ == "Context":
        return None
    union = isinstance(base, types.UnionType) or typing.get_origin(base) is typing.Union
    kind = next(a for a in typing.get_args(base) if a is not type(None)) if union else base
    many = typing.get_origin(kind) is list
    if many:
        kind = typing.get_args(kind)[0]
    return Param(option_names(hint, name) or (), kind, many, default is inspect.Parameter.empty)


def _params(callback: Callable[..., Any]) -> tuple[Param, ...]:
    hints = typing.get_type_hints(callback, include_extras=True)
    out = []
    for name, p in inspect.signature(callback).parameters.items():
        par = _param(name, hints.get(name), p.default)
        if par is not None:
            out.append(par)
    return tuple(out)


def walk(typer_app: Any, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every command of the app: its own commands, and the groups' commands (a group that runs itself too)."""
    for info in typer_app.registered_commands:
        if not info.hidden:
            yield Command((*path, info.name or info.callback.__name__.replace("_", "-")), _params(info.callback))
    for grp in typer_app.registered_groups:
        sub = grp.typer_instance
        cb = sub.registered_callback
        if cb is not None and cb.callback is not None and (grp.invoke_without_command or
                                                            sub.info.invoke_without_command):
            yield Command((*path, grp.name), _params(cb.callback))
        yield from walk(sub, (*path, grp.name))


COMMANDS = list(walk(app))
ROOT = _params(app.registered_callback.callback) if app.registered_callback and app.registered_callback.callback \
    else ()  # --home, --catalog-dir, --version

# ---------------------------------------------------------------------------------------------------- values

HOSTILE_NUMBERS = ["nan", "NaN", "inf", "-inf", "-1", "-5", "0", "1e12", str(10 ** 12), str(2 ** 64), "", "1e400",
                   "0x10", "1,5", "one"]
HOSTILE_TEXT = ["", " ", "2", "0", "-1", "0s", "-1d", "nan", "inf", "1e999y", "99999999999y", "é漢字\u202e", "x" * 2000,
                "../..", "%s%n{}", "2019-02-30", "9999-12-31T99:00", "0001-01-01", "-", ",", "=", "a=b=c", "none"]
PLAUSIBLE_TEXT = ["1h", "30d", "1y", "base", "arbitrum", "downtime", "holder", "venue", "2024-01-01", "100k",
                  "arbitrum=2h", "es99", "local"]
#: Values given when the draw leaves these options out: few paths, replications and retries, one monitor round.
SAFE = {"--paths": "100", "--replications": "2", "--retries": "0", "--rounds": "1"}
SAFE_FLAGS = {"--no-mitigations"}  # the report's lever comparison: a dozen more runs
URLS = [UNREACHABLE, "http://localhost:9/", "http://[::1]:9", "127.0.0.1:9", "ftp://127.0.0.1:9", "", "not a url",
        "http://127.0.0.1:99999", "tcp://127.0.0.1:9"]


def _files(root: Path) -> list[str]:
    """Hostile and plausible files, made once: missing, binary, NUL-holding, empty, a folder, a file under a
    file, an unwritable place, a unicode name, JSON and YAML that are not what is asked, and a real book."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 8)
    (root / "nul.yaml").write_bytes(b"paths: 100\x00\x00")
    (root / "empty.yaml").write_text("")
    (root / "list.json").write_text("[1, 2, 3]")
    (root / "scalar.yaml").write_text("42\n")
    (root / "deep.yaml").write_text("[" * 1500 + "]" * 1500)
    (root / "weird.yaml").write_text("paths: nan\nhorizon: 2\nseed: -1\n")
    (root / "ünï.yaml").write_text("positions: []\n")
    (root / "afile").write_text("x")
    (root / "adir").mkdir(exist_ok=True)
    return [str(root / n) for n in ("binary.yaml", "nul.yaml", "empty.yaml", "list.json", "scalar.yaml",
                                    "deep.yaml", "weird.yaml", "ünï.yaml", "adir", "afile/inside.yaml",
                                    "missing.yaml", "missing/dir/out.html")] + [
        "/sys/seqrisk-fuzz.out", str(BOOK), str(root / "out.html"), str(root / "out.parquet")]


def values(p: Param, files: list[str]) -> st.SearchStrategy[str]:
    decl = p.decls[0] if p.decls else ""
    if "rpc" in decl or decl in ("--scheduler",):
        return st.sampled_from(URLS)
    if p.kind is int:
        return st.sampled_from([*HOSTILE_NUMBERS, "1", "3", "100"])
    if p.kind is float:
        return st.sampled_from([*HOSTILE_NUMBERS, "0.5", "1", "2.5", "1e-320"])
    if p.kind is Path:
        return st.sampled_from(files)
    return st.sampled_from(HOSTILE_TEXT + PLAUSIBLE_TEXT)


def argv_for(cmd: Command, files: list[str], home: Path) -> st.SearchStrategy[list[str]]:
    """Arguments for ``cmd``: every argument, some options (flags included), sometimes a hostile root option;
    options that would reach a node or run long get safe values unless drawn."""
    args = [p for p in cmd.params if not p.decls]
    opts = [p for p in cmd.params if p.decls]

    @st.composite
    def build(draw: st.DrawFn) -> list[str]:
        root = ["--home", str(home)]
        if draw(st.integers(0, 9)) == 0:  # a hostile --home or --catalog-dir instead
            opt = draw(st.sampled_from(["--home", "--catalog-dir"]))
            bad = draw(st.sampled_from([*files, "", "/sys/seqrisk-fuzz", "/proc"]))
            root = ["--home", bad] if opt == "--home" else [*root, opt, bad]
        out: list[str] = []
        chosen = draw(st.lists(st.sampled_from(opts), max_size=min(3, len(opts)), unique_by=lambda p: p.decls)
                      ) if opts else []
        for p in chosen:
            if p.kind is bool:
                out.append(draw(st.sampled_from(p.decls)))
                continue
            for _ in range(draw(st.integers(1, 2)) if p.many else 1):
                out += [p.decls[0], draw(values(p, files))]
        drawn = {p.decls[0] for p in chosen}
        for p in opts:  # safe values where a default would reach the internet or run for minutes
            d = p.decls[0]
            if d == "--rpc" and d not in drawn:
                out += [d, UNREACHABLE]
            elif d in SAFE and d not in drawn:
                out += [d, SAFE[d]]
            elif set(p.decls) & SAFE_FLAGS and d not in drawn:
                out += sorted(set(p.decls) & SAFE_FLAGS)
        pos = []
        for p in args:
            if not p.required and draw(st.booleans()):
                continue
            if p.kind is Path:
                pos.append(draw(st.sampled_from([*files, str(BOOK), str(BOOK)])))
            else:
                pos.append(draw(st.sampled_from(["base", "base", "arbitrum", "nosuch", "", "é漢字", "tok_0"])))
        return [*root, *cmd.path, *pos, *out]

    return build()


# ---------------------------------------------------------------------------------------------------- the store


def _block(n: int) -> dict[str, Any]:
    ts = 1_700_000_000 + 2 * n + (600 if n >= 1500 else 0)  # a 10-minute halt after block 1499
    return {"number": hex(n), "timestamp": hex(ts), "hash": "0x" + f"{n + 1:064x}", "parentHash": "0x" + f"{n:064x}",
            "gasUsed": hex(21000), "transactions": ["0x" + "ab" * 32]}


def _node(request: httpx.Request) -> httpx.Response:
    """A perfect chain of 2,000 blocks with Base's chain id."""
    head = 1999
    out = []
    for c in json.loads(request.content):
        m, prm = c["method"], c["params"]
        if m == "eth_chainId":
            r: Any = hex(8453)
        elif m == "eth_blockNumber":
            r = hex(head)
        elif m == "eth_getBlockByNumber":
            n = head if not str(prm[0]).startswith("0x") else int(prm[0], 16)
            r = _block(n) if n <= head else None
        else:
            out.append({"jsonrpc": "2.0", "id": c["id"], "error": {"code": -32601, "message": "no method"}})
            continue
        out.append({"jsonrpc": "2.0", "id": c["id"], "result": r})
    return httpx.Response(200, json=out)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as real use leaves it: base headers 0..1999 ingested (with a halt in them), events detected."""
    root = tmp_path_factory.mktemp("fuzz-store") / "home"
    home = Home(root)
    with RpcClient(["http://node.invalid"], chain_id=8453, transport=httpx.MockTransport(_node)) as c:
        Ingestor(c, home, "base", chunk_blocks=500).run(0, 1999)
    from seqrisk.catalog import load_catalog

    run_detection(home, "base", config_for_chain(load_catalog().chain("base")), write=True)
    with home.state() as s:
        assert s.events(chain="base"), "the store's halt is found"
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file of the store by its digest; the model cache aside (a fit kept for the next run is not a change
    to the store's data, and a command may fit before it finds its input wrong)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "cache"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _files(tmp_path_factory.mktemp("fuzz-files"))


def _loopback_only(connect: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(address[0]).is_loopback:
            raise OSError(errno.ENETUNREACH, f"the fuzz test reaches loopback only, not {address[0]}")
        return connect(sock, address)

    return guarded


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a scratch folder (relative outputs land there), no user catalog, no waits between retries, and a
    server that returns instead of listening."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEQRISK_CATALOG_DIR", raising=False)
    monkeypatch.delenv("SEQRISK_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(RpcClient, "_backoff_s", lambda self, attempt, retry_after: 0.0)
    for name in ("connect", "connect_ex"):  # a default endpoint (the catalog's public ones) is never reached
        monkeypatch.setattr(socket.socket, name, _loopback_only(getattr(socket.socket, name)))
    import seqrisk.service.server as server

    monkeypatch.setattr(server, "serve", lambda cfg, root, **kw: None)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c.name)
def test_every_command_ends_cleanly_whatever_its_input(cmd: Command, store: Path, files: list[str], sandbox: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    counter = iter(range(10 ** 6))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=HUNT is None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        home = sandbox / f"home-{next(counter)}"
        shutil.copytree(store, home)
        argv = data.draw(argv_for(cmd, files, home), label="argv")
        before = snapshot(home)
        code, out, err = run(argv, capsys)
        shown = f"seqrisk {' '.join(argv)} -> exit {code}\nstderr: {err[-2000:]}"
        assert code in (0, 1, 2), shown
        assert "Traceback" not in err and "Traceback" not in out, shown
        if code:
            errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
            # one error line; a check that found problems (exit 1) lists them instead
            assert len(errors) == 1 or (code == 1 and not errors and (out + err).strip()), shown
            if code == 2:  # a usage error: nothing else said, nothing done
                assert [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("note:")] == errors, shown
            assert snapshot(home) == before, f"the store changed: {shown}"
        shutil.rmtree(home, ignore_errors=True)

    check()


def test_the_walk_finds_every_command() -> None:
    """The fuzz covers what is registered, groups and their own commands included, and each command's options."""
    names = {c.name for c in COMMANDS}
    assert {"simulate", "detect", "ingest", "scan", "store info", "serve", "serve token create", "catalog import",
            "fit", "report"} <= names
    sim = next(c for c in COMMANDS if c.name == "simulate")
    kinds = {p.decls[0] if p.decls else "ARG": p.kind for p in sim.params}
    assert kinds["--paths"] is int and kinds["--out"] is Path and kinds["ARG"] is Path and kinds["--json"] is bool
    assert {p.decls[0] for p in ROOT} >= {"--home", "--catalog-dir"}
