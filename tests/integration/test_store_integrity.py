"""Storage integrity on real files from a real node: a flipped bit in any partition is detected (by the
ledger's SHA-256, always) and repaired by refetching; a foreign partition is quarantined; a lost state database
(deleted, emptied, corrupted) is detected, never silently recreated, and recovered from the block store with
its chain-id binding, cursor and reorg events."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from integration.anvil import Anvil, running_node
from seqrisk.cli.app import app
from seqrisk.exceptions import DataError, StoreError
from seqrisk.ingest import Ingestor
from seqrisk.rpc import RpcClient
from seqrisk.store import BlockStore, Home, QuarantinedError, StateStore
from seqrisk.store.layout import content_problem

pytestmark = pytest.mark.integration
HEAD = 1000
CHAIN = "arbitrum"
TRIALS = 40


@pytest.fixture(scope="module")
def node(anvil_binary: Path) -> Iterator[Anvil]:
    with running_node(HEAD - 40, interval_s=2, chain_id=42161) as n:
        # a reorg inside the stored history, so the store holds a truncation marker and a reorg event
        base = Path(n._tmp) / "pre"
        with RpcClient([n.url], batch_size=100) as c:
            Ingestor(c, Home(base), CHAIN, chunk_blocks=100).run(0)
        n.rpc("anvil_reorg", 5, [[{"from": n.accounts()[0], "to": "0x00000000000000000000000000000000000000aa",
                                   "value": "0x3"}, 0]])
        n.rpc("anvil_mine", hex(40), hex(2))
        yield n


@pytest.fixture(scope="module")
def base(node: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding blocks 0..1000 in 100-block partitions, built through one reorg."""
    home = tmp_path_factory.mktemp("base") / "home"
    shutil.copytree(Path(node._tmp) / "pre", home)
    with RpcClient([node.url], batch_size=100) as c:
        r = Ingestor(c, Home(home), CHAIN, chunk_blocks=100).run(0)
    assert [e.evidence["depth"] for e in r.reorgs] == [5] and Home(home).blocks().head(CHAIN) == HEAD
    return home


def copy(base: Path, dest: Path) -> Home:
    shutil.copytree(base, dest)
    return Home(dest)


def cli(home: Path, *args: str) -> tuple[int, str, BaseException | None]:
    r = CliRunner().invoke(app, ["--home", str(home), *args])
    return r.exit_code, r.output, r.exception


def flip_bit(path: Path, rng: random.Random) -> int:
    data = bytearray(path.read_bytes())
    bit = rng.randrange(8 * len(data))
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))
    return bit


