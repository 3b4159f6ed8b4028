"""Fixtures for real-node tests: anvil processes that are always stopped by their process id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.anvil import Anvil, AnvilMissing, find_anvil


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    try:
        return find_anvil()
    except AnvilMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def anvil_factory(anvil_binary: Path) -> Iterator[Callable[..., Anvil]]:
    """``make(chain_id=..., timestamp=...)`` starts an anvil; every one is stopped at teardown, pass or fail."""
    nodes: list[Anvil] = []

    def make(**kw: Any) -> Anvil:
        node = Anvil(**kw)
        nodes.append(node)
        return node.start()
    yield make
    for node in nodes:
        node.stop()
