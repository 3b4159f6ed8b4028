"""Every command of the ``seqrisk`` app, for tests that check something of each one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from seqrisk.cli.app import app

__all__ = ["commands"]


def commands() -> Iterator[tuple[str, Any]]:
    """Every command a user can run: ``("store info", click command)``; a group that runs itself counts."""
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if subs is None or (path and getattr(cmd, "invoke_without_command", False)):
            yield " ".join(path), cmd
        for name, sub in (subs or {}).items():
            yield from walk(sub, [*path, name])
    yield from walk(typer.main.get_command(app), [])
