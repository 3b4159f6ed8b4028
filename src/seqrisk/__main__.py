"""``python -m seqrisk``: the CLI."""

from seqrisk.cli import main

main()
