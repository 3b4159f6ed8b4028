"""Command-line interface (edge layer)."""

from seqrisk.cli.app import app, main

__all__ = ["app", "main"]
