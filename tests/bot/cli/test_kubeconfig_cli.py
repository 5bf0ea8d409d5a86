"""kubeconfig resolution as kubectl does it, through the real `deckhand` CLI as a subprocess
(`bot.kube.config`), the way a laptop or a pod runs it.

Covers: a HOME with only `~/.kube/config` (no KUBECONFIG, not in a pod) works;
KUBECONFIG naming two files is merged (the contexts in one, the cluster in the other;
the first `current-context` wins over a decoy in the second); DECKHAND_KUBECONFIG wins
over a broken KUBECONFIG; an environment's `kube_context` selects its own context in the
resolved kubeconfig (beside the current one, Deckhand's home); an unknown context is a
one-line error, no traceback. Plus the pure `resolve` / `merge_kubeconfigs` rules.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.kube.config import DEFAULT_KUBECONFIG, KubeSource, merge_kubeconfigs, resolve
from sandbox.env import SandboxEnv

DECKHAND = Path(sys.executable).with_name("deckhand")
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        yield env


def kubeconfig(server: str, *, name: str, current: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
    if current:
        doc["current-context"] = current
    return doc


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


async def deckhand(env: SandboxEnv, home: Path, *args: str, **environ: str) -> tuple[int, str]:
    """`deckhand ARGS` in a clean environment: HOME, the registry login, and `environ`."""
    variables = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "DECKHAND_REGISTRY_USERNAME": "admin",
        "DECKHAND_REGISTRY_TOKEN": env.token,
        **environ,
    }
    process = await asyncio.create_subprocess_exec(
        str(DECKHAND),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=variables,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_a_laptop_with_only_a_home_kubeconfig(env: SandboxEnv, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / DEFAULT_KUBECONFIG, yaml.safe_load(env.kubeconfig.read_text()))
    code, out = await deckhand(env, home, "status", "--config", str(env.config_path))
    assert code == 0, out
    assert "api (staging): api runs" in out


async def test_kubeconfig_lists_two_files_merged_first_wins(
    env: SandboxEnv, tmp_path: Path
) -> None:
    server = env.cluster.url
    contexts = write(
        tmp_path / "contexts.yaml",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
            "current-context": "lab",
        },
    )
    second = kubeconfig(server, name="lab", current="decoy")
    decoy = kubeconfig(NOWHERE, name="decoy")
    second["contexts"] += decoy["contexts"]
    second["clusters"] += decoy["clusters"]
    second["users"] += decoy["users"]
    clusters = write(tmp_path / "clusters.yaml", second)
    missing = tmp_path / "not-there.yaml"
    listed = os.pathsep.join(str(p) for p in (missing, contexts, clusters))
    code, out = await deckhand(
        env, tmp_path / "empty-home", "status", "--config", str(env.config_path), KUBECONFIG=listed
    )
    assert code == 0, out
    assert "api (staging): api runs" in out


async def test_deckhand_kubeconfig_wins_over_kubeconfig(env: SandboxEnv, tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.yaml", kubeconfig(NOWHERE, name="x", current="x"))
    code, out = await deckhand(
        env,
        tmp_path / "empty-home",
        "status",
        "--config",
        str(env.config_path),
        KUBECONFIG=str(broken),
        DECKHAND_KUBECONFIG=str(env.kubeconfig),
    )
    assert code == 0, out
    assert "api (staging): api runs" in out


async def test_each_environment_picks_its_kube_context(env: SandboxEnv, tmp_path: Path) -> None:
    # Deckhand's own cluster is the current context ("home"); staging has its own.
    both = kubeconfig(env.cluster.url, name="home", current="home")
    staging = kubeconfig(env.cluster.url, name="sandbox-staging")
    for key in ("clusters", "users", "contexts"):
        both[key] += staging[key]
    home = tmp_path / "home"
    write(home / DEFAULT_KUBECONFIG, both)
    config = env.config()
    config["environments"]["staging"]["kube_context"] = "sandbox-staging"
    config_path = write(tmp_path / "deckhand.yaml", config)

    code, out = await deckhand(
        env, home, "status", "--env", "staging", "--config", str(config_path)
    )
    assert code == 0, out
    assert "api (staging): api runs" in out

    config["environments"]["staging"]["kube_context"] = "no-such-context"
    write(config_path, config)
    code, out = await deckhand(
        env, home, "status", "--env", "staging", "--config", str(config_path)
    )
    assert code != 0
    assert "no-such-context" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("explicit", "listed", "in_cluster", "expected"),
    [
        (Path("/a"), "/b", True, KubeSource((Path("/a"),), "DECKHAND_KUBECONFIG")),
        (None, "/b:/missing:/c", True, KubeSource((Path("/b"), Path("/c")), "KUBECONFIG")),
        (None, "/missing", True, KubeSource()),  # nothing listed exists: falls through
        (None, "", True, KubeSource()),
        (None, None, False, KubeSource((Path("/home/me/.kube/config"),), "~/.kube/config")),
    ],
)
def test_resolve_follows_kubectls_order(
    explicit: Path | None, listed: str | None, in_cluster: bool, expected: KubeSource
) -> None:
    found = resolve(
        explicit=explicit,
        kubeconfig_env=listed,
        home=Path("/home/me"),
        in_cluster=in_cluster,
        exists=lambda p: p.name != "missing",
    )
    assert found == expected


def test_merge_keeps_the_first_of_each_name_and_resolves_relative_paths() -> None:
    first = {
        "clusters": [
            {"name": "a", "cluster": {"server": "https://1", "certificate-authority": "ca"}}
        ],
        "current-context": "a",
    }
    second = {
        "clusters": [
            {"name": "a", "cluster": {"server": "https://2"}},
            {"name": "b", "cluster": {}},
        ],
        "users": [{"name": "u", "user": {"client-key": "/abs/key", "client-certificate": "c"}}],
        "current-context": "b",
    }
    merged = merge_kubeconfigs([(Path("/one/config"), first), (Path("/two/config"), second)])
    assert [c["name"] for c in merged["clusters"]] == ["a", "b"]
    assert merged["clusters"][0]["cluster"] == {
        "server": "https://1",
        "certificate-authority": "/one/ca",
    }
    assert merged["users"][0]["user"] == {"client-key": "/abs/key", "client-certificate": "/two/c"}
    assert merged["current-context"] == "a"
