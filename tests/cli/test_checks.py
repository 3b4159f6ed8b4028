"""Bad command-line input, each case named in issue 14: refused at the edge with exit 2 and one line naming the
option (and file), before any work, the store untouched; a bug is one line and exit 70, an interrupt 130."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from seqrisk.cli import checks
from seqrisk.cli.app import main
from seqrisk.engine.simulate import memory_estimate_bytes
from seqrisk.exceptions import UsageError

BOOK = str(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` and the SHA-256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A state directory with a state database in it (made by a first command)."""
    h = tmp_path / "home"
    with pytest.raises(SystemExit) as ex:
        main(["--home", str(h), "store", "info"])
    assert ex.value.code == 0
    return h


def refused(capsys: pytest.CaptureFixture[str], *args: str, code: int = 2) -> str:
    """Run the command; it must exit ``code`` with exactly one line on stderr, which is returned."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as ex:
        main(list(args))
    err = capsys.readouterr().err
    assert ex.value.code == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def unwritable_dir(tmp_path: Path) -> Path:
    """A folder no file can be created in: read-only by mode, or (running as root, which ignores modes) a
    read-only system folder."""
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    if not checks._writable_folder(d):
        return d
    for cand in (Path("/sys"), Path("/proc")):
        if cand.is_dir() and not checks._writable_folder(cand):
            return cand
    pytest.skip("no unwritable folder on this machine")


def test_a_huge_path_count_is_refused_with_the_estimate_and_the_limit(home: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(home)
    line = refused(capsys, "--home", str(home), "simulate", BOOK, "--paths", str(10 ** 12))
    assert "--paths" in line and "1,000,000,000,000 paths need about" in line and "available" in line
    assert "TB" in line  # the estimate: terabytes, against a machine's gigabytes
    line = refused(capsys, "--home", str(home), "simulate", BOOK, "--paths", "1e12")  # not a whole number
    assert "--paths" in line
    assert snapshot(home) == before


def test_the_memory_estimate_grows_with_paths_and_kept_paths() -> None:
    base = memory_estimate_bytes(1)
    per_path = (memory_estimate_bytes(10 ** 7) - base) / 10 ** 7
    kept = (memory_estimate_bytes(10 ** 7, keep_paths=True, n_chains=4) - base) / 10 ** 7
    # the four tail buffers hold 24 bytes an outcome for twice their 10% mass; kept paths add 15 numbers a path
    assert 15 < per_path < 25 and kept - per_path == pytest.approx(2 * 15 * 8, rel=0.01)
    assert memory_estimate_bytes(1, workers=2) - base == 2 ** 28


def test_a_path_count_over_the_memory_available_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "available_memory_bytes", lambda: memory_estimate_bytes(10 ** 6))
    assert checks.fits_memory(10 ** 6) == 10 ** 6
    with pytest.raises(UsageError, match=r"paths need about .* available") as ei:
        checks.fits_memory(10 ** 6 + 10 ** 5)
    assert ei.value.context["field"] == "--paths"


def test_a_binary_missing_or_folder_config_is_refused_by_name(home: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "scenario.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    before = snapshot(home)
    for bad, why in ((binary, "not a UTF-8 text file"), (tmp_path / "none.yaml", "no such file"),
                     (tmp_path, "not a regular file")):
        line = refused(capsys, "--home", str(home), "simulate", BOOK, "--config", str(bad))
        assert why in line and f"file={bad}" in line and "field=--config" in line
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"paths: 10\x00\x00")
    assert "NUL" in refused(capsys, "--home", str(home), "simulate", BOOK, "--config", str(nul))
    assert "field=PORTFOLIO" in refused(capsys, "--home", str(home), "simulate", str(binary))
    assert snapshot(home) == before


def test_out_in_a_missing_or_unwritable_folder_or_a_folder_is_refused(home: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(home)
    ro = unwritable_dir(tmp_path)
    for out, why in ((tmp_path / "missing" / "m.parquet", "does not exist"), (ro / "m.parquet", "cannot write"),
                     (tmp_path, "is a folder")):
        line = refused(capsys, "--home", str(home), "simulate", BOOK, "--paths", "100", "--out", str(out))
        assert why in line and "field=--out" in line
    assert not (tmp_path / "missing").exists()
    assert snapshot(home) == before


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_scan_block_time_must_be_a_positive_finite_number(value: str, capsys: pytest.CaptureFixture[str],
                                                          home: Path) -> None:
    line = refused(capsys, "--home", str(home), "scan", "base", "--rpc", "http://127.0.0.1:9", "--from", "0",
                   "--block-time", value)
    assert "field=--block-time" in line


@pytest.mark.parametrize(("option", "value"), [("--bucket", "0s"), ("--gap-threshold", "0s"),
                                               ("--gap-threshold", "120"), ("--window", "-3d"),
                                               ("--system-txs", "-3"), ("--z", "nan"), ("--replica-lag", "-1")])
def test_detect_refuses_meaningless_values_and_keeps_the_stored_events(option: str, value: str, home: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``--gap-threshold 0s`` would call every block a downtime and replace the stored events: refused first."""
    before = snapshot(home)
    line = refused(capsys, "--home", str(home), "detect", "base", option, value)
    assert f"field={option}" in line
    assert snapshot(home) == before


