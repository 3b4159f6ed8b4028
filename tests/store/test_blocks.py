"""Parquet block store: atomic partitions, newest write wins, truncation, compaction."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from seqrisk.exceptions import DataError
from seqrisk.store import BLOCK_SCHEMA, BlockStore

from .conftest import headers

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment


def test_write_read_range(tmp_path: Path) -> None:
    bs = BlockStore(tmp_path)
    bs.write("base", headers(0, 99))
    bs.write("base", headers(100, 199))
    t = bs.read("base", 50, 149)
    assert t.schema == BLOCK_SCHEMA
    assert t.column("number").to_pylist() == list(range(50, 150))
    assert bs.head("base") == 199
    assert bs.chains() == ["base"]
    assert bs.read("arbitrum").num_rows == 0


@pytest.mark.parametrize("posix", [True, False])
def test_a_write_syncs_its_directory_only_where_the_os_has_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               posix: bool) -> None:
    """POSIX fsyncs the partition's directory after the rename; without ``os.O_DIRECTORY`` (Windows) the write
    works the same and opens no directory."""
    import os

    opened: list[str] = []
    real_open = os.open

    def spy(path: object, flags: int, *args: object) -> int:
        if getattr(os, "O_DIRECTORY", 0) and flags & os.O_DIRECTORY:
            opened.append(str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    if not posix:
        monkeypatch.delattr(os, "O_DIRECTORY")
    bs = BlockStore(tmp_path)
    bs.write("base", headers(0, 9))
    assert bs.read("base").column("number").to_pylist() == list(range(10))
    assert bool(opened) is posix and all(Path(p).is_dir() for p in opened)

def test_newer_partition_replaces_overlap_and_truncation(tmp_path: Path) -> None:
    bs = BlockStore(tmp_path)
    bs.write("base", headers(0, 99))
    bs.write("base", headers(90, 95, salt=1))  # a reorg replaced 90..95
    bs.truncate_above("base", 95)                # and the chain is now shorter
    t = bs.read("base")
    assert t.num_rows == 96
    assert t.column("hash")[92].as_py()[-1] == 1
    assert t.column("hash")[89].as_py()[-1] == 0
    bs.write("base", headers(96, 120, salt=2))
    assert bs.head("base") == 120
    before = bs.read("base")
    bs.compact("base")
    assert len(bs.partitions("base")) == 1
    assert bs.read("base").equals(before)


@pytest.mark.parametrize("bad", [
    pa.table({"number": [1, 3]}),
    headers(0, 5).drop_columns(["hash"]),
])
def test_bad_batches_write_nothing(tmp_path: Path, bad: pa.Table) -> None:
    bs = BlockStore(tmp_path)
    with pytest.raises(DataError):
        bs.write("base", bad)
    assert bs.partitions("base") == []
    assert not any(tmp_path.rglob("*.tmp"))


def test_noncontiguous_rejected(tmp_path: Path) -> None:
    t = pa.concat_tables([headers(0, 3), headers(5, 6)])
    with pytest.raises(DataError, match="contiguous"):
        BlockStore(tmp_path).write("base", t)


def test_bad_chain_slug(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        BlockStore(tmp_path).write("../etc", headers(0, 1))
