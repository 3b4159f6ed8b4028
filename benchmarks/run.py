"""``make bench``: run every benchmark module (``bench_*.py``) and collect their results.

Each module has a ``main() -> dict`` that prints its own table and returns its
figures; this driver writes them to ``benchmarks/results/<name>.json`` and a
combined ``benchmarks/results/summary.json`` with the machine it ran on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _machine() -> dict[str, object]:
    import numpy as np

    return {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
            "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main(argv: list[str]) -> int:
    only = set(argv)
    RESULTS.mkdir(exist_ok=True)
    summary: dict[str, object] = {"machine": _machine(), "benchmarks": {}}
    if only and (RESULTS / "summary.json").exists():  # a partial run keeps the other benchmarks' last results
        summary["benchmarks"] = json.loads((RESULTS / "summary.json").read_text()).get("benchmarks", {})
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        print(f"\n=== {name} ({path.name}) ===", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
            res = mod.main()
        except Exception as exc:  # one failing benchmark must not hide the others
            print(f"benchmark {name} failed: {exc!r}", file=sys.stderr)
            failed.append(name)
            continue
        if isinstance(res, dict):
            (RESULTS / f"{name}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
            summary["benchmarks"][name] = res  # type: ignore[index]
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nresults written to {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
