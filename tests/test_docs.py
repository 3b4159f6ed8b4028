"""The documentation site: it builds strict (a broken link or an unknown page fails) and the guides' examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))

pytest.importorskip("mkdocs", reason="the documentation tools are a development extra (.[docs])")
pytest.importorskip("mkdocstrings")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], capture_output=True, text=True, cwd=config.parent, check=False)


def test_site_builds_strict_with_the_api_reference(tmp_path: Path) -> None:
    out = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert out.returncode == 0, out.stderr[-3000:]
    engine = (tmp_path / "site" / "reference" / "engine.html").read_text(encoding="utf-8")
    for anchor in ("seqrisk.engine.SimulationResult.plot", "seqrisk.engine.SimulationResult.to_frame",
                   "seqrisk.engine.Scenario"):
        assert f'id="{anchor}"' in engine, anchor
    top = (tmp_path / "site" / "reference" / "seqrisk.html").read_text(encoding="utf-8")
    for name in ("simulate", "fit_outage_model", "load_book", "build_report", "ReportInputs", "SimulationResult"):
        assert re.search(rf'id="seqrisk\.([a-z]+\.)*{name}"', top), name
    assert "cdnjs" not in engine and "googleapis" not in engine  # nothing fetched from the network


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """The site's own settings (strict, link validation) turn a link to a missing page into a failure."""
    cfg = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the guide](guides/missing.md).\n", encoding="utf-8")
    small = {k: cfg[k] for k in ("site_name", "strict", "validation", "theme", "use_directory_urls")}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(small | {"docs_dir": "docs", "nav": ["index.md"]}),
                                         encoding="utf-8")
    out = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert out.returncode != 0 and "guides/missing.md" in out.stderr


def test_every_guide_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert GUIDES and all(f"guides/{g.name}" in nav for g in GUIDES)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guide_examples_run(guide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of a guide, in order, in one namespace, from a folder with the project's examples."""
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    assert blocks, f"{guide.name} has no Python example"
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__guide__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{guide.name} block {i + 1}", "exec"), namespace)
