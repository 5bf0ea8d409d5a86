"""README.md stays true: the configuration reference matches the models it is generated
from, and the quick start is exactly two commands that the Makefile really has."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_config_reference_is_generated_from_the_current_models() -> None:
    module = runpy.run_path(str(ROOT / "scripts" / "config_reference.py"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module["current_block"](readme) == module["reference"](), (
        "README.md's configuration reference is stale: "
        "run `.venv/bin/python scripts/config_reference.py --write`"
    )


def test_quick_start_is_two_make_commands_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    commands = [c for c in commands if c]
    assert commands == ["make sandbox", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("sandbox", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make check" in ci
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    check = re.search(r"^check: (.*)$", makefile, re.M)
    assert check is not None
    assert "test" in check.group(1).split()