def test_ingest_refuses_negative_confirmations_before_any_request(home: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(home)
    line = refused(capsys, "--home", str(home), "ingest", "base", "--rpc", "http://127.0.0.1:9", "--from", "0",
                   "--confirmations", "-5")
    assert "field=--confirmations" in line and "-5" in line
    assert snapshot(home) == before


def test_a_home_that_is_a_file_or_unwritable_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    ro = unwritable_dir(tmp_path)
    for h, why in ((afile, "is a file"), (afile / "sub", "is a file"), (ro, "not writable"),
                   (ro / "seqrisk", "cannot be made")):
        line = refused(capsys, "--home", str(h), "store", "info")
        assert why in line and "field=--home" in line
    monkeypatch.setenv("SEQRISK_HOME", str(afile))  # the environment's home is checked as well
    assert "is a file" in refused(capsys, "store", "info")
    assert afile.read_text() == "x"


@pytest.mark.parametrize("value", ["2", "nan", "inf", "-1d", "0s", "1000y", "soon", ""])
def test_durations_need_a_unit_and_a_positive_value(value: str) -> None:
    with pytest.raises(UsageError) as ei:
        checks.duration(value, "--horizon")
    assert ei.value.context == {"field": "--horizon", "value": value}


def test_durations_with_units_are_read_as_seconds() -> None:
    assert checks.duration("90m", "--x") == 5400.0
    assert checks.duration("1d12h", "--x") == 1.5 * 86400
    assert checks.duration("0s", "--trigger", zero=True) == 0.0
    with pytest.raises(UsageError, match="needs a unit"):
        checks.duration("2", "--horizon")


def test_a_unitless_horizon_is_refused_in_every_command_that_takes_one(home: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (["simulate", BOOK], ["fit"], ["score"], ["compare", BOOK, "--mitigation", "none"]):
        line = refused(capsys, "--home", str(home), *cmd, "--horizon", "2")
        assert "needs a unit" in line and "field=--horizon" in line


def test_a_bug_is_one_line_exit_70_and_its_traceback_in_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from seqrisk.cli.app import state

    def boom(self: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(type(state), "catalog", property(boom))
    monkeypatch.delenv("SEQRISK_DEBUG", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    line = refused(capsys, "--home", str(tmp_path / "h"), "chains", code=70)
    assert line.startswith("internal error") and "ZeroDivisionError: a bug" in line
    dump = Path(line.split("traceback in ")[1].split(" ")[0])
    assert "Traceback" in dump.read_text() and "ZeroDivisionError" in dump.read_text()
    monkeypatch.setenv("SEQRISK_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["--home", str(tmp_path / "h"), "chains"])


def test_an_interrupt_exits_130(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from seqrisk.cli.app import state

    def stop(self: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(type(state), "catalog", property(stop))
    capsys.readouterr()
    with pytest.raises(SystemExit) as ex:
        main(["--home", str(tmp_path / "h"), "chains"])
    assert ex.value.code == 130
    assert "Traceback" not in capsys.readouterr().err


def test_usage_errors_from_the_parser_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = refused(capsys, "--home", str(tmp_path), "chains", "--no-such-option")
    assert "--no-such-option" in line and "seqrisk chains --help" in line
    assert "Missing argument" in refused(capsys, "--home", str(tmp_path), "simulate")


@pytest.mark.skipif(os.name != "posix", reason="modes")
def test_checks_leave_no_probe_file_behind(tmp_path: Path) -> None:
    checks.out_file(tmp_path / "x.parquet", "--out")
    checks.home_dir(tmp_path, "--home")
    assert list(tmp_path.iterdir()) == []


def test_files_nested_too_deeply_are_refused_not_a_crash(home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Found by the fuzz test: a YAML or JSON file nested thousands deep overflowed the parser's recursion (exit 70).
    The edge refuses it by name; the readers behind it say bad data, for callers of the library."""
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("[" * 1500 + "]" * 1500)
    deep_json = tmp_path / "deep.json"
    deep_json.write_text("[" * 100_000 + "]" * 100_000)
    before = snapshot(home)
    for args in (["simulate", str(deep_yaml)], ["simulate", str(deep_json)], ["simulate", BOOK, "--config",
                 str(deep_yaml)], ["simulate", BOOK, "--model", str(deep_json)], ["serve", "--config", str(deep_yaml)]):
        line = refused(capsys, "--home", str(home), *args)
        assert "nested too deeply" in line and "deep." in line
    assert snapshot(home) == before  # the library's readers: tests/test_documents.py
