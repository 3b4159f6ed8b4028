"""Refresh the README's CLI tour with real output: ``.venv/bin/python tools/readme_tour.py``.

Runs each command of the tour in an 80-column terminal against a temporary home
and rewrites the ``text`` block that follows each ``$ seqrisk ...`` line between
the ``<!-- tour:start -->`` and ``<!-- tour:end -->`` markers. A block keeps its
length limit: ``<!-- lines: N -->`` before it cuts the output to N lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- lines: (\d+) -->\n)?```text\n\$ seqrisk (?P<args>[^\n]*)\n.*?```\n", re.DOTALL)


def run(args: str, home: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "SEQRISK_HOME": home, "TERM": "dumb"}
    exe = str(Path(sys.executable).parent / "seqrisk")
    out = subprocess.run([exe, *args.split()], capture_output=True, text=True, env=env, cwd=ROOT)
    return "\n".join(line.rstrip() for line in (out.stdout + out.stderr).strip().splitlines())


def main() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- tour:start -->"), text.index("<!-- tour:end -->")
    tour = text[start:end]
    with tempfile.TemporaryDirectory() as home:
        def refresh(m: re.Match[str]) -> str:
            lines = run(m.group("args"), home).splitlines()
            limit = int(m.group(2)) if m.group(2) else None
            if limit is not None and len(lines) > limit:
                lines = [*lines[:limit], "..."]
            head = m.group(1) or ""
            return head + "```text\n$ seqrisk " + m.group("args") + "\n" + "\n".join(lines) + "\n```\n"

        tour = BLOCK.sub(refresh, tour)
    README.write_text(text[:start] + tour + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
