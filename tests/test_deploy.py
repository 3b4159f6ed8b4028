"""The deployment files (deploy/) against the real package and CLI (issue 17).

The image itself is built only where a Docker daemon answers (the last test; skipped with the reason otherwise).
Everything the build and the container's start depend on is checked without one: every file the Dockerfile
copies exists and ships in the sdist (by default or by MANIFEST.in), the extras it installs exist, the settings
file its command names loads with the service's own reader, and its ENTRYPOINT + CMD, run by the real CLI with only
the host swapped for loopback, refuses to start without a token and starts with one; the systemd unit's
ExecStart the same way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest

from serve_util import SEQRISK, start, token, wait_healthy

pytest.importorskip("fastapi")

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
UNIT = ROOT / "deploy" / "seqrisk-serve.service"
#: what setuptools puts in every sdist of this project without MANIFEST.in: the project file, its readme, the
#: packages under src/ (with their package data), and MANIFEST.in itself
SDIST_DEFAULT = ("pyproject.toml", "README.md", "MANIFEST.in", "src")


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions ``(KEYWORD, arguments)``, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _copies() -> list[tuple[list[str], str]]:
    """``COPY src... dest`` of the build context (not ``--from`` a stage)."""
    out = []
    for word, rest in _instructions():
        if word == "COPY":
            args = shlex.split(rest)
            assert not any(a.startswith("--from") for a in args), "a COPY from another stage: extend this test"
            args = [a for a in args if not a.startswith("--")]
            out.append((args[:-1], args[-1]))
    return out


def _exec_form(word: str) -> list[str]:
    [rest] = [r for w, r in _instructions() if w == word]
    argv: list[str] = json.loads(rest)
    return argv


def _env() -> dict[str, str]:
    [rest] = [r for w, r in _instructions() if w == "ENV"]
    return dict(kv.split("=", 1) for kv in shlex.split(rest))


def _manifest_includes() -> list[str]:
    out = []
    for line in (ROOT / "MANIFEST.in").read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] in ("include", "graft", "recursive-include"):
            out += words[1:2] if words[0] == "recursive-include" else words[1:]
    return out


def test_every_file_the_image_copies_exists_and_ships_in_the_sdist() -> None:
    shipped = [*SDIST_DEFAULT, *_manifest_includes()]
    sources = [s for srcs, _ in _copies() for s in srcs]
    assert sources, "the Dockerfile copies nothing"
    for s in sources:
        assert (ROOT / s).exists(), s
        assert any(s == p or s.startswith(p.rstrip("/") + "/") for p in shipped), f"{s}: not in the sdist"
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert readme == "README.md" and (ROOT / "src" / "seqrisk" / "__init__.py").is_file()  # the defaults above


def test_the_install_line_names_extras_and_pins_that_exist() -> None:
    runs = " && ".join(r for w, r in _instructions() if w == "RUN")
    m = re.search(r"pip install -c (\S+) '\.\[([a-z,]+)\]'", runs)
    assert m, runs
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = m.group(2).split(",")
    assert set(extras) <= set(project["optional-dependencies"]), extras
    pins = {ln.split("==")[0].strip().lower() for ln in (ROOT / m.group(1)).read_text().splitlines()
            if "==" in ln and not ln.startswith("#")}
    for extra in extras:  # every package the extras add is pinned by the constraints file the image installs with
        for req in project["optional-dependencies"][extra]:
            name = re.split(r"[<>=\[;! ]", req, maxsplit=1)[0].lower()
            assert name in pins, (extra, name)


def _config_in_repo(argv: list[str]) -> list[str]:
    """``argv`` with the settings file the image (or unit) reads, ``/etc/seqrisk/serve.yaml``, as the repository's
    file it is copied from (the Dockerfile's COPY says which)."""
    copied = {dest: srcs[0] for srcs, dest in _copies() if len(srcs) == 1}
    i = argv.index("--config")
    return [*argv[: i + 1], str(ROOT / copied[argv[i + 1]]), *argv[i + 2:]]


def _seqrisk_argv(argv: list[str]) -> list[str]:
    assert argv[0].endswith("seqrisk"), argv
    return [*SEQRISK, *argv[1:]]


def test_the_settings_file_the_image_reads_loads_with_the_service_reader() -> None:
    from seqrisk.service.config import load_config

    argv = _config_in_repo([*_exec_form("ENTRYPOINT"), *_exec_form("CMD")])
    cfg = load_config(argv[argv.index("--config") + 1], environ={})
    assert cfg.port == 8000 and "8000" in [r for w, r in _instructions() if w == "EXPOSE"]


def _loopback(argv: list[str]) -> list[str]:
    """The container's command with only its host swapped for loopback (nothing listens beyond this machine)."""
    i = argv.index("--host")
    assert argv[i + 1] == "0.0.0.0", argv
    return [*argv[: i + 1], "127.0.0.1", *argv[i + 2:]]


def test_the_images_command_refuses_without_a_token_and_serves_with_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, **_env(), "SEQRISK_HOME": str(home), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    argv = _config_in_repo([*_exec_form("ENTRYPOINT"), *_exec_form("CMD")])
    assert argv[:2] == ["seqrisk", "serve"], argv
    out = subprocess.run(_seqrisk_argv(argv), capture_output=True, text=True, env=env, timeout=120)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and len(lines) == 1 and "no API token exists" in lines[0], out.stderr
    secret = token(home, "read")
    srv = start(home, *_loopback(argv)[2:], env={"SEQRISK_SERVE_PORT": "0", "NUMBA_CACHE_DIR": env["NUMBA_CACHE_DIR"]},
                any_port=False)  # the port (8000 in the file) from the environment, as `docker run -e` would
    try:
        with httpx.Client(base_url=srv.base, timeout=30) as c:
            assert c.get("/api/v1/health").status_code == 200  # what the image's HEALTHCHECK asks
            assert c.get("/api/v1/chains").status_code == 401  # --auth all: reads need a token too
            r = c.get("/api/v1/chains", headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 200 and r.json()["chains"]
    finally:
        srv.stop()


def test_the_systemd_units_command_starts_on_loopback(tmp_path: Path) -> None:
    [line] = [ln for ln in UNIT.read_text().splitlines() if ln.startswith("ExecStart=")]
    argv = _config_in_repo(shlex.split(line.removeprefix("ExecStart=")))
    assert argv[0] == "/opt/seqrisk/bin/seqrisk" and argv[1] == "serve"
    home = tmp_path / "home"
    srv = start(home, *argv[2:], env={"SEQRISK_SERVE_PORT": "0"}, any_port=False)
    try:
        with httpx.Client(base_url=srv.base, timeout=30) as c:
            assert c.get("/api/v1/health").status_code == 200
            assert c.get("/api/v1/chains").status_code == 200  # auth: writes, on loopback: reads are open
    finally:
        srv.stop()


def _daemon() -> str | None:
    """Why the image cannot be built here (None: a Docker daemon answers)."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    out = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                         timeout=60)
    return None if out.returncode == 0 else f"no Docker daemon reachable ({out.stderr.strip().splitlines()[-1]})"


@pytest.mark.timeout(1800)
def test_the_image_builds_and_serves(tmp_path: Path) -> None:
    why = _daemon()
    if why is not None:
        pytest.skip(f"building deploy/Dockerfile needs a Docker daemon: {why}")
    tag = f"seqrisk-test:{uuid.uuid4().hex[:8]}"
    volume = f"seqrisk-test-{uuid.uuid4().hex[:8]}"
    docker = ["docker"]

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*docker, *args], capture_output=True, text=True, timeout=timeout)

    b = run("build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT), timeout=1500)
    assert b.returncode == 0, b.stderr[-3000:]
    name = f"seqrisk-test-{uuid.uuid4().hex[:8]}"
    try:
        first = run("run", "--rm", "-v", f"{volume}:/var/lib/seqrisk", tag)
        assert first.returncode == 2 and "no API token exists" in first.stderr, first.stderr
        tok = run("run", "--rm", "-v", f"{volume}:/var/lib/seqrisk", tag, "serve", "token", "create", "--scope",
                  "read", "--name", "test", "--json")
        assert tok.returncode == 0, tok.stderr
        secret = json.loads(tok.stdout)["token"]
        up = run("run", "-d", "--name", name, "-p", "127.0.0.1::8000", "-v", f"{volume}:/var/lib/seqrisk", tag)
        assert up.returncode == 0, up.stderr
        port = run("port", name, "8000/tcp").stdout.strip().rsplit(":", 1)[-1]
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, tries=1200)
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/api/v1/health").status_code == 200
            assert c.get("/api/v1/chains").status_code == 401
            assert c.get("/api/v1/chains", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    finally:
        run("rm", "-f", name)
        run("volume", "rm", "-f", volume)
        run("image", "rm", "-f", tag)