def test_a_flipped_bit_is_always_detected_and_repaired_by_refetch(node: Anvil, base: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """40 seeded trials, each one bit flipped anywhere in a random data partition: `store info --verify`
    names that file and only it, every time (SHA-256), and `ingest` (continuing from the cursor) refetches
    its blocks so the store equals the untouched one. Page checksums and content checks alone, what a
    store without its ledger has, are measured too."""
    reference = Home(base).blocks().read(CHAIN)
    rng = random.Random(14)
    detected = by_pages = silent_reads = 0
    misses = []
    for trial in range(TRIALS):
        home = copy(base, tmp_path / f"t{trial}")
        data = [p for p in home.blocks().partitions(CHAIN) if p.last > p.first]
        victim = rng.choice(data)
        flip_bit(victim.path, rng)
        by_pages += content_problem(victim) is not None
        with contextlib.suppress(StoreError, OSError, pa.ArrowException):  # what a store without a ledger reads
            silent_reads += BlockStore(home.root / "blocks").read(CHAIN).equals(reference) is False
        code, out, _ = cli(home.root, "store", "info", "--verify")
        err = capsys.readouterr().err
        lines = [ln for ln in (out + err).splitlines() if "block partition" in ln]
        if code == 1 and len(lines) == 1 and victim.path.name in lines[0] and "damaged" in lines[0]:
            detected += 1
        else:
            misses.append((trial, code, lines, out[-300:], err[-300:]))
        assert not victim.path.exists() and (home.root / "quarantine" / CHAIN / victim.path.name).exists()
        if trial % 8 == 0:  # the repair, end to end
            code, out, exc = cli(home.root, "ingest", CHAIN, "--rpc", node.url, "--json")
            assert code == 0, (out, exc)
            assert home.blocks().read(CHAIN).equals(reference)
            assert cli(home.root, "store", "info", "--verify")[0] == 0
        shutil.rmtree(home.root)
    print(f"\nbit flips: {detected}/{TRIALS} detected by the ledger; {by_pages}/{TRIALS} by page checksums and "
          f"content checks alone; {silent_reads}/{TRIALS} plain reads returned wrong data without an error")
    assert detected == TRIALS, misses


def test_detect_on_a_damaged_partition_is_one_line_and_ingest_heals_it(node: Anvil, base: Path,
                                                                         tmp_path: Path) -> None:
    home = copy(base, tmp_path / "h")
    ref = copy(base, tmp_path / "ref")
    victim = home.blocks().partitions(CHAIN)[3]
    data = bytearray(victim.path.read_bytes())
    data[len(data) // 3] ^= 0x10
    victim.path.write_bytes(bytes(data))
    code, out, _ = cli(home.root, "store", "info")  # the state database is fine; the files were not checked
    assert code == 0 and "integrity ok" in out and "not checked now" in out and "store info --verify" in out
    code, out, exc = cli(home.root, "detect", CHAIN)
    assert code == 1 and isinstance(exc, QuarantinedError), out
    assert victim.path.name in str(exc) and f"blocks {victim.first}..{victim.last}" in str(exc)
    assert "\n" not in str(exc)
    code, out, exc = cli(home.root, "detect", CHAIN, "--json")  # the hole is known; detection runs around it
    assert code == 0, (out, exc)
    code, out, exc = cli(home.root, "ingest", CHAIN, "--rpc", node.url)
    assert code == 0 and f"blocks {victim.first}..{victim.last} (a quarantined partition) fetched again" in out
    assert home.blocks().read(CHAIN).equals(ref.blocks().read(CHAIN))
    healed, untouched = (json.loads(cli(h, "detect", CHAIN, "--json", "--no-write")[1])["events"]
                         for h in (home.root, ref.root))
    assert healed == untouched


def test_ingest_meeting_a_damaged_partition_quarantines_it_and_fetches_its_blocks_again(
        node: Anvil, base: Path, tmp_path: Path) -> None:
    """No check ran before: the continuing `ingest` itself finds the damaged file, sets it aside with one line
    and refetches its blocks in the same run (it used to end in a traceback and could not heal it)."""
    home = copy(base, tmp_path / "h")
    reference = Home(base).blocks().read(CHAIN)
    victim = [p for p in home.blocks().partitions(CHAIN) if p.last > p.first][5]
    flip_bit(victim.path, random.Random(5))
    code, out, exc = cli(home.root, "ingest", CHAIN, "--rpc", node.url, "--json")
    assert code == 0, (out, exc)
    (run,) = json.loads(out)["runs"]
    (line,) = run["quarantined"]
    assert line.startswith(f"damaged block partition {victim.path}") and "\n" not in line
    assert run["repaired"] == [[victim.first, victim.last]] and run["written"] == victim.last - victim.first + 1
    assert home.blocks().read(CHAIN).equals(reference)
    assert cli(home.root, "store", "info", "--verify")[0] == 0


def test_a_foreign_partition_is_quarantined_not_read(base: Path, tmp_path: Path) -> None:
    """A valid-looking partition of another chain dropped in with a higher sequence number would replace
    stored blocks on read; the ledger does not know it, so it is set aside instead."""
    home = copy(base, tmp_path / "h")
    before = home.blocks().read(CHAIN)
    alien = BlockStore(tmp_path / "alien")
    t = before.slice(200, 50)
    alien.write(CHAIN, t.set_column(2, "hash", pa.array([b"\x01" * 32] * 50, pa.binary(32))))
    (p,) = alien.partitions(CHAIN)
    intruder = home.root / "blocks" / CHAIN / f"part-{200:012d}-{249:012d}-{99_999_999:08d}.parquet"
    shutil.copy(p.path, intruder)
    with pytest.raises(QuarantinedError, match=r"foreign block partition .*not in this store's ledger"):
        home.blocks().read(CHAIN)
    assert not intruder.exists() and home.blocks().read(CHAIN).equals(before)
    shutil.copy(p.path, intruder)
    code, out, _ = cli(home.root, "store", "info", "--verify", "--json")
    assert code == 1 and "foreign block partition" in out and not intruder.exists()


def _state_rows(home: Home) -> tuple[object, ...]:
    with home.state() as st:
        con = st._conn
        return (con.execute("SELECT value FROM meta WHERE key='chain_id:arbitrum'").fetchone(),
                st.cursor(CHAIN), [(e.type, e.start_utc, e.evidence) for e in st.events(chain=CHAIN)])


@pytest.mark.parametrize("loss", ["deleted", "zero-length", "corrupted"])
def test_a_lost_state_database_is_detected_then_recovered(base: Path, tmp_path: Path, loss: str) -> None:
    home = copy(base, tmp_path / "h")
    expected = _state_rows(home)
    assert expected[0] == ("42161",) and expected[2][0][0] == "reorg"
    blocks_before = home.blocks().read(CHAIN)
    for suffix in ("-wal", "-shm"):
        (home.root / f"state.sqlite{suffix}").unlink(missing_ok=True)
    if loss == "deleted":
        home.state_path.unlink()
    elif loss == "zero-length":
        home.state_path.write_bytes(b"")
    else:
        raw = bytearray(home.state_path.read_bytes())
        raw[:100] = bytes(range(100))  # the header: SQLite no longer knows the file
        home.state_path.write_bytes(bytes(raw))
    for args in (["detect", CHAIN], ["store", "info"], ["ingest", CHAIN, "--rpc", "http://127.0.0.1:9", "-q"]):
        code, out, exc = cli(home.root, *args)
        assert code == 1 and isinstance(exc, StoreError), (args, out, exc)
        assert "store recover" in str(exc) and "\n" not in str(exc)
    assert (not home.state_path.exists()) if loss == "deleted" else home.state_path.stat().st_size > -1
    assert BlockStore(home.root / "blocks").read(CHAIN).equals(blocks_before)
    code, out, exc = cli(home.root, "store", "recover")
    assert code == 0, (out, exc)
    assert "reorg events restored from truncation markers: 1" in out and "arbitrum: chain id 42161" in out
    assert _state_rows(home) == expected
    assert home.blocks().read(CHAIN).equals(blocks_before)
    assert cli(home.root, "store", "info", "--verify")[0] == 0
    # the chain-id binding is back: a client expecting another chain is refused before any request
    with RpcClient(["http://127.0.0.1:9"], chain_id=1) as c, pytest.raises(DataError, match="chain id 42161"):
        Ingestor(c, home, CHAIN).run(0)
    assert cli(home.root, "store", "recover")[1].startswith("state database")  # nothing more to do


def test_rows_sqlite_can_still_read_are_salvaged(base: Path, tmp_path: Path) -> None:
    """A database damaged in one table keeps the others: recover copies what SQLite can read."""
    home = copy(base, tmp_path / "h")
    with home.state() as st, st.transaction() as c:
        c.execute("INSERT INTO user_incidents(id, record, added_utc) VALUES ('MINE-1', '{}', 0)")
    con = sqlite3.connect(home.state_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    code, out, _ = cli(home.root, "store", "recover", "--force", "--json")
    assert code == 0 and '"user_incidents": 1' in out
    with home.state() as st:
        assert st._conn.execute("SELECT id FROM user_incidents").fetchall() == [("MINE-1",)]


def test_a_store_written_before_the_ledger_is_adopted_once(tmp_path: Path) -> None:
    """Partitions from an older seqrisk (no ledger rows): checked and hashed in on the first open, then
    guarded like any other; a damaged one among them is quarantined instead."""
    home = Home(tmp_path / "h")
    bare = BlockStore(home.root / "blocks")
    from seqrisk.ingest import headers_to_table
    from seqrisk.rpc import Header

    hs = [Header(n, 1_700_000_000 + 2 * n, n.to_bytes(32, "big"), max(n - 1, 0).to_bytes(32, "big"), 1, 21_000)
          for n in range(300)]
    for a in range(0, 300, 100):
        bare.write(CHAIN, headers_to_table(hs[a:a + 100]))
    damaged = bare.partitions(CHAIN)[1].path
    raw = bytearray(damaged.read_bytes())
    raw[100] ^= 0xFF  # inside the first data pages (a flip in the footer's statistics would pass unseen here)
    damaged.write_bytes(bytes(raw))
    StateStore(home.state_path).close()  # the state file an older seqrisk left (upgraded: ledger pending)
    with home.state() as st:  # the first open through the home adopts them
        names = {r[0] for r in st._conn.execute("SELECT name FROM partitions")}
    assert names == {p.path.name for p in home.blocks().partitions(CHAIN)} and len(names) == 2
    assert home.blocks().ranges(CHAIN) == [(0, 99), (200, 299)]
    with home.state() as st:
        assert [(r[0], r[1]) for r in st._conn.execute("SELECT first, last FROM repairs")] == [(100, 199)]
