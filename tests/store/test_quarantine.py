"""Quarantine under a crash: a process killed while it sets a damaged partition aside never loses the
partition's block range (the next ``ingest`` must know to fetch it again)."""

from __future__ import annotations

from pathlib import Path

import pytest

import seqrisk.store.integrity as integrity
from seqrisk.store import Home, QuarantinedError
from seqrisk.store.ledger import repairs

from .conftest import headers

CHAIN = "base"


class Killed(BaseException):
    """The process dies here (nothing after this point runs)."""


def _die(*_a: object, **_k: object) -> None:
    raise Killed


def damaged_home(root: Path) -> tuple[Home, Path]:
    home = Home(root)
    blocks = home.blocks()
    for a in (0, 100, 200):
        blocks.write(CHAIN, headers(a, a + 99))
    victim = blocks.partitions(CHAIN)[1].path
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    integrity.VERIFIED.clear()  # a fresh process: no file checked yet
    return home, victim


@pytest.mark.parametrize("kill_at", ["os.replace", "ledger_remove"])
def test_a_kill_while_quarantining_keeps_the_range_to_refetch(tmp_path: Path, kill_at: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    home, victim = damaged_home(tmp_path / "h")
    with monkeypatch.context() as m:
        if kill_at == "os.replace":  # killed after the range is recorded, before the file moves
            m.setattr(integrity.os, "replace", _die)
        else:  # killed after the file moved, before its ledger entry is dropped
            m.setattr(integrity, "ledger_remove", _die)
        with pytest.raises(Killed):
            home.blocks().read(CHAIN)
    assert victim.exists() == (kill_at == "os.replace")
    with home.state() as st:
        assert [(r.first, r.last) for r in repairs(st, CHAIN)] == [(100, 199)]
    integrity.VERIFIED.clear()  # the restarted process
    if victim.exists():  # the damaged file is met again and set aside this time
        with pytest.raises(QuarantinedError, match=victim.name):
            home.blocks().read(CHAIN)
    t = home.blocks().read(CHAIN)
    assert t.column("number").to_pylist() == [*range(100), *range(200, 300)]
    with home.state() as st:
        assert [(r.first, r.last) for r in repairs(st, CHAIN)] == [(100, 199)]
    assert (tmp_path / "h" / "quarantine" / CHAIN / victim.name).exists()
