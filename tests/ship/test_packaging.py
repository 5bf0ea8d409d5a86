"""The product ships without its stand-ins: the `deckhand` wheel, built from exactly what
the Dockerfile copies into the image, has no `sandbox` package and its `deckhand` command;
the stand-ins are the separate `deckhand-sandbox` wheel (sandbox/pyproject.toml), and
`deckhand sandbox` reaches them only through the `deckhand.commands` entry point."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.cli import PLUGIN_GROUP, plugin

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_sources() -> list[str]:
    """The paths the build stage copies from the repository (`COPY a b ./`)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    sources: list[str] = []
    for line in text.splitlines():
        match = re.match(r"COPY (?!--from)(.+)", line)
        if match:
            sources.extend(match.group(1).split()[:-1])
    return sources


def build_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(project)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.mark.slow
def test_the_image_and_its_wheel_carry_no_sandbox(tmp_path: Path) -> None:
    sources = dockerfile_sources()
    assert "sandbox" not in sources
    project = tmp_path / "src"
    project.mkdir()
    for name in sources:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / name)
    with build_wheel(project, tmp_path / "dist") as wheel:
        names = wheel.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = wheel.read(entry_points).decode()
    assert not [n for n in names if n.startswith("sandbox/")]
    assert {n.split("/")[0] for n in names if n.endswith(".py")} == {"bot", "commands"}
    assert "deckhand = bot.cli:main" in scripts


@pytest.mark.slow
def test_the_sandbox_is_a_wheel_of_its_own(tmp_path: Path) -> None:
    project = tmp_path / "sandbox"  # a copy: the build writes build/ into its project
    shutil.copytree(ROOT / "sandbox", project, ignore=shutil.ignore_patterns("__pycache__"))
    with build_wheel(project, tmp_path / "dist") as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt")))
    assert "sandbox/cluster/api.py" in names
    assert "sandbox/demo/static/index.html" in names
    assert not [n for n in names if n.startswith(("bot/", "commands/"))]
    assert f"[{PLUGIN_GROUP}]\nsandbox = sandbox.cli:main" in entry_points.decode()


def test_deckhand_sandbox_is_found_by_entry_point_in_the_dev_venv() -> None:
    found = plugin("sandbox")
    assert found is not None
    assert found.__module__ == "sandbox.cli"
