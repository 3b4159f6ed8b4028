"""Start-up benchmark: CPU seconds of ``seqrisk chains`` (and ``seqrisk --help``) against an eager-import twin.

Run alone with ``.venv/bin/python benchmarks/bench_startup.py`` (or through
``make bench``); writes ``benchmarks/results/startup.json`` and
``benchmarks/results/startup.md`` (the table the README quotes).

A command that lists the catalog needs the catalog, typer and rich; the
statistics (SciPy), the engine (Numba), ingestion (DuckDB, Arrow, httpx) and
the rest are imported by the commands that use them. The yardstick is the same
command in a process that first imports what the CLI used to import up front
(the modules below), so the ratio is what lazy imports save. Each pair runs the
two back to back in fresh processes (user + system CPU of the child, from
``getrusage``), in alternating order; the figure is the median of the pairs'
ratios, and the absolute CPU seconds are the medians of each side.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAIRS = 7

#: What the CLI imported before every command before imports were made lazy: the statistics and SciPy, ingestion
#: (DuckDB, Arrow, httpx), the outage model and the block store.
EAGER = ("scipy.stats", "seqrisk.outage", "seqrisk.stats", "seqrisk.ingest", "seqrisk.store.blocks",
         "seqrisk.store.recover", "seqrisk.rpc", "seqrisk.health")

_RUN = """
import sys
for m in {eager!r}:
    __import__(m)
from seqrisk.cli import main
sys.argv = ["seqrisk", *{argv!r}]
main({argv!r})
"""


def _cpu(argv: list[str], eager: tuple[str, ...], env: dict[str, str]) -> float:
    """CPU seconds (user + system) of one fresh process running ``seqrisk ARGV``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, "-c", _RUN.format(eager=eager, argv=argv)], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"seqrisk {' '.join(argv)} failed: {r.stderr.strip()}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_command(argv: list[str], env: dict[str, str], pairs: int = PAIRS) -> dict[str, Any]:
    rows = []
    for i in range(pairs):
        if i % 2:  # alternate which side runs first, so a warming cache favours neither
            eager = _cpu(argv, EAGER, env)
            lazy = _cpu(argv, (), env)
        else:
            lazy = _cpu(argv, (), env)
            eager = _cpu(argv, EAGER, env)
        rows.append({"lazy_cpu_s": round(lazy, 4), "eager_cpu_s": round(eager, 4), "ratio_cpu": eager / lazy})
    return {"command": "seqrisk " + " ".join(argv), "pairs": rows,
            "lazy_cpu_s_median": statistics.median(r["lazy_cpu_s"] for r in rows),
            "eager_cpu_s_median": statistics.median(r["eager_cpu_s"] for r in rows),
            "ratio_cpu_median": statistics.median(r["ratio_cpu"] for r in rows)}


def _table(res: dict[str, Any]) -> str:
    lines = [f"Start-up, {res['date_utc']}, {res['pairs']} pairs per command, load average "
             f"{res['load_before']:.1f} before and {res['load_after']:.1f} after ({res['cpus']} CPUs):", "",
             "| command | CPU s (lazy imports) | CPU s (eager imports) | eager / lazy (median of pairs) |",
             "| --- | ---: | ---: | ---: |"]
    for c in res["commands"]:
        lines.append(f"| `{c['command']}` | {c['lazy_cpu_s_median']:.3f} | {c['eager_cpu_s_median']:.3f} | "
                     f"{c['ratio_cpu_median']:.1f}x |")
    return "\n".join(lines) + "\n"


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SEQRISK_HOME": home, "COLUMNS": "200"}
        env.pop("SEQRISK_CATALOG_DIR", None)
        _cpu(["chains"], (), env)  # warm the file cache and the bytecode once
        _cpu(["chains"], EAGER, env)
        load_before = os.getloadavg()[0]
        commands = [bench_command(["chains"], env), bench_command(["--help"], env)]
        load_after = os.getloadavg()[0]
    res = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pairs": PAIRS, "cpus": os.cpu_count(),
           "load_before": load_before, "load_after": load_after, "eager_imports": list(EAGER), "commands": commands}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.md").write_text(_table(res))
    print(_table(res))
    return res


if __name__ == "__main__":
    out = main()
    (RESULTS / "startup.json").write_text(json.dumps(out, indent=2) + "\n")
