"""`deckhand sandbox cluster`: the front door that runs the sandbox cluster by hand.

Starts the command as a real process on a free port, waits for it to say where it
serves and where it wrote the kubeconfig, drives it with the real kubectl through
that kubeconfig, and stops it with Ctrl-C (SIGINT), which must exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.fixtures.cluster import run_kubectl

pytestmark = pytest.mark.kubectl


async def test_sandbox_cluster_command_serves_until_interrupted(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "cli" / "kubeconfig"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "cluster",
        "--listen",
        "127.0.0.1:0",
        "--kubeconfig",
        str(kubeconfig),
        "--speed",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        async with asyncio.timeout(20):
            while not lines or lines[-1] != "Ctrl-C stops it.":
                line = await process.stdout.readline()
                assert line, f"the command ended early: {lines}"
                lines.append(line.decode().rstrip("\n"))
        assert lines[0].startswith("sandbox cluster  http://127.0.0.1:")
        assert lines[0].endswith("(time ×5)")
        assert lines[1] == f"wrote {kubeconfig}"
        assert lines[2] == f"try:  export KUBECONFIG={kubeconfig}; kubectl get ns"

        namespaces = await run_kubectl(kubeconfig, "get", "ns", "-o", "name", check=True)
        assert namespaces.stdout.split() == [
            "namespace/default",
            "namespace/kube-public",
            "namespace/kube-system",
        ]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            await process.wait()
    assert process.returncode == 0
