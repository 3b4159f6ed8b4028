"""What users read cites only the project's own documents: no reference file beside the checkout."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = ("MODEL.md", "../shared", "/work/shared", "SPEC.md")


def _user_facing() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder, suffixes in (("src", {".py", ".md", ".json", ".yaml", ".html", ".js", ".css"}),
                             ("docs", {".md"}), ("examples", {".yaml", ".yml", ".csv", ".json", ".md"})):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in suffixes
                  and "egg-info" not in p.parts[-2] and "__pycache__" not in p.parts]
    return files


def test_no_user_facing_file_cites_a_file_users_do_not_have() -> None:
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _user_facing()
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if any(s in line for s in OUTSIDE)]
    assert hits == []


def test_the_scan_reads_the_files_it_means_to() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _user_facing()}
    assert {"README.md", "src/seqrisk/outage.py", "docs/statistics.md", "examples/desk.yaml"} <= names
