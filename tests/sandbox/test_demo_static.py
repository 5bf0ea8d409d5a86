"""The demo page needs no network beyond its own server: every script, style, font and
image it references is a local path (or a data: URL), and no file names an outside host.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "sandbox" / "demo" / "static"
FILES = sorted(p for p in STATIC.iterdir() if p.suffix in {".html", ".js", ".css"})
ABSOLUTE = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)
ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
CSS_URL = re.compile(r"""\burl\(\s*["']?([^"')]+)""")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_outside_host_is_named(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [m.group(0) for m in ABSOLUTE.finditer(text) if "www.w3.org" not in m.group(0)]
    assert not found, f"{path.name} names outside hosts: {found}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_reference_is_local(path: Path) -> None:
    pattern = CSS_URL if path.suffix == ".css" else ATTRIBUTE
    for match in pattern.finditer(path.read_text(encoding="utf-8")):
        target = match.group(1)
        # Links inside messages are built at run time (`${…}`): a click, not a load.
        if target.startswith(("${", "#")):
            continue
        assert target.startswith(("/", "data:")), f"{path.name}: {target}"


def test_there_are_files_to_check() -> None:
    assert {p.name for p in FILES} >= {"index.html", "app.js", "style.css"}
