"""The package face: every name in ``__all__`` resolves, the heavy ones lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import seqrisk

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment


def test_every_public_name_resolves() -> None:
    for name in seqrisk.__all__:
        assert getattr(seqrisk, name) is not None, name
    from seqrisk.engine import simulate

    assert seqrisk.simulate is simulate


def test_import_does_not_load_the_engine() -> None:
    code = "import sys, seqrisk; print('seqrisk.engine' in sys.modules, 'scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_type_checking_imports_name_the_lazy_objects() -> None:
    """Type checkers read the ``if TYPE_CHECKING:`` imports of ``seqrisk/__init__.py``; they must name exactly
    what the lazy loader returns at run time."""
    import ast
    import importlib
    import inspect

    tree = ast.parse(inspect.getsource(seqrisk))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    seen = {a.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert seen == seqrisk._LAZY
    assert set(seen) <= set(seqrisk.__all__)  # listed by name, so documentation tools see them too
    for name, module in seen.items():
        assert getattr(seqrisk, name) is getattr(importlib.import_module(module), name)


_USER_SCRIPT = '''\
import seqrisk

catalog = seqrisk.load_catalog()
model = seqrisk.fit_outage_model(catalog)
book = seqrisk.load_book("book.yaml")
result = seqrisk.simulate(book, model, seqrisk.Scenario(paths=1000, seed=1))
el, se = result.value("expected_loss", perspective="venue")
table = result.to_frame("positions")
html = seqrisk.build_report(seqrisk.ReportInputs.of(result, model, catalog))
total: float = el + se
'''


def test_mypy_sees_the_typed_top_level(tmp_path) -> None:
    """A user's script type-checks against ``seqrisk.simulate`` and friends (``py.typed`` is shipped and the
    lazy names are visible), and a wrong use is caught, so the names are typed, not ``Any``."""
    api = pytest.importorskip("mypy.api", reason="mypy is a development extra")
    good = tmp_path / "user.py"
    good.write_text(_USER_SCRIPT, encoding="utf-8")
    bad = tmp_path / "wrong.py"
    bad.write_text("import seqrisk\n\nn: int = seqrisk.simulate\nr: str = seqrisk.load_catalog()\n", encoding="utf-8")
    args = ["--no-incremental", "--cache-dir", str(tmp_path / "cache"), "--python-executable", sys.executable,
            "--config-file", str(tmp_path / "mypy.ini")]
    (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = pydantic.mypy\n", encoding="utf-8")  # as pydantic users do
    out, err, status = api.run([*args, str(good)])
    assert status == 0, out + err
    out, err, status = api.run([*args, str(bad)])
    assert status == 1, out + err
    assert "wrong.py:3: error: Incompatible types in assignment" in out and "SimulationResult" in out, out
    assert "wrong.py:4: error: Incompatible types in assignment" in out and '"Catalog"' in out, out
