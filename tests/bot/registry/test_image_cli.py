"""`deckhand image`: exit 0 when pullable, 1 when not (with the sentence), 2 on usage errors.

Driven through `bot.cli.main([...])` in a worker thread (the CLI runs its own event
loop) against the sandbox GiteaRegistry; credentials come from the environment or a
docker config file, as in production.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from bot.cli import main
from commands.images import Platform
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image
from tests.fixtures.registry import ADMIN_TOKEN


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECKHAND_REGISTRY_USERNAME", "admin")
    monkeypatch.setenv("DECKHAND_REGISTRY_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("DECKHAND_REGISTRY_DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("DECKHAND_REGISTRY_TIMEOUT_S", "2")


async def deckhand(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.usefixtures("env")
async def test_pullable_exits_0(
    gitea_registry: GiteaRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"{gitea_registry.host}/admin/honeydue-api:237c6b9"
    assert await deckhand("image", ref) == 0
    out = capsys.readouterr().out
    assert "pullable   yes, for linux/amd64" in out
    assert "@sha256:" in out
    assert "revision   237c6b9" in out
    assert await deckhand("image", ref, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pullable"] is True
    assert data["platforms"] == ["linux/amd64"]
    assert data["pinned"] == f"{ref}@{data['digest']}"
    assert data["revision_mismatch"] is False


@pytest.mark.usefixtures("env")
async def test_not_pullable_exits_1(
    gitea_registry: GiteaRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    gitea_registry.seed(
        "admin/honeydue-api", "armonly", build_image(platforms=[Platform("linux", "arm64")])
    )
    base = f"{gitea_registry.host}/admin/honeydue-api"
    assert await deckhand("image", f"{base}:armonly", "--platform", "linux/amd64") == 1
    err = capsys.readouterr().err
    assert "not pullable" in err
    assert "only `linux/arm64`" in err
    assert await deckhand("image", f"{base}:237c6b8", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["pullable"] is False
    assert data["error"] == "TagNotFound"
    assert "237c6b9" in data["sentence"]


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["image"], "required"),
        (["image", "reg.io/Admin/App:1"], "lowercase"),
        (["image", "reg.io/a/b:1", "--platform", "amd64"], "not a platform"),
        (["image", "reg.io/a/b:1", "--docker-config", "/nonexistent/config.json"], "cannot read"),
        (["image", "reg.io/a/b:1", "--frobnicate"], "unrecognized"),
    ],
)
async def test_usage_errors_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await deckhand(*argv) == 2
    assert fragment in capsys.readouterr().err


async def test_docker_config_credentials(
    gitea_registry: GiteaRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("USERNAME", "TOKEN", "DOCKER_CONFIG"):
        monkeypatch.delenv(f"DECKHAND_REGISTRY_{name}", raising=False)
    ref = f"{gitea_registry.host}/admin/honeydue-api:237c6b9"
    assert await deckhand("image", ref) == 1  # anonymous: an auth problem
    assert "none are configured" in capsys.readouterr().err
    config = tmp_path / "config.json"
    auth = base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode()
    config.write_text(json.dumps({"auths": {gitea_registry.host: {"auth": auth}}}))
    assert await deckhand("image", ref, "--docker-config", str(config)) == 0
